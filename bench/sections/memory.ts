/**
 * Memory: RSS of the Node process and of the media worker per connected participant. Each
 * participant joins, opens send and receive transports, produces mic and simulcast camera
 * and consumes everyone else in its 3-party consult (no media flows). Same participants on
 * the bare mediasoup server for the baseline.
 */
import { benchConsult } from '../lib/access.js';
import { rssMiB } from '../lib/proc.js';
import type { Section } from '../lib/section.js';

const settle = () => new Promise((r) => setTimeout(r, 1000));

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

const BARE = 'bare mediasoup + Socket.IO';

export const memorySection: Section = {
  name: 'memory',
  specs: [
    {
      id: 'nodePerParticipant',
      label: 'Node process RSS per connected participant',
      unit: 'KiB',
      better: 'lower',
      baselineLabel: BARE,
    },
    {
      id: 'workerPerParticipant',
      label: 'media worker RSS per connected participant',
      unit: 'KiB',
      better: 'lower',
      baselineLabel: BARE,
    },
  ],
  async run(s) {
    const { participants, consultSize } = s.opts.memory;
    const agent = await s.agent('clients');
    const consults = Math.ceil(participants / consultSize);
    const gatewayClients: { token: string; consultId: string }[] = [];
    const bareClients: { token: string; consultId: string }[] = [];
    for (let k = 0; k < consults; k++) {
      const id = `bench-mem-${k}`;
      for (const p of await benchConsult(s.gateway.gateway, id, consultSize - 1)) {
        gatewayClients.push({ token: p.token, consultId: id });
        bareClients.push({ token: 'none', consultId: id });
      }
    }
    gatewayClients.length = bareClients.length = participants;

    const measure = async (url: string, workerPid: number, clients: typeof gatewayClients) => {
      gc();
      await settle();
      const before = { node: rssMiB(process.pid), worker: rssMiB(workerPid) };
      const res = await agent.call<{ participants: number; consumers: number }>(
        'connectParticipants',
        { url, clients },
      );
      gc();
      await settle();
      const after = { node: rssMiB(process.pid), worker: rssMiB(workerPid) };
      await agent.call('disconnectAll');
      const per = (a: number, b: number) => ((b - a) * 1024) / res.participants;
      return {
        ...res,
        before,
        after,
        nodeKiB: per(before.node, after.node),
        workerKiB: per(before.worker, after.worker),
      };
    };
    s.log(`memory: ${participants} participants on the gateway`);
    const ours = await measure(s.gateway.url, s.gateway.workerPid, gatewayClients);
    s.log(`memory: ${participants} participants on the bare server`);
    const bare = await measure(s.bare.url, s.bare.workerPid, bareClients);
    const note =
      `${participants} participants in ${consults} consults, ${ours.consumers} consumers; RSS difference before/after, divided by participants` +
      ((globalThis as { gc?: unknown }).gc
        ? ''
        : ' (no --expose-gc: Node figures include garbage)');
    return {
      values: {
        nodePerParticipant: { value: ours.nodeKiB, baseline: bare.nodeKiB, note },
        workerPerParticipant: { value: ours.workerKiB, baseline: bare.workerKiB },
      },
      details: { gateway: ours, bare },
    };
  },
};
