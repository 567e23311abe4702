/**
 * `npm run bench`: runs the benchmark sections on 127.0.0.1 and writes
 * bench/results/<date>.json and .md, each figure with its baseline and their ratio.
 * See README.md, "Performance".
 */
import '../src/sfu/workerBin.js';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Agent, BENCH_ROOT } from './lib/agent.js';
import { startBareServer, type BareServer } from './lib/bareServer.js';
import { CHROMIUM_PATH } from './lib/browser.js';
import { startBenchGateway, type BenchGateway } from './lib/gateway.js';
import { JanusServer, janusUnavailable } from './lib/janus.js';
import { waitForQuiet } from './lib/load.js';
import { machineInfo } from './lib/machine.js';
import { parseOptions, type BenchOptions, type SectionName } from './lib/options.js';
import { buildPages } from './lib/pages.js';
import {
  describeLoad,
  figure,
  writeResults,
  type Figure,
  type ResultFile,
  type SectionResult,
} from './lib/results.js';
import type { Measured, Section, Services } from './lib/section.js';
import { densitySection } from './sections/density.js';
import { fanoutSection } from './sections/fanout.js';
import { joinSection } from './sections/join.js';
import { latencySection } from './sections/latency.js';
import { memorySection } from './sections/memory.js';
import { signallingSection } from './sections/signalling.js';
import { crossNodeSection } from './sections/crossNode.js';
import { failoverSection } from './sections/failover.js';
import { workerFanoutSection } from './sections/workerFanout.js';

const SECTIONS: Record<SectionName, Section> = {
  latency: latencySection,
  fanout: fanoutSection,
  density: densitySection,
  signalling: signallingSection,
  memory: memorySection,
  join: joinSection,
  crossnode: crossNodeSection,
  workers: workerFanoutSection,
  failover: failoverSection,
};

const log = (message: string) =>
  console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);

/** Runs the bench with the given options; returns the result and where it was written. */
export async function runBench(opts: BenchOptions): Promise<{
  result: ResultFile;
  files: { json: string; md: string; svg: string };
  busy: boolean;
}> {
  const started = new Date();
  const t0 = performance.now();
  log(`mode ${opts.mode}; sections ${opts.sections.join(', ')}`);
  const pagesDir = await buildPages();
  const gateway: BenchGateway = await startBenchGateway();
  const bare: BareServer = await startBareServer(pagesDir);
  let janus: JanusServer | null = null;
  let janusReason: string | null = opts.janus ? janusUnavailable() : 'disabled with --no-janus';
  if (!janusReason) {
    try {
      janus = await JanusServer.start();
      log(`janus ${janus.version} up (pid ${janus.pid})`);
    } catch (err) {
      janusReason = `Janus did not start: ${(err as Error).message}`;
    }
  }
  if (janusReason) log(`janus figures skipped: ${janusReason}`);

  const figures: Figure[] = [];
  const sections: Record<string, SectionResult> = {};
  let busy = false;
  try {
    for (const name of opts.sections) {
      const section = SECTIONS[name];
      // The bench's own processes are idle between sections: what runs now is someone else's.
      const ownPids = [
        process.pid,
        gateway.workerPid,
        bare.workerPid,
        ...(janus ? [janus.pid] : []),
      ];
      // With --allow-load there is nothing to wait for: the figures get flagged instead.
      const waitMs = opts.allowLoad ? 0 : opts.loadWaitS * 1000;
      const load = await waitForQuiet(
        ownPids,
        opts.maxLoad,
        waitMs,
        log,
        opts.mode === 'tiny' ? 500 : 2000,
      );
      const loaded = load.quiet ? undefined : describeLoad(load.sample);
      if (loaded && !opts.allowLoad) {
        busy = true;
        log(`${name} skipped: machine busy (${loaded}); --allow-load runs it anyway, flagged`);
        for (const spec of section.specs) {
          figures.push(
            figure(name, {
              ...spec,
              value: null,
              baseline: null,
              reason: `not measured: machine busy before the section (${loaded}, limit ${opts.maxLoad})`,
            }),
          );
        }
        sections[name] = { durationS: 0, load: load.sample, details: null };
        continue;
      }
      if (loaded) log(`${name} runs on a busy machine (${loaded}): its figures are flagged`);
      const agents: Agent[] = [];
      let sink: Promise<number> | null = null;
      const services: Services = {
        opts,
        log,
        gateway,
        bare,
        janus,
        janusReason,
        agent: async (agentName) => {
          const a = await Agent.start(agentName);
          agents.push(a);
          return a;
        },
        sinkPort: () =>
          (sink ??= (async () => {
            const a = await Agent.start('sink');
            agents.push(a);
            return (await a.call<{ port: number }>('open')).port;
          })()),
      };
      const s0 = performance.now();
      log(`— ${name}`);
      let values: Record<string, Measured> = {};
      let error: string | undefined;
      let details: unknown = null;
      try {
        const out = await section.run(services);
        values = out.values;
        details = out.details;
      } catch (err) {
        error = (err as Error).stack ?? String(err);
        log(`${name} failed: ${(err as Error).message}`);
      } finally {
        for (const a of agents) await a.stop();
      }
      for (const spec of section.specs) {
        const v = values[spec.id];
        figures.push(
          figure(name, {
            ...spec,
            value: v?.value ?? null,
            baseline: v?.baseline ?? null,
            note: v?.note,
            reason: v?.reason ?? (error ? `section failed: ${error.split('\n')[0]}` : undefined),
            notReached: v?.notReached,
            loaded,
          }),
        );
      }
      sections[name] = {
        durationS: Math.round((performance.now() - s0) / 100) / 10,
        load: load.sample,
        ...(error ? { error } : {}),
        details,
      };
    }
  } finally {
    await janus?.stop();
    await bare.close();
    await gateway.stop();
  }
  const result: ResultFile = {
    schema: 'telemed-bench/1',
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    durationS: Math.round((performance.now() - t0) / 100) / 10,
    mode: opts.mode,
    options: opts,
    machine: machineInfo(CHROMIUM_PATH),
    figures,
    sections,
  };
  const files = await writeResults(result, opts.outDir);
  return { result, files, busy };
}

