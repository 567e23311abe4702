/**
 * Signalling: many Socket.IO clients (no media) each connect, join, create a send transport
 * (the intent to produce), leave and disconnect, at rising concurrency, against the gateway
 * and against the bare mediasoup server (same events, no auth, no validation, no rooms).
 */
import type { CycleReport } from '../agents/clients.js';
import { benchConsult } from '../lib/access.js';
import { cpuSeconds } from '../lib/proc.js';
import type { Measured, Section } from '../lib/section.js';
import { summarise } from '../lib/stats.js';

interface Level {
  concurrency: number;
  completed: number;
  failures: number;
  firstError: string | null;
  joinsPerSecond: number;
  /** Server CPU (the bench process, where the server runs, plus its media worker) per cycle, ms. */
  cpuPerCycleMs: number | null;
  connect: ReturnType<typeof summarise>;
  join: ReturnType<typeof summarise>;
  createTransport: ReturnType<typeof summarise>;
  leave: ReturnType<typeof summarise>;
}

function level(concurrency: number, r: CycleReport, cpuS: number): Level {
  return {
    cpuPerCycleMs: r.completed ? (cpuS * 1000) / r.completed : null,
    concurrency,
    completed: r.completed,
    failures: r.failures,
    firstError: r.firstError,
    joinsPerSecond: r.completed / (r.elapsedMs / 1000),
    connect: summarise(r.connectMs),
    join: summarise(r.joinMs),
    createTransport: summarise(r.createTransportMs),
    leave: summarise(r.leaveMs),
  };
}

const BARE = 'bare mediasoup + Socket.IO';

/** Each level's clients run in this many turns per system, the systems alternating. */
const TURNS = 4;

/** Runs fn and adds the CPU seconds the given processes used meanwhile to into[0]. */
async function metered<T>(pids: number[], into: number[], fn: () => Promise<T>): Promise<T> {
  const sum = () => pids.reduce((a, pid) => a + cpuSeconds(pid), 0);
  const before = sum();
  const out = await fn();
  into[0]! += sum() - before;
  return out;
}

function merge(into: CycleReport | null, r: CycleReport): CycleReport {
  if (!into) return { ...r };
  return {
    completed: into.completed + r.completed,
    failures: into.failures + r.failures,
    firstError: into.firstError ?? r.firstError,
    elapsedMs: into.elapsedMs + r.elapsedMs,
    connectMs: [...into.connectMs, ...r.connectMs],
    joinMs: [...into.joinMs, ...r.joinMs],
    createTransportMs: [...into.createTransportMs, ...r.createTransportMs],
    leaveMs: [...into.leaveMs, ...r.leaveMs],
  };
}

