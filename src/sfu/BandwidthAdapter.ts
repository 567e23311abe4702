/**
 * Server-side bandwidth adaptation for one receiving peer. Every second (and at once on a
 * sharp drop) it reads what mediasoup knows about the peer's downlink — the receive
 * transport's send-side estimate (the 'bwe' trace, else `availableOutgoingBitrate`), the
 * RTT and loss its consumers' receiver reports show (a bottleneck queue, and what overflows
 * it, before the estimate drops), consumer scores — and each video producer's per-layer
 * bitrates, and applies
 * `bandwidthPolicy.decide()`: it caps each video consumer's preferred layers, pauses video
 * on the server when even the lowest layer does not fit (audio is reserved first and never
 * touched), and resumes and raises it when the link recovers: paused video on trial, and
 * video the estimate alone holds down a step at a time, each with the transport's minimum
 * outgoing bitrate held at what it needs (the estimate, fed little, lags the link), judged by
 * the receiver's reports (`bandwidthSignals`; mediasoup's probes are left to run on their own).
 * Screen share is served first, also in mediasoup's own
 * allocation (`setPriority`). Independently of the downlink, a consumer is never asked for a
 * simulcast layer its sender has stopped sending (`LayerWatch`): it is moved down as soon as
 * the layer goes silent, instead of after mediasoup's own 1.5 s inactivity timeout.
 *
 * The client is told through the events (signalling relays them). Client requests that
 * touch the same consumers should go through `resume()` and `setPreferredLayers()` here, so
 * a client cannot undo a bandwidth pause by accident (a plain `consumer.resume()` of a
 * bandwidth-paused consumer is undone and re-announced).
 */
import type { types } from 'mediasoup';
import type { MediaSource, ProducerAppData as AppData } from '../protocol/vocabulary.js';
import { TypedEmitter } from '../util/TypedEmitter.js';
import { LayerWatch } from './LayerWatch.js';
import {
  compareLayers,
  DEFAULT_POLICY,
  decide,
  FULL,
  type Cap,
  type Layers,
  type PolicyMemory,
  type PolicyInput,
  type PolicyOptions,
  trialFloor,
  type VideoLevel,
} from './bandwidthPolicy.js';
import {
  DEFAULT_DELAY,
  DEFAULT_PROBING,
  delayBound,
  newDelayState,
  newProbeState,
  probeDue,
  type DelayOptions,
  type ProbeOptions,
} from './bandwidthSignals.js';
import { consumerMaxLayers, finiteLayers, lowerLayers, videoLevels } from './layers.js';

export interface BandwidthAdapterOptions extends PolicyOptions, ProbeOptions, DelayOptions {
  /** How often the decision runs while there is video to adapt, ms. */
  intervalMs: number;
  /** Bit/s reserved per audio consumer when its measured bitrate is lower (speech after DTX silence). */
  audioFloorBps: number;
  /** A consumer score (0–10) at or below this marks the receiver as congested. */
  poorScore: number;
  /** mediasoup priority of screen-share consumers (camera consumers keep 1). */
  screenPriority: number;
  /**
   * Ask mediasoup for bandwidth probes while the estimate alone holds video below full
   * quality (see #requestProbe). Off by default: measured behind the relay after a lifted
   * 300 kbit/s cap, three such probes in 10 s left the estimate at 130-220 kbit/s, while
   * with them off mediasoup's own periodic ALR probe (every 5 s, which ours postpone, as
   * each probe restarts that clock) lifted it to 1.7 Mbit/s 5 s after the lift. mediasoup
   * 3.12 also re-applies a start bitrate from up to a second earlier when its limits change.
   */
  probing: boolean;
}

export const DEFAULT_ADAPTER_OPTIONS: Readonly<BandwidthAdapterOptions> = Object.freeze({
  ...DEFAULT_POLICY,
  ...DEFAULT_PROBING,
  ...DEFAULT_DELAY,
  intervalMs: 1000,
  audioFloorBps: 40_000,
  poorScore: 3,
  screenPriority: 10,
  probing: false,
});

