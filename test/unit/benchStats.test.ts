/**
 * The bench's statistics: quantiles that never pass off the maximum as a p95, the spread,
 * the limit search (growth, then bisection), and limits that were never reached reported
 * as such, never as a ratio.
 */
import { describe, expect, it } from 'vitest';
import { ticks } from '../../bench/lib/plot.js';
import { figure } from '../../bench/lib/results.js';
import { findLimit, minSamplesFor, quantile, summarise } from '../../bench/lib/stats.js';

const seq = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe('quantiles', () => {
  it('are nearest-rank values of the samples, in any order', () => {
    expect(quantile([5, 1, 4, 2, 3], 0.5)).toBe(3);
    expect(quantile(seq(100), 0.95)).toBe(95);
    expect(quantile(seq(100), 0.25)).toBe(25);
    expect(quantile([], 0.5)).toBeNull();
  });

  it('give the median with its interquartile range', () => {
    const s = summarise([10, 20, 30, 40, 50, 60, 70, 80]);
    expect(s).toMatchObject({ n: 8, p50: 40, q1: 20, q3: 60, iqr: 40, max: 80 });
  });

  it('report no p95 below 20 samples, where it would be the maximum, and say why', () => {
    expect(minSamplesFor(0.95)).toBe(20);
    expect(minSamplesFor(0.99)).toBe(100);
    // With 19 samples the nearest-rank "p95" is the slowest sample.
    expect(quantile(seq(19), 0.95)).toBe(19);
    const small = summarise(seq(19));
    expect(small.p95).toBeNull();
    expect(small.p95Reason).toBe('n too small (19 < 20)');
    const enough = summarise(seq(20));
    expect(enough.p95).toBe(19);
    expect(enough.p95).not.toBe(enough.max);
    expect(enough.p95Reason).toBeUndefined();
    expect(enough.p99).toBeNull();
  });
});

describe('findLimit', () => {
  /** A system that carries up to `limit`, recording what was probed. */
  const system = (limit: number) => {
    const probed: number[] = [];
    return {
      probed,
      probe: async (n: number) => {
        probed.push(n);
        return { pass: n <= limit, result: n };
      },
    };
  };

  it('brackets the limit by doubling, then bisects it to the resolution', async () => {
    const sys = system(537);
    const r = await findLimit({ start: 50, max: 3200, factor: 2, resolution: 0.05 }, sys.probe);
    expect(sys.probed.slice(0, 6)).toEqual([50, 100, 200, 400, 800, 600]);
    expect(r.reached).toBe(true);
    expect(r.limit).toBeLessThanOrEqual(537);
    expect(r.failedAt).toBeGreaterThan(537);
    expect(r.failedAt! - r.limit).toBeLessThanOrEqual(r.limit * 0.05);
    expect(new Set(sys.probed).size).toBe(sys.probed.length);
    expect(r.probes.map((p) => p.n)).toEqual(sys.probed);
  });

  it('finds an exact limit when the resolution allows', async () => {
    const sys = system(13);
    const r = await findLimit({ start: 4, max: 64, factor: 2, resolution: 0 }, sys.probe);
    expect(r).toMatchObject({ limit: 13, failedAt: 14, reached: true });
  });

  it('searches below the first probe when that already fails', async () => {
    const r = await findLimit({ start: 50, max: 400, factor: 2, resolution: 0 }, system(7).probe);
    expect(r).toMatchObject({ limit: 7, failedAt: 8, reached: true });
  });

  it('says "not reached" when every probe up to the maximum passes', async () => {
    const sys = system(10_000);
    const r = await findLimit({ start: 50, max: 300, factor: 2, resolution: 0.05 }, sys.probe);
    expect(sys.probed).toEqual([50, 100, 200, 300]);
    expect(r).toMatchObject({ limit: 300, failedAt: null, reached: false, stopped: false });
  });

  it('stops when told (a time budget), keeping what it found', async () => {
    const sys = system(10_000);
    const r = await findLimit(
      { start: 10, max: 1000, factor: 2, resolution: 0.05 },
      sys.probe,
      () => sys.probed.length >= 2,
    );
    expect(sys.probed).toEqual([10, 20]);
    expect(r).toMatchObject({ limit: 20, reached: false, stopped: true });
  });

  it('ends on a halting probe without counting it as a failure ("not reached", not a limit)', async () => {
    // The load generator saturates at 150: the system under test never failed.
    const probed: number[] = [];
    const r = await findLimit({ start: 50, max: 800, factor: 2, resolution: 0.05 }, async (n) => {
      probed.push(n);
      return { pass: true, result: n, halt: n > 150 };
    });
    expect(probed).toEqual([50, 100, 200]);
    expect(r).toMatchObject({ limit: 100, failedAt: null, reached: false, haltedAt: 200 });
    expect(r.probes.map((p) => p.pass)).toEqual([true, true, false]);
  });

  it('keeps a limit found before a halting probe in the bisection', async () => {
    const probed: number[] = [];
    const r = await findLimit({ start: 50, max: 800, factor: 2, resolution: 0 }, async (n) => {
      probed.push(n);
      return { pass: n <= 130, result: n, halt: n === 150 };
    });
    expect(probed).toEqual([50, 100, 200, 150]);
    expect(r).toMatchObject({ limit: 100, failedAt: 200, reached: true, haltedAt: 150 });
  });
});

describe('a limit figure', () => {
  const spec = {
    id: 'maxN',
    label: 'fan-out',
    unit: 'consumers',
    better: 'higher' as const,
    baselineLabel: 'Janus',
  };

  it('that was not reached has no value and no ratio, and says where it stopped', () => {
    const f = figure('fanout', { ...spec, value: 4, baseline: 600, notReached: { value: 4 } });
    expect(f.value).toBeNull();
    expect(f.baseline.value).toBe(600);
    expect(f.ratio).toBeNull();
    expect(f.notReached).toEqual({ value: 4 });
    expect(f.reason).toBe('limit not reached at 4');
  });

  it('whose baseline was not reached has no ratio either', () => {
    const f = figure('fanout', {
      ...spec,
      value: 500,
      baseline: 3200,
      notReached: { baseline: 3200 },
    });
    expect(f.value).toBe(500);
    expect(f.ratio).toBeNull();
    expect(f.reason).toBe('Janus: limit not reached at 3200');
  });

  it('with both limits measured has their ratio', () => {
    const f = figure('fanout', { ...spec, value: 500, baseline: 1000, notReached: {} });
    expect(f.ratio).toBe(0.5);
    expect(f.notReached).toBeUndefined();
  });
});

describe('plot axes', () => {
  it('use round ticks that cover the data', () => {
    expect(ticks(370)).toEqual([0, 100, 200, 300, 400]);
    expect(ticks(0.9, 3)).toEqual([0, 0.5, 1]);
  });
});
