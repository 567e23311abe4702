/**
 * Cross-node forwarding delay (issue 14, item 7): opus-sized RTP carrying its send time goes
 * into a PlainTransport producer on node A's router. Each packet leaves A twice, in the same
 * run: to a PlainTransport consumer on A (one node), and through A's PipeBridge (SRTP pipe
 * negotiated over Redis, as in production) to node B's router and a PlainTransport consumer
 * there. Two receiving agents read the two paths at once, on the machine's one monotonic
 * clock; the added delay is the cross-node path's minus the one-node path's.
 */
import type { RunReport } from '../agents/traffic.js';
import type { Agent } from '../lib/agent.js';
import type { Section } from '../lib/section.js';
import { startBenchRedis } from '../lib/redis.js';
import { summarise } from '../lib/stats.js';

const SSRC = 0x4321;
const CONSULT = 'bench-crossnode';
/** Issue 14's figure: cross-node added forwarding delay p50 ≤ 1 ms on loopback. */
export const ADDED_P50_TARGET_US = 1000;

const TWO = 'consult split across two nodes (A → SRTP pipe → B), same packets';
const ONE = 'one node (A only)';

export const crossNodeSection: Section = {
  name: 'crossnode',
  specs: [
    {
      id: 'p50',
      label: `one-way delay, p50: ${TWO}`,
      unit: 'µs',
      better: 'lower',
      baselineLabel: ONE,
    },
    {
      id: 'p95',
      label: `one-way delay, p95: ${TWO}`,
      unit: 'µs',
      better: 'lower',
      baselineLabel: ONE,
    },
    {
      id: 'added.p50',
      label: 'cross-node added forwarding delay, p50 (two nodes minus one node)',
      unit: 'µs',
      better: 'lower',
      baselineLabel: 'issue 14 target: ≤ 1 ms on loopback',
    },
    {
      id: 'added.p95',
      label: 'cross-node added forwarding delay, p95 (two nodes minus one node)',
      unit: 'µs',
      better: 'lower',
      baselineLabel: 'issue 14 target for p50: ≤ 1 ms on loopback',
    },
  ],
  async run(s) {
    const { packets, rateHz } = s.opts.crossnode;
    const redis = await startBenchRedis();
    const nodes: Agent[] = [];
    try {
      s.log('crossnode: starting nodes a and b (separate processes, one Redis)');
      const [a, b] = await Promise.all([s.agent('clusterNode'), s.agent('clusterNode')]);
      nodes.push(a, b);
      // Ten pipe ports per node, away from other runs' (a taken port is skipped by the bridge).
      const base = 42000 + Math.floor(Math.random() * 80) * 10;
      await Promise.all([
        a.call('start', { nodeId: 'bench-a', redisUrl: redis.url, pipePorts: [base, base + 9] }),
        b.call('start', {
          nodeId: 'bench-b',
          redisUrl: redis.url,
          pipePorts: [base + 800, base + 809],
        }),
      ]);
      const sender = await s.agent('traffic');
      const remote = await s.agent('traffic');
      const open = async (agent: Agent) =>
        (await agent.call<{ ports: number[] }>('openReceivers', { count: 1, latency: true }))
          .ports[0]!;
      const [localPort, remotePort] = [await open(sender), await open(remote)];

      const { producerId, port } = await a.call<{ producerId: string; port: number }>('produce', {
        consultId: CONSULT,
        ssrc: SSRC,
      });
      await a.call('consumeLocal', { consultId: CONSULT, producerId, port: localPort });
      await b.call('consumeRemote', {
        consultId: CONSULT,
        node: 'bench-a',
        producerId,
        port: remotePort,
      });
      const pipes = await b.call<{ links: number; srtpLinks: number; incoming: number }>('pipes');
      if (pipes.srtpLinks !== 1 || pipes.incoming !== 1) {
        throw new Error(`expected one SRTP pipe into b, saw ${JSON.stringify(pipes)}`);
      }

      const measureMs = Math.ceil((packets / rateHz) * 1000);
      s.log(`crossnode: ${packets} packets at ${rateHz}/s, both paths at once`);
      // The receiving agent sends nothing; its window opens with the sender's.
      const [one, two] = await Promise.all([
        sender.call<RunReport>('run', {
          streams: [{ port, kind: 'audio', ssrc: SSRC, framesPerSecond: rateHz }],
          warmupMs: 300,
          measureMs,
          sendTime: true,
        }),
        remote.call<RunReport>('run', { streams: [], warmupMs: 300, measureMs }),
      ]);
      const local = summarise(one.delaysUs);
      const cross = summarise(two.delaysUs);
      const lost = (r: RunReport) =>
        r.receivers.reduce((x, y) => x + Math.max(0, y.expected - y.received), 0);
      const diff = (x: number | null, y: number | null) =>
        x !== null && y !== null ? x - y : null;
      const added50 = diff(cross.p50, local.p50);
      const added95 = diff(cross.p95, local.p95);
      const verdict =
        added50 === null
          ? 'no samples'
          : added50 <= ADDED_P50_TARGET_US
            ? `meets the ≤ ${ADDED_P50_TARGET_US} µs target`
            : `misses the ≤ ${ADDED_P50_TARGET_US} µs target`;
      const note = `${packets} packets at ${rateHz}/s; received ${local.n} on one node, ${cross.n} across (lost ${lost(one)} / ${lost(two)}); ${verdict}`;
      return {
        values: {
          p50: { value: cross.p50, baseline: local.p50, note },
          p95: {
            value: cross.p95,
            baseline: local.p95,
            reason: cross.p95Reason ?? local.p95Reason,
          },
          'added.p50': { value: added50, baseline: ADDED_P50_TARGET_US, note: verdict },
          'added.p95': {
            value: added95,
            baseline: ADDED_P50_TARGET_US,
            reason: added95 === null ? (cross.p95Reason ?? local.p95Reason) : undefined,
          },
        },
        details: {
          unit: 'µs',
          oneNode: local,
          twoNodes: cross,
          added: { p50: added50, p95: added95 },
          pipes,
          note: 'nodes are separate processes (Node + mediasoup worker each) on one machine, one Redis; the pipe is SRTP (AEAD_AES_256_GCM) over loopback',
        },
      };
    } finally {
      // The nodes leave the cluster while Redis is still there to hear it.
      await Promise.all(nodes.map((n) => n.call('stop').catch(() => undefined)));
      await redis.stop();
    }
  },
};
