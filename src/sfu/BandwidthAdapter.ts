/**
 * Server-side bandwidth adaptation for one receiving peer. It watches the peer's receive
 * transport (mediasoup's send-side estimate of that peer's downlink: the 'bwe' trace and
 * `availableOutgoingBitrate`), its consumers' scores and the producers' per-layer bitrates,
 * and applies `bandwidthPolicy.decide()`: it caps each video consumer's preferred layers,
 * pauses video (server side) when even the lowest layer does not fit while audio continues,
 * and resumes and raises it when the estimate recovers. Screen share is served first, also
 * in mediasoup's own allocation (`setPriority`).
 *
 * The peer's client is told through the events (the signalling layer relays them). Calls the
 * client makes that touch the same consumers should go through `resume()` and
 * `setPreferredLayers()` here, so a client cannot undo a bandwidth pause by accident.
 */
import type { types } from 'mediasoup';
import type { MediaSource } from '../signalling/messages.js';
import { TypedEmitter } from '../util/TypedEmitter.js';
import {
  compareLayers,
  DEFAULT_DELAY,
  DEFAULT_POLICY,
  DEFAULT_PROBING,
  decide,
  delayBound,
  FULL,
  newDelayState,
  newProbeState,
  probeDue,
  type Cap,
  type Layers,
  type PolicyMemory,
  type DelayOptions,
  type PolicyOptions,
  type ProbeOptions,
  type VideoLevel,
} from './bandwidthPolicy.js';

type AppData = { source: MediaSource; peerId: string };

export interface BandwidthAdapterOptions extends PolicyOptions, ProbeOptions, DelayOptions {
  /** How often the decision runs while there is video to adapt, ms. */
  intervalMs: number;
  /** Bit/s reserved per audio consumer when its measured bitrate is lower (speech after DTX silence). */
  audioFloorBps: number;
  /** A consumer score (0–10) at or below this marks the receiver as congested. */
  poorScore: number;
  /** mediasoup priority of screen-share consumers (camera consumers keep 1). */
  screenPriority: number;
}

export const DEFAULT_ADAPTER_OPTIONS: Readonly<BandwidthAdapterOptions> = Object.freeze({
  ...DEFAULT_POLICY,
  ...DEFAULT_PROBING,
  ...DEFAULT_DELAY,
  intervalMs: 1000,
  audioFloorBps: 40_000,
  poorScore: 3,
  screenPriority: 10,
});

interface ConsumerRef {
  consumerId: string;
  producerId: string;
  /** The peer whose media this is. */
  peerId: string;
  source: MediaSource;
}

export interface VideoPausedEvent extends ConsumerRef {
  reason: 'bandwidth';
}

export interface LayersChangedEvent extends ConsumerRef {
  /** The highest layers this consumer may now get (null: no limit, best available). */
  maxLayers: Layers | null;
  reason: 'bandwidth';
}

export interface EstimateEvent {
  /** mediasoup's estimate of the receiver's downlink, bit/s. */
  availableBitrate: number;
  /** The bound from queueing delay in force, bit/s (null: no queue building). */
  queueBound: number | null;
  videoBudget: number;
  congested: boolean;
}

type BandwidthAdapterEvents = {
  /** A video consumer was paused because the receiver's bandwidth cannot carry it. */
  videoPaused: [VideoPausedEvent];
  /** … and resumed because it can again. */
  videoResumed: [VideoPausedEvent];
  /** The adapter lowered or raised a video consumer's layer limit. */
  layersChanged: [LayersChangedEvent];
  /** After each decision: the estimate it used (for logs and metrics). */
  estimate: [EstimateEvent];
  /** A bandwidth probe was asked for while video was held down (for logs and tests). */
  probe: [{ availableBitrate: number; targetBitrate: number }];
};

interface Entry {
  consumer: types.Consumer<AppData>;
  producer: types.Producer<AppData>;
  /** The client asked for this consumer to flow (resumed it, not paused it since). */
  wanted: boolean;
  /**
   * 'paused': paused by this adapter (not by the client); 'trial': resumed on trial, still
   * paused as far as the client is told, until the trial holds.
   */
  bandwidthState: 'on' | 'paused' | 'trial';
  /** The cap applied to mediasoup (FULL when none). */
  applied: Layers;
  /** Layers the client chose with setPreferredLayers (FULL when it did not). */
  clientPreferred: Layers;
  score: number;
  levels: VideoLevel[];
  /** Measured bit/s (audio consumers). */
  bitrate: number;
  /** Round-trip time to the receiver from this consumer's RTCP, ms (0: unknown). */
  rttMs: number;
  /** Our own pause()/resume() is in flight: its observer event is not the client's. */
  ownCall: number;
}

