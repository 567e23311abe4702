/**
 * Added forwarding latency: opus-sized RTP packets carrying their send time go into a
 * PlainTransport producer on the gateway's worker and come out of PlainTransport consumers;
 * the same packets go through a plain Node UDP relay and straight over loopback (the floor),
 * and, when available, through Janus (remote publisher → RTP forwarders).
 */
import type { RunReport } from '../agents/traffic.js';
import { JanusApi } from '../lib/janus.js';
import type { Section } from '../lib/section.js';
import { JanusRoom, plainEgress, plainIngest } from '../lib/sfu.js';
import { summarise, type Summary } from '../lib/stats.js';

const SSRC = 0x1234;

export const latencySection: Section = {
  name: 'latency',
  specs: [
    {
      id: 'sfu.p50',
      label: 'one-way delay through the gateway worker, p50',
      unit: 'µs',
      better: 'lower',
      baselineLabel: 'plain Node UDP relay',
    },
    {
      id: 'sfu.p99',
      label: 'one-way delay through the gateway worker, p99',
      unit: 'µs',
      better: 'lower',
      baselineLabel: 'plain Node UDP relay',
    },
    {
      id: 'floor.p50',
      label: 'one-way delay through the gateway worker, p50',
      unit: 'µs',
      better: 'lower',
      baselineLabel: 'direct loopback (floor)',
    },
    {
      id: 'floor.p99',
      label: 'one-way delay through the gateway worker, p99',
      unit: 'µs',
      better: 'lower',
      baselineLabel: 'direct loopback (floor)',
    },
    {
      id: 'janus.p50',
      label: 'one-way delay, ours vs Janus, p50',
      unit: 'µs',
      better: 'lower',
      baselineLabel: 'Janus VideoRoom forwarder',
    },
    {
      id: 'janus.p99',
      label: 'one-way delay, ours vs Janus, p99',
      unit: 'µs',
      better: 'lower',
      baselineLabel: 'Janus VideoRoom forwarder',
    },
  ],
  async run(s) {
    const { packets, rateHz, consumers } = s.opts.latency;
    const traffic = await s.agent('traffic');
    const { ports } = await traffic.call<{ ports: number[] }>('openReceivers', {
      count: consumers,
      latency: true,
    });
    const measureMs = Math.ceil((packets / rateHz) * 1000);
    const path = async (port: number, ssrc = SSRC): Promise<Summary & { lost: number }> => {
      const r = await traffic.call<RunReport>('run', {
        streams: [{ port, kind: 'audio', ssrc, framesPerSecond: rateHz }],
        warmupMs: 300,
        measureMs,
        sendTime: true,
      });
      const expected = r.receivers.reduce((a, x) => a + x.expected, 0);
      const received = r.receivers.reduce((a, x) => a + x.received, 0);
      return { ...summarise(r.delaysUs), lost: expected - received };
    };

    // The gateway's worker: a consult room's router, plain RTP in and out.
    const room = await s.gateway.gateway.rooms.getOrCreate('bench-latency');
    const ingest = await plainIngest(room.router, [{ kind: 'audio', ssrc: SSRC }]);
    const egress = [];
    for (const port of ports)
      egress.push(await plainEgress(room.router, [ingest.producers[0]!.id], port, false));
    s.log(`latency: gateway worker, ${consumers} consumer(s), ${packets} packets`);
    const sfu = await path(ingest.port);
    for (const t of egress) t.close();
    ingest.transport.close();
    room.close('consult_ended');

    s.log('latency: plain Node UDP relay');
    const relay = await s.agent('relay');
    const { port: relayPort } = await relay.call<{ port: number }>('start', { targets: ports });
    const node = await path(relayPort);
    await relay.call('stop');

    s.log('latency: direct loopback');
    const floor = await path(ports[0]!);

    let janus: (Summary & { lost: number }) | null = null;
    let janusReason = s.janusReason;
    if (s.janus) {
      s.log('latency: Janus remote publisher → forwarders');
      const api = await JanusApi.open(s.janus.httpUrl);
      const jroom = await JanusRoom.create(api);
      try {
        const pub = await jroom.addPublisher(1, ['audio']);
        for (const port of ports) await jroom.forward(1, '0', port, false);
        janus = await path(pub.port, pub.ssrcs[0]);
      } catch (err) {
        janusReason = `Janus run failed: ${(err as Error).message}`;
      } finally {
        await jroom.destroy();
        await api.close();
      }
    }

    const v = (x: number | null | undefined) => (x === undefined ? null : x);
    const added = sfu.p50 !== null && floor.p50 !== null ? sfu.p50 - floor.p50 : null;
    const note = `${packets} packets at ${rateHz}/s to ${consumers} consumer(s); added over the floor at p50: ${added === null ? '—' : Math.round(added)} µs`;
    return {
      values: {
        'sfu.p50': { value: sfu.p50, baseline: node.p50, note },
        'sfu.p99': { value: sfu.p99, baseline: node.p99, reason: sfu.p99Reason },
        'floor.p50': { value: sfu.p50, baseline: floor.p50 },
        'floor.p99': { value: sfu.p99, baseline: floor.p99, reason: sfu.p99Reason },
        'janus.p50': {
          value: sfu.p50,
          baseline: v(janus?.p50),
          reason: janus ? undefined : (janusReason ?? undefined),
        },
        'janus.p99': {
          value: sfu.p99,
          baseline: v(janus?.p99),
          reason: janus ? sfu.p99Reason : (janusReason ?? undefined),
        },
      },
      details: {
        unit: 'µs',
        gatewayWorker: sfu,
        nodeRelay: node,
        directLoopback: floor,
        janus,
        janusReason,
      },
    };
  },
};
