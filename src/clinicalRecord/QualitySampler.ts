/**
 * Every few seconds, samples mediasoup's producer and consumer stats for each participant
 * (send and receive bitrate, packet loss, jitter, round-trip time, the simulcast layer being
 * received), stores a compact series, and hands the same figures to the live client.
 */
import type { types } from 'mediasoup';
import type { Logger } from '../logger.js';
import type { Peer } from '../sfu/Peer.js';
import type { RoomRegistry } from '../sfu/RoomRegistry.js';
import type { QualityEntry } from '../protocol/payloads.js';
import type { QualitySample, Store } from '../store/repositories.js';
import { TypedEmitter } from '../util/TypedEmitter.js';
import type { ConsultRecorder } from './ConsultRecorder.js';

/** One participant's figures at one moment, as the live client sees them (the protocol's type). */
export type LiveQuality = QualityEntry;

type SamplerEvents = {
  sampled: [consultId: string, samples: LiveQuality[]];
};

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;
const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);

type RtpStat = {
  type: string;
  bitrate?: number;
  fractionLost?: number;
  jitter?: number;
  roundTripTime?: number;
};

/** Turns one peer's mediasoup stats into a sample (pure; exported for unit tests). */
export function summarisePeer(
  producers: { stats: RtpStat[]; clockRate: number }[],
  consumers: { stats: RtpStat[]; kind: 'audio' | 'video'; spatialLayer: number | null }[],
): Omit<LiveQuality, 'peerId'> {
  const inbound = producers.flatMap((p) =>
    p.stats.filter((s) => s.type === 'inbound-rtp').map((s) => ({ s, clockRate: p.clockRate })),
  );
  const outbound = consumers.flatMap((c) => c.stats.filter((s) => s.type === 'outbound-rtp'));
  const send = inbound.reduce((sum, { s }) => sum + (s.bitrate ?? 0), 0);
  const recv = outbound.reduce((sum, s) => sum + (s.bitrate ?? 0), 0);
  // fractionLost is RTCP's 8-bit fraction (lost/256): uplink as measured by us, downlink as reported by the client.
  const lossUp = mean(inbound.map(({ s }) => s.fractionLost ?? 0));
  const lossDown = mean(outbound.map((s) => s.fractionLost ?? 0));
  const losses = [lossUp, lossDown].filter((x): x is number => x !== null);
  const rtts = [...outbound, ...inbound.map(({ s }) => s)]
    .map((s) => s.roundTripTime)
    .filter((x): x is number => typeof x === 'number' && x > 0);
  const jitters = inbound
    .filter(({ s }) => typeof s.jitter === 'number')
    .map(({ s, clockRate }) => ((s.jitter ?? 0) / clockRate) * 1000);
  const layers = consumers
    .filter((c) => c.kind === 'video' && c.spatialLayer !== null)
    .map((c) => c.spatialLayer as number);
  const rtt = mean(rtts);
  const jitter = mean(jitters);
  return {
    sendKbps: inbound.length ? round(send / 1000) : null,
    recvKbps: outbound.length ? round(recv / 1000) : null,
    lossPct: losses.length ? round((Math.max(...losses) / 256) * 100, 2) : null,
    rttMs: rtt === null ? null : round(rtt),
    jitterMs: jitter === null ? null : round(jitter),
    videoLayer: layers.length ? Math.min(...layers) : null,
  };
}

async function samplePeer(peer: Peer): Promise<Omit<LiveQuality, 'peerId'>> {
  const settle = async <T>(p: Promise<T>, fallback: T) => p.catch(() => fallback);
  const producers = await Promise.all(
    [...peer.producers.values()].map(async (p) => ({
      stats: (await settle(p.getStats(), [] as types.ProducerStat[])) as RtpStat[],
      clockRate: p.rtpParameters.codecs[0]?.clockRate ?? 90000,
    })),
  );
  const consumers = await Promise.all(
    [...peer.consumers.values()].map(async (c) => ({
      stats: (await settle(c.getStats(), [] as types.ConsumerStat[])) as RtpStat[],
      kind: c.kind,
      spatialLayer: c.paused || c.producerPaused ? null : (c.currentLayers?.spatialLayer ?? null),
    })),
  );
  return summarisePeer(producers, consumers);
}

export class QualitySampler extends TypedEmitter<SamplerEvents> {
  #timer: NodeJS.Timeout | undefined;
  #running = false;

  constructor(
    private readonly rooms: RoomRegistry,
    private readonly recorder: ConsultRecorder,
    private readonly store: Store,
    private readonly logger: Logger,
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {
    super();
  }

  start(): void {
    this.#timer = setInterval(() => void this.sampleOnce(), this.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Samples every participant of every live room once (skipped if the last run is still going). */
  async sampleOnce(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      const at = this.now();
      const rows: QualitySample[] = [];
      for (const room of [...this.rooms.rooms.values()]) {
        const live: LiveQuality[] = [];
        for (const peer of [...room.peers.values()]) {
          if (peer.closed) continue;
          const q = { peerId: peer.id, ...(await samplePeer(peer)) };
          live.push(q);
          if (this.recorder.openParticipation(peer.id)) {
            const { peerId: _peerId, ...figures } = q;
            rows.push({
              consultId: room.consultId,
              participantId: peer.identity.userId,
              at,
              ...figures,
            });
          }
        }
        if (live.length) this.safeEmit('sampled', room.consultId, live);
      }
      if (rows.length)
        this.recorder.queue.write('quality.samples', (db) => db.records.appendSamples(rows));
      this.recorder.heartbeat(at);
    } catch (err) {
      this.logger.warn({ err }, 'quality sampling failed');
    } finally {
      this.#running = false;
    }
  }
}