export class BandwidthAdapter extends TypedEmitter<BandwidthAdapterEvents> {
  readonly #entries = new Map<string, Entry>();
  readonly #memory: PolicyMemory = new Map();
  readonly #probe = newProbeState();
  readonly #delay = newDelayState();
  /** What the receive transport is sending, bit/s. */
  #sendBitrate = 0;
  #options: BandwidthAdapterOptions;
  #transport: types.WebRtcTransport | undefined;
  #available: { bitrate: number; ceiling?: number; at: number } | undefined;
  #timer: NodeJS.Timeout | undefined;
  #ticking = false;
  #tickAgain = false;
  #closed = false;
  readonly #onTrace = (trace: types.TransportTraceEventData) => {
    if (trace.type !== 'bwe') return;
    const info = trace.info as { availableBitrate?: number; maxBitrate?: number };
    const bitrate = Number(info.availableBitrate);
    if (!Number.isFinite(bitrate) || bitrate <= 0) return;
    const before = this.#available?.bitrate;
    const ceiling = Number(info.maxBitrate);
    this.#available = { bitrate, at: Date.now(), ...(ceiling > 0 ? { ceiling } : {}) };
    // A sharp drop is acted on now rather than at the next tick.
    if (before !== undefined && bitrate < before * 0.75) void this.#tick();
  };

  constructor(options: Partial<BandwidthAdapterOptions> = {}) {
    super();
    this.#options = { ...DEFAULT_ADAPTER_OPTIONS, ...options };
  }

  /** Changes options at run time (tests, operators). */
  configure(options: Partial<BandwidthAdapterOptions>): void {
    this.#options = { ...this.#options, ...options };
    if (this.#timer) {
      this.#stopTimer();
      this.#startTimer();
    }
  }

  /** Starts adapting a consumer of this peer (audio consumers are watched for their bitrate). */
  add(
    consumer: types.Consumer<AppData>,
    producer: types.Producer<AppData>,
    transport: types.WebRtcTransport,
  ): void {
    if (this.#closed || consumer.closed) return;
    this.#watchTransport(transport);
    const entry: Entry = {
      consumer,
      producer,
      wanted: !consumer.paused,
      bandwidthState: 'on',
      applied: FULL,
      clientPreferred: FULL,
      score: consumer.score.score,
      levels: [],
      bitrate: 0,
      rttMs: 0,
      ownCall: 0,
    };
    this.#entries.set(consumer.id, entry);
    consumer.observer.on('close', () => {
      this.#entries.delete(consumer.id);
      if (![...this.#entries.values()].some((e) => e.consumer.kind === 'video')) {
        this.#stopTimer();
      }
    });
    consumer.observer.on('score', (score) => (entry.score = score.score));
    consumer.observer.on('pause', () => this.#onPause(entry));
    consumer.observer.on('resume', () => this.#onResume(entry));
    if (consumer.kind === 'video') {
      if (producer.appData.source === 'screen') {
        consumer.setPriority(this.#options.screenPriority).catch(() => undefined);
      }
      this.#startTimer();
    }
  }

  /**
   * Resumes a consumer for the client, unless its video is paused for bandwidth: then it
   * resumes on its own once bandwidth allows. Returns whether it is flowing now.
   */
  async resume(consumerId: string): Promise<{ pausedForBandwidth: boolean }> {
    const entry = this.#entries.get(consumerId);
    if (!entry) return { pausedForBandwidth: false };
    entry.wanted = true;
    if (entry.bandwidthState === 'paused') return { pausedForBandwidth: true };
    await this.#own(entry, () => entry.consumer.resume());
    // On trial it flows already, but the client is not told so until the trial holds.
    return { pausedForBandwidth: entry.bandwidthState === 'trial' };
  }

  /** Records the client's own layer choice; the applied layers are the lower of it and the adapter's cap. */
  async setPreferredLayers(consumerId: string, layers: Partial<Layers>): Promise<void> {
    const entry = this.#entries.get(consumerId);
    if (!entry) return;
    entry.clientPreferred = {
      spatialLayer: layers.spatialLayer ?? FULL.spatialLayer,
      temporalLayer: layers.temporalLayer ?? FULL.temporalLayer,
    };
    await this.#applyLayers(entry, entry.applied);
  }

  /** Whether this consumer's video is paused for lack of bandwidth. */
  isVideoPaused(consumerId: string): boolean {
    const state = this.#entries.get(consumerId)?.bandwidthState;
    return state !== undefined && state !== 'on';
  }

  /** The adapter's view, for stats and tests. */
  snapshot() {
    return {
      availableBitrate: this.#available?.bitrate ?? null,
      consumers: [...this.#entries.values()].map((e) => ({
        consumerId: e.consumer.id,
        kind: e.consumer.kind,
        source: e.consumer.appData.source,
        wanted: e.wanted,
        pausedForBandwidth: e.bandwidthState !== 'on',
        maxLayers: finiteLayers(e.applied),
        currentLayers: e.consumer.currentLayers ?? null,
        score: e.score,
        levels: e.levels,
      })),
    };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopTimer();
    this.#transport?.off('trace', this.#onTrace);
    this.#entries.clear();
  }

  // --- observing ---

  #watchTransport(transport: types.WebRtcTransport): void {
    if (this.#transport === transport) return;
    this.#transport?.off('trace', this.#onTrace);
    this.#transport = transport;
    this.#available = undefined;
    transport.on('trace', this.#onTrace);
    transport.enableTraceEvent(['bwe']).catch(() => undefined);
  }

  #onPause(entry: Entry): void {
    if (entry.ownCall > 0) return;
    entry.wanted = false;
  }

  #onResume(entry: Entry): void {
    if (entry.ownCall > 0) return;
    entry.wanted = true;
    // Resumed behind our back (e.g. a plain consumer.resume()): keep the bandwidth pause.
    if (entry.bandwidthState === 'paused') {
      void this.#own(entry, () => entry.consumer.pause());
      this.safeEmit('videoPaused', { ...ref(entry), reason: 'bandwidth' });
    }
  }

  async #own(entry: Entry, call: () => Promise<void>): Promise<void> {
    entry.ownCall++;
    try {
      await call();
    } catch {
      // The consumer closed meanwhile; its 'close' removes the entry.
    } finally {
      entry.ownCall--;
    }
  }

  // --- deciding ---

  #startTimer(): void {
    if (this.#timer || this.#closed) return;
    this.#timer = setInterval(() => void this.#tick(), this.#options.intervalMs);
    this.#timer.unref();
  }

  #stopTimer(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #tick(): Promise<void> {
    if (this.#ticking) {
      this.#tickAgain = true;
      return;
    }
    this.#ticking = true;
    try {
      do {
        this.#tickAgain = false;
        await this.#decideOnce();
      } while (this.#tickAgain && !this.#closed);
    } catch {
      // A transport or consumer closed under us; the next tick sees the new state.
    } finally {
      this.#ticking = false;
    }
  }

  async #decideOnce(): Promise<void> {
    const transport = this.#transport;
    if (this.#closed || !transport || transport.closed) return;
    const entries = [...this.#entries.values()].filter((e) => !e.consumer.closed);
    await Promise.all([this.#measureAvailable(transport), ...entries.map((e) => this.#measure(e))]);
    const estimate = this.#available;
    if (!estimate || this.#closed) return;
    const opts = this.#options;
    const now = Date.now();
    const audio = entries.filter((e) => e.consumer.kind === 'audio' && e.wanted);
    const video = entries.filter(
      (e) => e.consumer.kind === 'video' && e.wanted && !e.consumer.producerPaused,
    );
    // Queueing delay notices a narrower link before the estimator does.
    const rtts = video.map((e) => e.rttMs).filter((rtt) => rtt > 0);
    const bound = delayBound(
      this.#delay,
      { now, rttMs: rtts.length ? Math.max(...rtts) : null, sendBitrate: this.#sendBitrate },
      opts,
    );
    const available = bound === null ? estimate.bitrate : Math.min(estimate.bitrate, bound);
    const ceiling = estimate.ceiling && bound === null ? { estimateCeiling: estimate.ceiling } : {};
    const congested = [...audio, ...video].some((e) => e.score <= opts.poorScore);
    const decision = decide(
      {
        now,
        availableBitrate: available,
        ...ceiling,
        audioBitrate: audio.reduce((sum, e) => sum + Math.max(e.bitrate, opts.audioFloorBps), 0),
        congested,
        consumers: video.map((e) => ({
          id: e.consumer.id,
          source: e.consumer.appData.source === 'screen' ? 'screen' : 'camera',
          levels: e.levels,
        })),
      },
      this.#memory,
      opts,
    );
    this.safeEmit('estimate', {
      availableBitrate: estimate.bitrate,
      queueBound: bound,
      videoBudget: decision.videoBudget,
      congested,
    });
    const probe = { now, availableBitrate: available, ...ceiling };
    if (bound === null && !congested && probeDue(this.#probe, probe, this.#memory, opts)) {
      await this.#requestProbe(transport, available);
    }
    // A null cap means "pause": only a consumer missing from the decision keeps no limit.
    await Promise.all(
      video.map((e) => {
        const cap = decision.caps.get(e.consumer.id);
        const trial = decision.trials.includes(e.consumer.id);
        return this.#apply(e, cap === undefined ? FULL : cap, trial);
      }),
    );
    // A trial resume sends video again: let the estimator probe with it at once.
    if (decision.trials.length) await this.#requestProbe(transport, available);
  }

  /**
   * Makes mediasoup's congestion controller probe the link above its estimate. In mediasoup
   * 3.12 the controller probes when the transport's allocated maximum changes to a value
   * above the estimate: setting the max outgoing bitrate to the probe target and lifting it
   * again does that (padding clusters at the target, ~15 ms each). The target is twice the
   * estimate, below the controller's ceiling; a target that low would clamp the estimate, so
   * no probe is made then. (The adapter owns this transport's max outgoing bitrate: it
   * leaves it unlimited.)
   */
  async #requestProbe(transport: types.WebRtcTransport, available: number): Promise<void> {
    const ceiling = this.#available?.ceiling;
    if (!ceiling) return;
    const target = Math.round(Math.min(0.8 * ceiling, 2 * available));
    if (target < 1.25 * available || target < 30_000) return;
    try {
      await transport.setMaxOutgoingBitrate(target);
      await transport.setMaxOutgoingBitrate(0);
      this.safeEmit('probe', { availableBitrate: available, targetBitrate: target });
    } catch {
      // The transport closed meanwhile.
    }
  }

  async #measureAvailable(transport: types.WebRtcTransport): Promise<void> {
    const [stats] = await transport.getStats();
    this.#sendBitrate = stats?.sendBitrate ?? 0;
    // The 'bwe' trace arrives about every second; fall back to stats when it does not.
    if (this.#available && Date.now() - this.#available.at < 2.5 * this.#options.intervalMs) {
      return;
    }
    const bitrate = stats?.availableOutgoingBitrate;
    if (bitrate && bitrate > 0) this.#available = { bitrate, at: Date.now() };
  }

  async #measure(entry: Entry): Promise<void> {
    const stats = await entry.consumer.getStats().catch(() => []);
    const out = stats.find((s) => s.type === 'outbound-rtp');
    entry.bitrate = out?.bitrate ?? 0;
    entry.rttMs = out?.roundTripTime ?? 0;
    if (entry.consumer.kind === 'video') {
      const producerStats = await entry.producer.getStats().catch(() => []);
      entry.levels = videoLevels(entry.producer.rtpParameters, producerStats);
    }
  }

  /**
   * Applies a decision to one consumer. The client hears of a pause at once, of a resume
   * only once it holds: a trial that fails pauses again without either event.
   */
  async #apply(entry: Entry, cap: Cap, trial: boolean): Promise<void> {
    const { consumer } = entry;
    const was = entry.bandwidthState;
    if (cap === null) {
      if (was === 'paused') return;
      entry.bandwidthState = 'paused';
      await this.#own(entry, () => consumer.pause());
      if (was === 'on') this.safeEmit('videoPaused', { ...ref(entry), reason: 'bandwidth' });
      return;
    }
    await this.#applyLayers(entry, cap);
    if (was === 'paused') {
      entry.bandwidthState = trial ? 'trial' : 'on';
      if (entry.wanted) await this.#own(entry, () => consumer.resume());
    } else if (was === 'trial' && Date.now() >= (this.#memory.get(consumer.id)?.trialUntil ?? 0)) {
      entry.bandwidthState = 'on';
    }
    if (was !== 'on' && entry.bandwidthState === 'on') {
      this.safeEmit('videoResumed', { ...ref(entry), reason: 'bandwidth' });
    }
  }

  async #applyLayers(entry: Entry, cap: Layers): Promise<void> {
    const { consumer } = entry;
    const changed = compareLayers(cap, entry.applied) !== 0;
    entry.applied = cap;
    if (consumer.type !== 'simulcast' && consumer.type !== 'svc') return;
    const layers = lower(cap, entry.clientPreferred);
    const max = maxLayers(consumer);
    const target = lower(layers, max);
    const preferred = consumer.preferredLayers;
    if (
      !preferred ||
      preferred.spatialLayer !== target.spatialLayer ||
      (preferred.temporalLayer ?? max.temporalLayer) !== target.temporalLayer
    ) {
      await consumer.setPreferredLayers(target).catch(() => undefined);
    }
    if (changed) {
      this.safeEmit('layersChanged', {
        ...ref(entry),
        maxLayers: finiteLayers(cap),
        reason: 'bandwidth',
      });
    }
  }
}

function ref(entry: Entry): ConsumerRef {
  return {
    consumerId: entry.consumer.id,
    producerId: entry.producer.id,
    peerId: entry.producer.appData.peerId,
    source: entry.producer.appData.source,
  };
}

function lower(a: Layers, b: Layers): Layers {
  const spatialLayer = Math.min(a.spatialLayer, b.spatialLayer);
  // A lower spatial layer keeps its own temporal limit; on the same layer both limits apply.
  const temporalLayer =
    a.spatialLayer === b.spatialLayer
      ? Math.min(a.temporalLayer, b.temporalLayer)
      : a.spatialLayer < b.spatialLayer
        ? a.temporalLayer
        : b.temporalLayer;
  return { spatialLayer, temporalLayer };
}

function finiteLayers(l: Layers): Layers | null {
  return Number.isFinite(l.spatialLayer) ? l : null;
}

/** The highest layers a simulcast/SVC consumer has (from its scalability mode, e.g. L3T3). */
function maxLayers(consumer: types.Consumer): Layers {
  const mode = consumer.rtpParameters.encodings?.[0]?.scalabilityMode ?? '';
  const m = /^[LS](\d+)T(\d+)/.exec(mode);
  return m
    ? { spatialLayer: Number(m[1]) - 1, temporalLayer: Number(m[2]) - 1 }
    : { spatialLayer: 0, temporalLayer: 0 };
}

type ProducerStat = types.ProducerStat & { bitrateByLayer?: Record<string, number> };

/**
 * The levels a video producer offers now, lowest first, with their measured bitrates: the
 * temporal layers of the lowest spatial layer (e.g. 7.5, 15, 30 fps), then each higher
 * spatial layer in full. Inactive layers (no stream or bitrate 0) are left out. Before
 * any stats exist, the encodings' maxBitrate stands in.
 */
export function videoLevels(
  rtpParameters: types.RtpParameters,
  stats: readonly types.ProducerStat[],
): VideoLevel[] {
  const encodings = rtpParameters.encodings ?? [];
  const byEncoding = encodings.map((enc) =>
    (stats as ProducerStat[]).find((s) =>
      enc.rid !== undefined ? s.rid === enc.rid : s.ssrc === enc.ssrc,
    ),
  );
  const levels: VideoLevel[] = [];
  if (encodings.length > 1) {
    // Simulcast: one stream per spatial layer.
    encodings.forEach((enc, spatialLayer) => {
      const stat = byEncoding[spatialLayer];
      const temporal = temporalBitrates(stat, 0);
      if (stat && stat.bitrate > 0) {
        if (spatialLayer === 0 && temporal.length > 1) {
          temporal.forEach((bitrate, temporalLayer) => {
            if (bitrate > 0) levels.push({ spatialLayer, temporalLayer, bitrate });
          });
        } else {
          const top = Math.max(0, temporal.length - 1);
          levels.push({ spatialLayer, temporalLayer: top, bitrate: stat.bitrate });
        }
      } else if (stats.length === 0 && enc.maxBitrate) {
        levels.push({ spatialLayer, temporalLayer: 2, bitrate: enc.maxBitrate });
      }
    });
    return levels;
  }
  const stat = byEncoding[0];
  if (!stat) {
    const max = encodings[0]?.maxBitrate;
    return max ? [{ spatialLayer: 0, temporalLayer: 0, bitrate: max }] : [];
  }
  if (stat.bitrate <= 0) return [];
  const layers = stat.bitrateByLayer ?? {};
  const spatial = new Set(Object.keys(layers).map((k) => Number(k.split('.')[0])));
  if (spatial.size <= 1) {
    // One stream, maybe with temporal layers: a simple consumer can only be on or off.
    return [{ spatialLayer: 0, temporalLayer: 0, bitrate: stat.bitrate }];
  }
  // SVC: spatial layers inside one stream.
  for (const s of [...spatial].sort((a, b) => a - b)) {
    const temporal = temporalBitrates(stat, s);
    const top = temporal.length - 1;
    if (temporal[top]! > 0)
      levels.push({ spatialLayer: s, temporalLayer: top, bitrate: temporal[top]! });
  }
  return levels;
}

/** Cumulative bitrate up to each temporal layer of a spatial layer ("s.t" keys of bitrateByLayer). */
function temporalBitrates(stat: ProducerStat | undefined, spatialLayer: number): number[] {
  const layers = stat?.bitrateByLayer ?? {};
  const out: number[] = [];
  for (let t = 0; `${spatialLayer}.${t}` in layers; t++) out.push(layers[`${spatialLayer}.${t}`]!);
  return out;
}
