/**
 * Consult density: K concurrent 3-party consults, each party sending synthetic opus
 * (32 kbit/s) and VP8 (500 kbit/s) into a PlainTransport and receiving the other two
 * parties' four streams over an SRTP PlainTransport, K stepped up. On the gateway's worker
 * (a consult room per consult, its active-speaker observer fed with the audio) and, as the
 * baseline, on bare mediasoup routers with the same codecs.
 */
import type { types } from 'mediasoup';
import type { StreamSpec } from '../agents/traffic.js';
import { mediaCodecs } from '../../src/sfu/codecs.js';
import type { Measured, Section, Services } from '../lib/section.js';
import { plainEgress, plainIngest } from '../lib/sfu.js';
import { destination, stepSeries, type LoadTarget, type Series } from './fanout.js';

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
  const consults: ConsultMedia[] = [];
  const streams: StreamSpec[] = [];
  const transports: { close(): void }[] = [];
  /** Sending SSRCs per receiving endpoint, in creation order. */
  const sources: number[][] = [];
  return {
    sfuPid,
    async grow(n) {
      while (consults.length < n) {
        const k = consults.length;
        const c = await openConsult(k);
        consults.push(c);
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
          const port = destination(sources.length, monitored, sinkPort);
          sources.push(others.flatMap((x) => x.ssrcs));
          const producerIds = others.flatMap((x) => x.producers.map((pr) => pr.id));
          transports.push(await plainEgress(c.router, producerIds, port));
        }
      }
    },
    streams: () => streams,
    monitoredInUse: () => Math.min(sources.length, monitored.length),
    sources: (i) => sources[i] ?? [],
    async teardown() {
      for (const t of transports) t.close();
      for (const c of consults) c.close();
    },
  };
}

export const densitySection: Section = {
  name: 'density',
  specs: [
    {
      id: 'maxK',
      label:
        '3-party consults (opus + 500 kbit/s VP8 each), largest K per worker (loss < 0.1 %, CPU < 85 %)',
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
    const ours: Series = await stepSeries(
      s,
      traffic,
      densityTarget(s.gateway.workerPid, gatewayConsult, monitored, sinkPort),
      cfg.steps,
      cfg,
      'density gateway',
    );
    const bare: Series = await stepSeries(
      s,
      traffic,
      densityTarget(s.bare.workerPid, bareConsult, monitored, sinkPort),
      cfg.steps,
      cfg,
      'density bare',
    );
    await traffic.call('closeReceivers');
    const note = (x: Series) =>
      (x.allPassed ? `every step passed (limit above ${x.maxN})` : `stopped by ${x.stoppedBy}`) +
      (x.extrapolatedN !== null ? `; CPU line reaches 85% at K≈${x.extrapolatedN}` : '');
    const values: Record<string, Measured> = {
      maxK: {
        value: ours.maxN,
        baseline: bare.maxN,
        note:
          `gateway: ${note(ours)}. bare: ${note(bare)}` +
          (observerFed ? '' : '. (active-speaker observer not reachable: not fed)'),
      },
      cpuPerConsult: {
        value: ours.cpuPerStream,
        baseline: bare.cpuPerStream,
        note: 'slope of worker CPU over K across the passing steps',
      },
    };
    return { values, details: { gateway: ours, bare, monitoredReceivers: cfg.sample } };
  },
};
