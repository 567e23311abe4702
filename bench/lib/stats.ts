/** Small statistics helpers for the bench: quantiles, spread, and finding a limit by bisection. */

/** The q-quantile (0..1) of the samples by nearest rank; null for no samples. */
export function quantile(samples: readonly number[], q: number): number | null {
  if (samples.length === 0) return null;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

/**
 * Fewest samples for which a nearest-rank quantile q is not the maximum: below it the
 * "p95" of n samples is just the slowest one, so it is not reported.
 */
export const minSamplesFor = (q: number) => Math.ceil(1 / (1 - q) - 1e-9);

export interface Summary {
  n: number;
  p50: number | null;
  /** First and third quartiles, and their distance (the interquartile range). */
  q1: number | null;
  q3: number | null;
  iqr: number | null;
  /** The true 95th percentile, or null when n is too small for one (see p95Reason). */
  p95: number | null;
  p95Reason?: string;
  p99: number | null;
  p99Reason?: string;
  max: number | null;
  mean: number | null;
}

/** A quantile only when n allows one that is not the maximum, else null with the reason. */
function tail(samples: readonly number[], q: number): { value: number | null; reason?: string } {
  const need = minSamplesFor(q);
  if (samples.length < need) {
    return { value: null, reason: `n too small (${samples.length} < ${need})` };
  }
  return { value: quantile(samples, q) };
}

export function summarise(samples: readonly number[]): Summary {
  const q1 = quantile(samples, 0.25);
  const q3 = quantile(samples, 0.75);
  const p95 = tail(samples, 0.95);
  const p99 = tail(samples, 0.99);
  return {
    n: samples.length,
    p50: quantile(samples, 0.5),
    q1,
    q3,
    iqr: q1 !== null && q3 !== null ? q3 - q1 : null,
    p95: p95.value,
    ...(p95.reason ? { p95Reason: p95.reason } : {}),
    p99: p99.value,
    ...(p99.reason ? { p99Reason: p99.reason } : {}),
    max: samples.length ? Math.max(...samples) : null,
    mean: samples.length ? samples.reduce((a, b) => a + b, 0) / samples.length : null,
  };
}

/** Rounds to a sensible number of significant digits for reports. */
export function round(value: number | null, digits = 3): number | null {
  if (value === null || !Number.isFinite(value)) return null;
  if (value === 0) return 0;
  const magnitude = Math.floor(Math.log10(Math.abs(value)));
  const factor = 10 ** Math.max(0, digits - 1 - magnitude);
  return Math.round(value * factor) / factor;
}

export interface LimitSearch {
  /** First load probed. */
  start: number;
  /** Largest load probed: a series that passes here stops with "not reached". */
  max: number;
  /** Growth factor while every probe passes (> 1). */
  factor: number;
  /** Stop bisecting once the first failing load is within this fraction of the last passing one. */
  resolution: number;
}

export interface LimitResult<P> {
  /** Largest load that passed, 0 when even the first failed. */
  limit: number;
  /** Smallest load that failed; null when none did (the limit was not reached). */
  failedAt: number | null;
  /** True when some probe failed, so `limit` is a measured limit and not a lower bound. */
  reached: boolean;
  /** Every probe in the order run. */
  probes: { n: number; pass: boolean; result: P }[];
  /** True when `stop` or a halting probe ended the search early. */
  stopped: boolean;
  /** The probe that halted the search (the system under test was not what limited it), if any. */
  haltedAt: number | null;
}

/**
 * Finds the largest load that passes: grows geometrically from `start` until a probe fails
 * (or `max` passes), then bisects between the last pass and the first failure. Probes are
 * integers and never repeated. `stop` (checked before every probe after the first) ends the
 * search early, e.g. on a time budget. A probe that returns `halt` (its outcome says nothing
 * about the system under test, e.g. the load generator ran out of CPU) is recorded as
 * neither pass nor failure and ends the search.
 */
export async function findLimit<P>(
  cfg: LimitSearch,
  probe: (n: number) => Promise<{ pass: boolean; result: P; halt?: boolean }>,
  stop: () => boolean = () => false,
): Promise<LimitResult<P>> {
  const probes: LimitResult<P>['probes'] = [];
  let stopped = false;
  let haltedAt: number | null = null;
  /** The probe's verdict, or null when it halted the search. */
  const run = async (n: number): Promise<boolean | null> => {
    const { halt, ...r } = await probe(n);
    if (halt) {
      probes.push({ n, pass: false, result: r.result });
      haltedAt = n;
      stopped = true;
      return null;
    }
    probes.push({ n, ...r });
    return r.pass;
  };
  const halt = () => (stopped = probes.length > 0 && stop());
  let lo = 0;
  let hi: number | null = null;
  for (let n = Math.max(1, Math.round(cfg.start)); ;) {
    if (halt()) break;
    const pass = await run(n);
    if (pass === null) break;
    if (pass) lo = n;
    else {
      hi = n;
      break;
    }
    if (n >= cfg.max) break;
    n = Math.min(cfg.max, Math.max(n + 1, Math.round(n * cfg.factor)));
  }
  while (haltedAt === null && hi !== null && hi - lo > 1 && hi - lo > lo * cfg.resolution) {
    if (halt()) break;
    const mid = Math.floor((lo + hi) / 2);
    const pass = await run(mid);
    if (pass === null) break;
    if (pass) lo = mid;
    else hi = mid;
  }
  return { limit: lo, failedAt: hi, reached: hi !== null, probes, stopped, haltedAt };
}
