/**
 * Consult density: K concurrent 3-party consults, each party sending synthetic opus
 * (32 kbit/s) and VP8 (500 kbit/s) into a PlainTransport and receiving the other two
 * parties' four streams over an SRTP PlainTransport, K stepped up. On the gateway's worker
 * (a consult room per consult, its active-speaker observer fed with the audio) and, as the
 * baselines, on bare mediasoup routers with the same codecs, and on Janus VideoRoom: a room per
 * consult (computing talking events from the audio levels), each party a remote publisher fed
 * the same RTP, each party's receiver the SRTP RTP forwarders of the other two parties' four
 * streams. Same streams, rates, codecs and receivers; Janus's forwarders carry no RTCP and keep
 * no NACK buffer, so its figure is a lower bound of its cost per consult.
 */
import type { types } from 'mediasoup';
import type { StreamSpec } from '../agents/traffic.js';
import { mediaCodecs } from '../../src/sfu/codecs.js';
import type { Measured, Section, Services } from '../lib/section.js';
import { JanusApi } from '../lib/janus.js';
import { JanusRoom, plainEgress, plainIngest } from '../lib/sfu.js';
import {
  destination,
  limitOf,
  limitSeries,
  seriesNote,
  type LoadTarget,
  type Series,
} from './fanout.js';

const PARTIES = 3;

interface ConsultMedia {
  router: types.Router;
  close(): void;
  /** Feeds an audio producer to the consult's active-speaker observer, if it has one. */
  observe(producer: types.Producer): void;
}

function densityTarget(
  sfuPid: number,
  openConsult: (k: number) => Promise<ConsultMedia>,
  monitored: number[],
  sinkPort: number,
): LoadTarget {
  /** Per open consult: its media, transports, and the streams its parties send. */
  const consults: {
    media: ConsultMedia;
    transports: { close(): void }[];
    streams: StreamSpec[];
  }[] = [];
  /** Sending streams per receiving endpoint, in creation order (PARTIES per consult). */
  const sources: { port: number; ssrc: number }[][] = [];
  const open = async (k: number) => {
    const c = await openConsult(k);
    const transports: { close(): void }[] = [];
    const streams: StreamSpec[] = [];
    const parties = [];
    for (let p = 0; p < PARTIES; p++) {
      const base = 0x10000 + (k * PARTIES + p) * 16;
      const ingest = await plainIngest(c.router, [
        { kind: 'audio', ssrc: base },
        { kind: 'video', ssrc: base + 2 },
      ]);
      c.observe(ingest.producers[0]!);
      transports.push(ingest.transport);
      streams.push(
        { port: ingest.port, kind: 'audio', ssrc: base },
        { port: ingest.port, kind: 'video', ssrc: base + 2 },
      );
      parties.push({ ...ingest, ssrcs: [base, base + 2] });
    }
    for (let p = 0; p < PARTIES; p++) {
      const others = parties.filter((_, i) => i !== p);
      const port = destination(k * PARTIES + p, monitored, sinkPort);
      sources[k * PARTIES + p] = others.flatMap((x) =>
        x.ssrcs.map((ssrc) => ({ port: x.port, ssrc })),
      );
      const producerIds = others.flatMap((x) => x.producers.map((pr) => pr.id));
      transports.push(await plainEgress(c.router, producerIds, port));
    }
    consults.push({ media: c, transports, streams });
  };
  const closeLast = () => {
    const c = consults.pop()!;
    for (const t of c.transports) t.close();
    c.media.close();
    sources.length = consults.length * PARTIES;
  };
  return {
    sfuPid,
    async resize(n) {
      while (consults.length > n) closeLast();
      while (consults.length < n) await open(consults.length);
    },
    streams: () => consults.flatMap((c) => c.streams),
    monitoredInUse: () => Math.min(sources.length, monitored.length),
    sources: (i) => sources[i] ?? [],
    async teardown() {
      while (consults.length) closeLast();
    },
  };
}

/**
 * rtp_forward, retried while Janus reports the just-added remote publisher as missing ("No
 * such feed": seen on a busy machine when a request follows add_remote_publisher closely).
 */