/** Receiver reports about a consumer's traffic arrive about once a second. */
const REPORT_SETTLE_MS = 2000;
/** Nothing at all from the receiver (not even RTCP) for this long is an outage, not a narrow link. */
const OUTAGE_MS = 1500;

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

export interface ForwardedLayersEvent {
  consumerId: string;
  spatialLayer: number | null;
  temporalLayer: number | null;
}

export interface EstimateEvent {
  /** mediasoup's estimate of the receiver's downlink, bit/s. */
  availableBitrate: number;
  /** The bound from queueing delay or loss in force, bit/s (null: not congested). */
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
  /**
   * What mediasoup forwards on a video consumer changed (its 'layerschange'; null layers:
   * nothing is forwarded), in the shape of the protocol's `layersChanged` message.
   */
  forwardedLayers: [ForwardedLayersEvent];
  /** After each decision: the estimate it used (for logs and metrics). */
  estimate: [EstimateEvent];
  /** A bandwidth probe was asked for while video was held down (for logs and tests). */
  probe: [{ availableBitrate: number; targetBitrate: number }];
  /** The receiver was heard from again after an outage of `silentMs` (for logs and tests). */
  linkReturned: [{ silentMs: number }];
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
  /** A lower spatial layer held while the first key frame is awaited (null: none). */
  firstFrameCap: number | null;
  score: number;
  levels: VideoLevel[];
  /** Measured bit/s (audio consumers). */
  bitrate: number;
  /** Round-trip time to the receiver from this consumer's RTCP, ms (0: unknown). */
  rttMs: number;
  /** Share of packets lost in the receiver's last report, 0..1. */
  lossFraction: number;
  /** When it last started flowing: until new reports come, RTT and loss describe older traffic. */
  flowingSince: number;
  /** Our own pause()/resume() is in flight: its observer event is not the client's. */
  ownCall: number;
  /** Which simulcast layers the sender is sending now (simulcast video only). */
  layerWatch: LayerWatch | null;
  /** Stops following the layer watch. */
  unwatchLayers: () => void;
}

