/**
 * Signalling: many Socket.IO clients (no media) each connect, join, create a send transport
 * (the intent to produce), leave and disconnect, at rising concurrency, against the gateway
 * and against the bare mediasoup server (same events, no auth, no validation, no rooms).
 */
import type { CycleReport } from '../agents/clients.js';
import { benchConsult } from '../lib/access.js';
import type { Measured, Section } from '../lib/section.js';
import { summarise } from '../lib/stats.js';

interface Level {
  concurrency: number;
  completed: number;
  failures: number;
  firstError: string | null;
  joinsPerSecond: number;
  connect: ReturnType<typeof summarise>;
  join: ReturnType<typeof summarise>;
  createTransport: ReturnType<typeof summarise>;
  leave: ReturnType<typeof summarise>;
}

function level(concurrency: number, r: CycleReport): Level {
  return {
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
      s.log(`signalling: ${clients} clients, concurrency ${c}`);
      const g = await agent.call<CycleReport>('cycle', {
        url: s.gateway.url,
        clients: gatewayClients,
        concurrency: c,
      });
      results.gateway.push(level(c, g));
      const b = await agent.call<CycleReport>('cycle', {
        url: s.bare.url,
        clients: bareClients,
        concurrency: c,
      });
      results.bare.push(level(c, b));
      s.log(
        `signalling c=${c}: gateway ${results.gateway.at(-1)!.joinsPerSecond.toFixed(0)} joins/s ` +
          `(${g.failures} failed${g.firstError ? `: ${g.firstError}` : ''}), bare ${results.bare.at(-1)!.joinsPerSecond.toFixed(0)} joins/s`,
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
      'join.p99': { value: g.join.p99, baseline: b.join.p99 },
      'createTransport.p50': { value: g.createTransport.p50, baseline: b.createTransport.p50 },
      'createTransport.p99': { value: g.createTransport.p99, baseline: b.createTransport.p99 },
      joinsPerSecond: {
        value: best(results.gateway),
        baseline: best(results.bare),
        note: `levels: ${concurrency.join(', ')}`,
      },
    };
    return { values, details: results };
  },
};