export const signallingSection: Section = {
  name: 'signalling',
  specs: [
    {
      id: 'join.p50',
      label: 'join ack at the highest concurrency, p50',
      unit: 'ms',
      better: 'lower',
      baselineLabel: BARE,
    },
    {
      id: 'join.p99',
      label: 'join ack at the highest concurrency, p99',
      unit: 'ms',
      better: 'lower',
      baselineLabel: BARE,
    },
    {
      id: 'createTransport.p50',
      label: 'createTransport ack at the highest concurrency, p50',
      unit: 'ms',
      better: 'lower',
      baselineLabel: BARE,
    },
    {
      id: 'createTransport.p99',
      label: 'createTransport ack at the highest concurrency, p99',
      unit: 'ms',
      better: 'lower',
      baselineLabel: BARE,
    },
    {
      id: 'cpuPerCycle',
      label: 'server CPU per join cycle at the highest concurrency (Node process + media worker)',
      unit: 'ms',
      better: 'lower',
      baselineLabel: BARE,
    },
    {
      id: 'joinsPerSecond',
      label:
        'join cycles per second at the best concurrency (connect, join, createTransport, leave)',
      unit: 'joins/s',
      better: 'higher',
      baselineLabel: BARE,
    },
  ],
  async run(s) {
    const { clients, concurrency, consultSize } = s.opts.signalling;
    const agent = await s.agent('clients');
    const results: Record<'gateway' | 'bare', Level[]> = { gateway: [], bare: [] };
    let round = 0;
    for (const c of concurrency) {
      round++;
      // The same client list shape for both systems: consults of consultSize participants.
      const consults = Math.ceil(clients / consultSize);
      const gatewayClients: { token: string; consultId: string }[] = [];
      const bareClients: { token: string; consultId: string }[] = [];
      for (let k = 0; k < consults; k++) {
        const id = `bench-sig-${round}-${k}`;
        for (const p of await benchConsult(s.gateway.gateway, id, consultSize - 1)) {
          gatewayClients.push({ token: p.token, consultId: id });
          bareClients.push({ token: 'none', consultId: id });
        }
      }
      gatewayClients.length = bareClients.length = clients;
      s.log(`signalling: ${clients} clients, concurrency ${c}, ${TURNS} alternating turns each`);
      // Interleaved: a slow spell of the machine hits both systems alike.
      let g: CycleReport | null = null;
      let b: CycleReport | null = null;
      const gCpu = [0];
      const bCpu = [0];
      const size = Math.ceil(clients / TURNS);
      for (let t = 0; t < TURNS; t++) {
        const slice = <T>(xs: T[]) => xs.slice(t * size, (t + 1) * size);
        if (!slice(gatewayClients).length) break;
        const runs = [
          async () =>
            (g = merge(
              g,
              await metered([process.pid, s.gateway.workerPid], gCpu, () =>
                agent.call<CycleReport>('cycle', {
                  url: s.gateway.url,
                  clients: slice(gatewayClients),
                  concurrency: c,
                }),
              ),
            )),
          async () =>
            (b = merge(
              b,
              await metered([process.pid, s.bare.workerPid], bCpu, () =>
                agent.call<CycleReport>('cycle', {
                  url: s.bare.url,
                  clients: slice(bareClients),
                  concurrency: c,
                }),
              ),
            )),
        ];
        if (t % 2) runs.reverse();
        for (const run of runs) await run();
      }
      results.gateway.push(level(c, g!, gCpu[0]!));
      results.bare.push(level(c, b!, bCpu[0]!));
      s.log(
        `signalling c=${c}: gateway ${results.gateway.at(-1)!.joinsPerSecond.toFixed(0)} joins/s ` +
          `(${g!.failures} failed${g!.firstError ? `: ${g!.firstError}` : ''}), bare ${results.bare.at(-1)!.joinsPerSecond.toFixed(0)} joins/s; ` +
          `server CPU per cycle: gateway ${results.gateway.at(-1)!.cpuPerCycleMs?.toFixed(2)} ms, bare ${results.bare.at(-1)!.cpuPerCycleMs?.toFixed(2)} ms`,
      );
    }
    const top = (xs: Level[]) => xs[xs.length - 1]!;
    const best = (xs: Level[]) => Math.max(...xs.map((x) => x.joinsPerSecond));
    const g = top(results.gateway);
    const b = top(results.bare);
    const failed = results.gateway.reduce((a, x) => a + x.failures, 0);
    const note =
      `concurrency ${g.concurrency}; ${clients} clients per level` +
      (failed
        ? `; ${failed} gateway cycles failed (${results.gateway.find((x) => x.firstError)?.firstError})`
        : '');
    const unloaded = results.gateway[0]!;
    const values: Record<string, Measured> = {
      'join.p50': {
        value: g.join.p50,
        baseline: b.join.p50,
        note: `${note}; unloaded (concurrency ${unloaded.concurrency}) p50 ${unloaded.join.p50?.toFixed(2)} ms`,
      },
      'join.p99': { value: g.join.p99, baseline: b.join.p99, reason: g.join.p99Reason },
      'createTransport.p50': { value: g.createTransport.p50, baseline: b.createTransport.p50 },
      'createTransport.p99': {
        value: g.createTransport.p99,
        baseline: b.createTransport.p99,
        reason: g.createTransport.p99Reason,
      },
      cpuPerCycle: {
        value: g.cpuPerCycleMs,
        baseline: b.cpuPerCycleMs,
        note: 'the bench process hosts both servers and runs nothing else meanwhile',
      },
      joinsPerSecond: {
        value: best(results.gateway),
        baseline: best(results.bare),
        note: `levels: ${concurrency.join(', ')}`,
      },
    };
    return { values, details: results };
  },
};