export class BandwidthAdapter extends TypedEmitter<BandwidthAdapterEvents> {
  readonly #entries = new Map<string, Entry>();
  readonly #memory: PolicyMemory = new Map();
  readonly #probe = newProbeState();
  readonly #delay = newDelayState();
  /** The minimum outgoing bitrate held on the transport for a trial resume, bit/s (0: none). */
  #floor = 0;
  /** What the receive transport is sending, bit/s. */
  #sendBitrate = 0;
  /** Bytes the receiver's browser has sent on the receive transport (its RTCP), and when they last grew. */
  #fromReceiver = { bytes: 0, grewAt: 0, quietTicks: 0 };
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
      firstFrameCap: null,
      score: consumer.score.score,
      levels: [],
      bitrate: 0,
      rttMs: 0,
      lossFraction: 0,
      flowingSince: Date.now(),
      ownCall: 0,
      layerWatch: consumer.kind === 'video' ? LayerWatch.for(producer) : null,
      unwatchLayers: () => undefined,
    };
    // The sender stopped (or restarted) a layer: move this consumer off it now.
    entry.unwatchLayers =
      entry.layerWatch?.retain(() => void this.#applyLayers(entry, entry.applied)) ??
      entry.unwatchLayers;
    this.#entries.set(consumer.id, entry);
    consumer.observer.on('close', () => {
      entry.unwatchLayers();
      this.#entries.delete(consumer.id);
      if (![...this.#entries.values()].some((e) => e.consumer.kind === 'video')) {
        this.#stopTimer();
      }
    });
    consumer.observer.on('score', (score) => (entry.score = score.score));
    consumer.observer.on('pause', () => this.#onPause(entry));
    consumer.observer.on('resume', () => this.#onResume(entry));
    if (consumer.kind === 'video') {
      consumer.observer.on('layerschange', (layers) =>
        this.safeEmit('forwardedLayers', {
          consumerId: consumer.id,
          spatialLayer: layers?.spatialLayer ?? null,
          temporalLayer: layers?.temporalLayer ?? null,
        }),
      );
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

  /**
   * Holds a consumer at most at `spatialLayer` until its first key frame (null lifts it);
   * see firstKeyFrame.ts. Not a bandwidth decision: the client hears nothing of it.
   */
  async capFirstFrame(consumerId: string, spatialLayer: number | null): Promise<void> {
    const entry = this.#entries.get(consumerId);
    if (!entry) return;
    entry.firstFrameCap = spatialLayer;
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
      /** The bound the receiver's reports put on the link (a queue or loss), bit/s; null: none. */
      queueBound: this.#delay.bound,
      /** The transport's minimum outgoing bitrate held for trials, climbs and holds, bit/s. */
      floor: this.#floor,
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
    for (const entry of this.#entries.values()) entry.unwatchLayers();
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
    entry.flowingSince = Date.now();
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
    // Queueing delay and loss show a narrower link before the estimator does. Only flowing
    // video reports them fresh; with all video paused, audio alone lets any queue drain.
    // (A consumer that has just resumed still shows the reports from before its pause.)
    const flowing = video.filter((e) => !e.consumer.paused);
    const reporting = flowing.filter((e) => now - e.flowingSince >= REPORT_SETTLE_MS);
    if (!flowing.length) {
      this.#delay.bound = null;
      this.#delay.queuedSince = null;
    }
    const rtts = reporting.map((e) => e.rttMs).filter((rtt) => rtt > 0);
    const bound = delayBound(
      this.#delay,
      {
        now,
        rttMs: rtts.length ? Math.max(...rtts) : null,
        lossFraction: reporting.length ? Math.max(...reporting.map((e) => e.lossFraction)) : null,
        sendBitrate: this.#sendBitrate,
        estimate: estimate.bitrate,
      },
      opts,
    );
    const available = bound === null ? estimate.bitrate : Math.min(estimate.bitrate, bound);
    const ceiling = estimate.ceiling && bound === null ? { estimateCeiling: estimate.ceiling } : {};
    const congested = [...audio, ...video].some((e) => e.score <= opts.poorScore);
    const audioReserve = audio.reduce((sum, e) => sum + Math.max(e.bitrate, opts.audioFloorBps), 0);
    const input: PolicyInput = {
      now,
      availableBitrate: available,
      ...ceiling,
      audioBitrate: audioReserve,
      congested,
      overloaded: bound !== null,
      consumers: video.map((e) => ({
        id: e.consumer.id,
        source: e.consumer.appData.source === 'screen' ? 'screen' : 'camera',
        levels: e.levels,
      })),
    };
    const decision = decide(input, this.#memory, opts);
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
    // Video on trial lets the estimator probe: ask for a probe while the trial runs.
    if (decision.trials.length && bound === null) await this.#requestProbe(transport, available);
    await this.#holdFloor(transport, trialFloor(input, decision.floors, opts, decision.caps));
  }

  /**
   * Holds the transport's minimum outgoing bitrate at `bps` (0: none). While every video
   * consumer is paused the estimate sinks to mediasoup's floor (30 kbit/s) and cannot climb
   * on audio alone; mediasoup then forwards no layer of a trial resume, and no probe runs
   * (audio alone is above such an estimate, so the link is not "application limited"). The
   * floor lets the trial's lowest layer flow for real: the receiver's own reports judge it
   * (loss or queueing ends it at once), and the estimate, fed by that traffic, is what the
   * policy judges at its end. A climb is held the same way: mediasoup's own allocation
   * follows the estimate and would not forward the step's layer otherwise. So is a level held
   * against a drop of the estimate alone (`held`): fed what the consumer gets, a starved
   * machine's collapsed estimate recovers and the picture neither drops nor pauses.
   */
  async #holdFloor(transport: types.WebRtcTransport, bps: number): Promise<void> {
    const floor = bps > 0 ? Math.max(30_000, Math.round(bps)) : 0;
    if (floor === this.#floor) return;
    this.#floor = floor;
    await transport.setMinOutgoingBitrate(floor).catch(() => undefined);
  }

  /**
   * Makes mediasoup's congestion controller probe the link above its estimate. In mediasoup
   * 3.12 the controller probes when the transport's allocated maximum changes to a value
   * above the estimate (padding clusters of ~15 ms at that rate): setting the max outgoing
   * bitrate to the target and lifting it again does that. The target is twice the estimate
   * (and at least 300 kbit/s above it), below the controller's ceiling; a target under 1.25×
   * the estimate would clamp the estimate instead, so no probe is made then. The adapter owns
   * this transport's max outgoing bitrate: it leaves it unlimited.
   */
  async #requestProbe(transport: types.WebRtcTransport, available: number): Promise<void> {
    const ceiling = this.#available?.ceiling;
    if (!ceiling || !this.#options.probing) return;
    const target = Math.round(
      Math.min(0.8 * ceiling, Math.max(2 * available, available + 300_000)),
    );
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
    this.#noteReceiverTraffic(stats?.bytesReceived ?? 0);
    // The 'bwe' trace arrives about every second; fall back to stats when it does not.
    if (this.#available && Date.now() - this.#available.at < 2.5 * this.#options.intervalMs) {
      return;
    }
    const bitrate = stats?.availableOutgoingBitrate;
    if (bitrate && bitrate > 0) this.#available = { bitrate, at: Date.now() };
  }

  /**
   * A cut link is not a narrow one. The receiver's first reports after an outage (nothing
   * from it, not even RTCP, for OUTAGE_MS) show the outage's loss and RTT. Read as
   * congestion, they would pause its video just as the link came back. So they are set
   * aside, as after a resume, and the congestion bound is dropped.
   */
  #noteReceiverTraffic(bytes: number): void {
    const now = Date.now();
    const seen = this.#fromReceiver;
    if (bytes <= seen.bytes) {
      seen.quietTicks++;
      return;
    }
    const silentMs = now - seen.grewAt;
    const outage = seen.grewAt > 0 && seen.quietTicks > 0 && silentMs >= OUTAGE_MS;
    this.#fromReceiver = { bytes, grewAt: now, quietTicks: 0 };
    if (!outage) return;
    this.safeEmit('linkReturned', { silentMs });
    this.#delay.samples.length = 0;
    this.#delay.bound = null;
    this.#delay.queuedSince = null;
    for (const entry of this.#entries.values()) {
      entry.flowingSince = now;
      // Frames lost in the outage cannot be repaired: start the picture afresh now rather
      // than when the browser gets round to asking (about a second later).
      if (entry.consumer.kind === 'video' && !entry.consumer.paused) {
        entry.consumer.requestKeyFrame().catch(() => undefined);
      }
    }
  }

  async #measure(entry: Entry): Promise<void> {
    const stats = await entry.consumer.getStats().catch(() => []);
    const out = stats.find((s) => s.type === 'outbound-rtp');
    entry.bitrate = out?.bitrate ?? 0;
    entry.rttMs = out?.roundTripTime ?? 0;
    entry.lossFraction = (out?.fractionLost ?? 0) / 256;
    if (entry.consumer.kind === 'video') {
      // The layer watch polls this producer's stats already; ask mediasoup only without one.
      const producerStats =
        entry.layerWatch?.stats ?? (await entry.producer.getStats().catch(() => []));
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
      entry.flowingSince = Date.now();
      if (entry.wanted) await this.#own(entry, () => consumer.resume());
    } else if (was === 'trial' && !trial) {
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
    const sent = entry.layerWatch?.limit;
    const first = entry.firstFrameCap;
    const layers = lowerLayers(
      lowerLayers(
        lowerLayers(cap, entry.clientPreferred),
        sent === null || sent === undefined ? FULL : { ...FULL, spatialLayer: sent },
      ),
      first === null ? FULL : { ...FULL, spatialLayer: first },
    );
    const max = consumerMaxLayers(consumer);
    const target = lowerLayers(layers, max);
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