const show = (v: number | null, unit: string, notReached?: number) =>
  notReached !== undefined ? `not reached at ${notReached}` : v === null ? '—' : `${v} ${unit}`;

function printTable(figures: Figure[]): void {
  const rows = figures.map((f) => [
    f.id,
    (f.loaded ? '⚠ ' : '') + show(f.value, f.unit, f.notReached?.value),
    `${f.baseline.label}: ${show(f.baseline.value, f.unit, f.notReached?.baseline)}`,
    f.ratio === null ? `— ${f.reason ?? ''}` : `×${f.ratio}`,
  ]);
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) console.log(r.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c)).join('  '));
}

async function main(): Promise<void> {
  let opts: BenchOptions;
  try {
    opts = parseOptions(process.argv.slice(2), BENCH_ROOT);
  } catch (err) {
    console.error((err as Error).message);
    process.exit(2);
  }
  if (
    !fs.existsSync(path.join(BENCH_ROOT, 'client', 'dist', 'index.html')) &&
    opts.sections.includes('join')
  ) {
    // The join test opens the gateway's real, built client.
    log('client/dist is missing: building it (npm run build:client)');
    const built = spawnSync('npm', ['run', 'build:client', '--silent'], {
      cwd: BENCH_ROOT,
      stdio: 'inherit',
    });
    if (built.status !== 0) process.exit(2);
  }
  const { result, files, busy } = await runBench(opts);
  console.log('');
  printTable(result.figures);
  console.log(
    `\nresults: ${[files.json, files.md, files.svg].map((f) => path.relative(process.cwd(), f)).join(', ')} (${result.durationS} s)`,
  );
  if (busy) {
    console.error(
      'some sections were not measured: the machine was busy (see their reasons). Re-run on a quiet machine, or pass --allow-load to measure and flag them.',
    );
    process.exit(3);
  }
  process.exit(0);
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  void main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