async function forwardOnceReady(
  room: JanusRoom,
  publisherId: number,
  mid: string,
  port: number,
  ssrc: number,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await room.forward(publisherId, mid, port, true, ssrc);
      return;
    } catch (err) {
      if (attempt >= 40 || !/No such feed/.test((err as Error).message)) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** K consults on Janus VideoRoom: three remote publishers per room, forwarders as receivers. */
function janusDensityTarget(
  sfuPid: number,
  api: JanusApi,
  monitored: number[],
  sinkPort: number,
): LoadTarget {
  const consults: { room: JanusRoom; streams: StreamSpec[] }[] = [];
  const sources: { port: number; ssrc: number }[][] = [];
  const open = async (k: number) => {
    const room = await JanusRoom.create(api, true);
    const streams: StreamSpec[] = [];
    const parties: { id: number; port: number; ssrcs: number[] }[] = [];
    for (let p = 0; p < PARTIES; p++) {
      const pub = await room.addPublisher(p + 1, ['audio', 'video']);
      const [audio, video] = pub.ssrcs as [number, number];
      streams.push(
        { port: pub.port, kind: 'audio', ssrc: audio },
        { port: pub.port, kind: 'video', ssrc: video },
      );
      parties.push({ id: p + 1, port: pub.port, ssrcs: pub.ssrcs });
    }
    for (let p = 0; p < PARTIES; p++) {
      const i = k * PARTIES + p;
      const others = parties.filter((_, j) => j !== p);
      const port = destination(i, monitored, sinkPort);
      sources[i] = others.flatMap((x) => x.ssrcs.map((ssrc) => ({ port: x.port, ssrc })));
      let n = 0;
      for (const o of others) {
        // One SSRC per forwarded stream: the remote publishers all send the same two SSRCs.
        for (const mid of ['0', '1']) {
          await forwardOnceReady(room, o.id, mid, port, 0x50000 + i * 16 + n++);
        }
      }
    }
    consults.push({ room, streams });
  };
  const closeLast = async () => {
    await consults.pop()!.room.destroy();
    sources.length = consults.length * PARTIES;
  };
  return {
    sfuPid,
    async resize(n) {
      while (consults.length > n) await closeLast();
      while (consults.length < n) await open(consults.length);
    },
    streams: () => consults.flatMap((c) => c.streams),
    monitoredInUse: () => Math.min(sources.length, monitored.length),
    sources: (i) => sources[i] ?? [],
    async teardown() {
      while (consults.length) await closeLast();
    },
  };
}

const JANUS = 'Janus VideoRoom (remote publishers → SRTP RTP forwarders; lower bound of its cost)';

export const densitySection: Section = {
  name: 'density',
  specs: [
    {
      id: 'maxK',
      label:
        '3-party consults (opus + 500 kbit/s VP8 each), largest K per worker (loss < 0.1 %, CPU < 85 %, bisected)',
      unit: 'consults',
      better: 'higher',
      baselineLabel: 'bare mediasoup routers',
    },
    {
      id: 'cpuPerConsult',
      label: 'worker CPU per 3-party consult',
      unit: '% core',
      better: 'lower',
      baselineLabel: 'bare mediasoup routers',
    },
    {
      id: 'janus.maxK',
      label:
        '3-party consults (opus + 500 kbit/s VP8 each), largest K (loss < 0.1 %, CPU < 85 %, bisected), vs Janus',
      unit: 'consults',
      better: 'higher',
      baselineLabel: JANUS,
    },
    {
      id: 'janus.cpuPerConsult',
      label: 'SFU process CPU per 3-party consult, vs Janus',
      unit: '% core',
      better: 'lower',
      baselineLabel: JANUS,
    },
  ],
  async run(s: Services) {
    const cfg = s.opts.density;
    const traffic = await s.agent('traffic');
    const { ports: monitored } = await traffic.call<{ ports: number[] }>('openReceivers', {
      count: cfg.sample,
    });
    const sinkPort = await s.sinkPort();
    let observerFed = true;
    const gatewayConsult = async (k: number): Promise<ConsultMedia> => {
      const room = await s.gateway.gateway.rooms.getOrCreate(`bench-density-${k}`);
      // The room's own active-speaker observer (a private field: fed directly, since these
      // synthetic parties are not signalling peers).
      const observer = (room as unknown as { speakerObserver?: types.ActiveSpeakerObserver })
        .speakerObserver;
      if (!observer) observerFed = false;
      return {
        router: room.router,
        close: () => room.close('consult_ended'),
        observe: (p) => void observer?.addProducer({ producerId: p.id }).catch(() => undefined),
      };
    };
    const bareConsult = async (): Promise<ConsultMedia> => {
      const router = await s.bare.worker.createRouter({ mediaCodecs });
      return { router, close: () => router.close(), observe: () => undefined };
    };
    const ours: Series = await limitSeries(
      s,
      traffic,
      densityTarget(s.gateway.workerPid, gatewayConsult, monitored, sinkPort),
      cfg.search,
      cfg,
      'density gateway',
    );
    const bare: Series = await limitSeries(
      s,
      traffic,
      densityTarget(s.bare.workerPid, bareConsult, monitored, sinkPort),
      cfg.search,
      cfg,
      'density bare',
    );
    let janus: Series | null = null;
    let janusReason = s.janusReason;
    if (s.janus) {
      const api = await JanusApi.open(s.janus.httpUrl);
      try {
        janus = await limitSeries(
          s,
          traffic,
          janusDensityTarget(s.janus.pid, api, monitored, sinkPort),
          cfg.search,
          cfg,
          'density janus',
        );
      } catch (err) {
        janusReason = `Janus run failed: ${(err as Error).message}`;
        s.log(`${janusReason}; janus log:\n${s.janus.logTail(1500)}`);
      } finally {
        await api.close();
      }
    }
    await traffic.call('closeReceivers');
    const o = limitOf(ours);
    const b = limitOf(bare);
    const j = janus ? limitOf(janus) : null;
    const values: Record<string, Measured> = {
      maxK: {
        value: o.value,
        baseline: b.value,
        notReached: { value: o.notReached, baseline: b.notReached },
        note:
          `gateway: ${seriesNote(ours)}. bare: ${seriesNote(bare)}` +
          (observerFed ? '' : '. (active-speaker observer not reachable: not fed)'),
      },
      cpuPerConsult: {
        value: ours.cpuPerStream,
        baseline: bare.cpuPerStream,
        note: 'slope of worker CPU over K across the passing steps',
      },
      'janus.maxK': {
        value: o.value,
        baseline: j ? j.value : null,
        notReached: { value: o.notReached, baseline: j?.notReached },
        note: `gateway: ${seriesNote(ours)}` + (janus ? `. Janus: ${seriesNote(janus)}` : ''),
        reason: janus ? undefined : (janusReason ?? undefined),
      },
      'janus.cpuPerConsult': {
        value: ours.cpuPerStream,
        baseline: janus ? janus.cpuPerStream : null,
        note: 'slope of the SFU process CPU (all Janus threads) over K across the passing steps',
        reason: janus ? undefined : (janusReason ?? undefined),
      },
    };
    return {
      values,
      details: { gateway: ours, bare, janus, janusReason, monitoredReceivers: cfg.sample },
    };
  },
};
