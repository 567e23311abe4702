/**
 * Runs the benchmark suite at its smallest sizes (`--tiny`) as `npm run bench` runs it and
 * checks that the result files are complete and well-formed. It asserts no timing: the
 * figures of a busy test machine mean nothing, their presence and shape do.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SECTIONS } from '../../bench/lib/options.js';
import type { ResultFile } from '../../bench/lib/results.js';
import { densitySection } from '../../bench/sections/density.js';
import { fanoutSection } from '../../bench/sections/fanout.js';
import { joinSection } from '../../bench/sections/join.js';
import { latencySection } from '../../bench/sections/latency.js';
import { memorySection } from '../../bench/sections/memory.js';
import { signallingSection } from '../../bench/sections/signalling.js';
import { crossNodeSection } from '../../bench/sections/crossNode.js';
import { failoverSection } from '../../bench/sections/failover.js';
import { workerFanoutSection } from '../../bench/sections/workerFanout.js';

const root = path.resolve(import.meta.dirname, '../..');
const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-test-'));
const specs = [
  latencySection,
  fanoutSection,
  densitySection,
  signallingSection,
  memorySection,
  joinSection,
  crossNodeSection,
  failoverSection,
  workerFanoutSection,
];

afterAll(() => fs.rmSync(outDir, { recursive: true, force: true }));

function runBench(): Promise<{ code: number | null; output: string }> {
  // What `npm run bench` runs, with the smallest sizes and a private result directory.
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const [cmd, ...args] = (pkg.scripts.bench as string).split(' ');
  // --allow-load: a test machine is busy by nature; its figures come out flagged instead.
  // In a process group of its own: a timeout kills the bench with its Janus and redis-server.
  const child = spawn(cmd!, [...args, '--tiny', '--allow-load', '--out', outDir], {
    cwd: root,
    detached: true,
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 200_000);
  return new Promise((resolve) =>
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    }),
  );
}

describe('npm run bench --tiny', () => {
  it('writes a complete result file: every figure with its baseline, ratio and the machine', async () => {
    const { code, output } = await runBench();
    expect(code, output.slice(-3000)).toBe(0);

    const files = fs.readdirSync(outDir);
    const json = files.find((f) => f.endsWith('.json'));
    expect(json, files.join(', ')).toBeDefined();
    expect(files).toContain(json!.replace(/\.json$/, '.md'));
    expect(files).toContain(json!.replace(/\.json$/, '.svg'));
    const svg = fs.readFileSync(path.join(outDir, json!.replace(/\.json$/, '.svg')), 'utf8');
    expect(svg).toMatch(/^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(svg).toContain('Join time');
    const result = JSON.parse(fs.readFileSync(path.join(outDir, json!), 'utf8')) as ResultFile;

    expect(result.schema).toBe('telemed-bench/1');
    expect(result.mode).toBe('tiny');
    expect(result.machine).toMatchObject({
      cores: expect.any(Number),
      cpuModel: expect.any(String),
      node: process.version,
      mediasoup: expect.stringMatching(/^\d+\.\d+\.\d+$/),
    });
    expect(Object.keys(result.sections).sort()).toEqual([...SECTIONS].sort());
    for (const [name, section] of Object.entries(result.sections)) {
      // Every section records the load it started under.
      expect(section.load?.otherCores, name).toEqual(expect.any(Number));
    }

    const expectedIds = specs.flatMap((s) => s.specs.map((f) => `${s.name}.${f.id}`)).sort();
    expect(result.figures.map((f) => f.id).sort()).toEqual(expectedIds);
    for (const f of result.figures) {
      expect(f, f.id).toMatchObject({
        label: expect.any(String),
        unit: expect.any(String),
        better: expect.stringMatching(/^(lower|higher)$/),
        baseline: { label: expect.any(String) },
      });
      for (const v of [f.value, f.baseline.value, f.ratio]) {
        expect(v === null || Number.isFinite(v), f.id).toBe(true);
      }
      if (f.notReached) {
        // A limit never reached is no figure to divide.
        expect(f.ratio, f.id).toBeNull();
        expect(f.reason, f.id).toMatch(/not reached at \d+/);
      }
      if (f.value === null || f.baseline.value === null) {
        // A missing figure always says why.
        expect(f.reason, f.id).toMatch(/\S/);
        expect(f.ratio, f.id).toBeNull();
      } else if (f.baseline.value !== 0) {
        expect(f.ratio, f.id).toBeCloseTo(f.value / f.baseline.value, 1);
      }
    }
    // The gateway's own figures are measured even at the smallest sizes.
    for (const id of [
      'latency.sfu.p50',
      'signalling.joinsPerSecond',
      'join.p50',
      'crossnode.added.p50',
    ]) {
      expect(result.figures.find((f) => f.id === id)?.value, id).not.toBeNull();
    }
    // The smallest limit searches probe one load: it passes ("not reached at" it, never a
    // ratio) or, on a starved machine, fails (a limit of 0).
    for (const [id, load] of [
      ['fanout.video.maxN', 4],
      ['density.maxK', 1],
    ] as const) {
      const f = result.figures.find((x) => x.id === id)!;
      expect(f.notReached?.value === load || f.value === 0, JSON.stringify(f)).toBe(true);
    }
    // Nothing says p95 of one join: the tail needs 20.
    expect(result.figures.find((f) => f.id === 'join.p95')).toMatchObject({
      value: null,
      reason: expect.stringMatching(/n too small/),
    });

    const md = fs.readFileSync(path.join(outDir, json!.replace(/\.json$/, '.md')), 'utf8');
    for (const section of SECTIONS) expect(md).toContain(`## ${section}`);
    expect(md).toContain(result.machine.cpuModel);
  }, 210_000);
});
