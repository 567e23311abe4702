/**
 * Notices quickly when a simulcast sender stops sending one of its layers, so receivers on
 * that layer are moved down before their video freezes.
 *
 * Browsers stop their upper simulcast layers on their own when their uplink estimate or
 * their CPU drops (common on 4G/5G). mediasoup only notices a stopped stream 1.5 s after its
 * last packet (its inactivity timer), and then switches its consumers down, so a receiver
 * on that layer sees ~2 s of frozen video. This watch reads the producer's per-layer packet
 * counters several times a second: a layer that has sent nothing for `stallMs` while a
 * lower layer kept sending is stopped, and `limit` drops to the highest layer still sent.
 * A layer counts again once it has been sent for `resumeMs`, so a flapping layer does not
 * make receivers flap with it. When every layer is silent at once (the sender is paused or
 * cut off, or its encoder restarts, as Chromium's does when a layer is turned off) there is
 * nothing better to switch to and nothing is learnt about any one layer: the watch keeps its
 * limit and each layer's standing, so receivers are not sent after a layer that is not coming
 * (each such switch waits for a key frame) and layers that were sent count again at once.
 *
 * One watch per producer, shared by all its consumers (`LayerWatch.for`), polling only
 * while someone holds it (`retain`).
 */
import type { types } from 'mediasoup';
import { TypedEmitter } from '../util/TypedEmitter.js';
import { statsByEncoding } from './layers.js';

export interface LayerWatchOptions {
  /** How often the producer's counters are read, ms. */
  intervalMs: number;
  /** A layer silent this long while a lower one sends is stopped, ms. */
  stallMs: number;
  /** A stopped layer counts again after sending for this long, ms. */
  resumeMs: number;
}

export const DEFAULT_LAYER_WATCH: Readonly<LayerWatchOptions> = Object.freeze({
  intervalMs: 200,
  stallMs: 500,
  resumeMs: 1000,
});

type LayerWatchEvents = {
  /** The limit changed: the highest spatial layer sent now, or null for none. */
  change: [limit: number | null];
};

interface LayerState {
  packets: number;
  /** When its packet count last rose (null: never seen). */
  lastPacketAt: number | null;
  /** Since when it has been sending without a stall (null: not sending). */
  sendingSince: number | null;
  /** It stopped after sending (a stall): it must send for `resumeMs` to count again. */
  stalled: boolean;
}

export class LayerWatch extends TypedEmitter<LayerWatchEvents> {
  static readonly #watches = new WeakMap<types.Producer, LayerWatch>();

  /** The shared watch of a simulcast video producer; null for any other producer. */
  static for(
    producer: types.Producer,
    options: Partial<LayerWatchOptions> = {},
  ): LayerWatch | null {
    if (producer.kind !== 'video' || producer.closed) return null;
    if ((producer.rtpParameters.encodings ?? []).length < 2) return null;
    let watch = LayerWatch.#watches.get(producer);
    if (!watch) {
      watch = new LayerWatch(producer, { ...DEFAULT_LAYER_WATCH, ...options });
      LayerWatch.#watches.set(producer, watch);
    }
    return watch;
  }

  readonly #producer: types.Producer;
  readonly #options: LayerWatchOptions;
  readonly #layers: LayerState[];
  #limit: number | null = null;
  #stats: types.ProducerStat[] | null = null;
  #holders = 0;
  #timer: NodeJS.Timeout | undefined;
  #polling = false;
  #closed = false;

  private constructor(producer: types.Producer, options: LayerWatchOptions) {
    super();
    this.#producer = producer;
    this.#options = options;
    this.#layers = (producer.rtpParameters.encodings ?? []).map(() => ({
      packets: 0,
      lastPacketAt: null,
      sendingSince: null,
      stalled: false,
    }));
    producer.observer.once('close', () => this.#close());
  }

  /** The producer's stats from the latest poll (at most `intervalMs` old; null before the first). */
  get stats(): readonly types.ProducerStat[] | null {
    return this.#stats;
  }

  /** The highest spatial layer the sender is sending now; null when nothing is known to be missing. */
  get limit(): number | null {
    return this.#limit;
  }

  /**
   * Starts watching (if not yet), calling `onChange` when the limit changes; call the
   * returned function to stop holding it (and to stop calling `onChange`).
   */
  retain(onChange?: (limit: number | null) => void): () => void {
    if (this.#closed) return () => undefined;
    if (onChange) this.on('change', onChange);
    this.#holders++;
    if (!this.#timer) {
      this.#timer = setInterval(() => void this.#poll(), this.#options.intervalMs);
      this.#timer.unref();
    }
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      if (onChange) this.off('change', onChange);
      if (--this.#holders === 0) this.#stop();
    };
  }

  #stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #close(): void {
    this.#closed = true;
    this.#stop();
    LayerWatch.#watches.delete(this.#producer);
  }

  async #poll(): Promise<void> {
    if (this.#polling || this.#closed) return;
    this.#polling = true;
    try {
      const stats = await this.#producer.getStats().catch(() => null);
      if (!stats || this.#closed) return;
      this.#stats = stats;
      const byLayer = statsByEncoding(this.#producer.rtpParameters, stats);
      this.#update(
        Date.now(),
        byLayer.map((stat) => stat?.packetCount),
      );
    } finally {
      this.#polling = false;
    }
  }

  #update(now: number, counts: (number | undefined)[]): void {
    const { stallMs, resumeMs } = this.#options;
    this.#layers.forEach((layer, i) => {
      const count = counts[i];
      if (count !== undefined && count > layer.packets) {
        layer.packets = count;
        layer.lastPacketAt = now;
      }
    });
    const sends = (layer: LayerState) =>
      layer.lastPacketAt !== null && now - layer.lastPacketAt < stallMs;
    // Nothing sent at all (paused, cut off, an encoder restarting): nothing to learn.
    if (!this.#layers.some(sends)) return;
    let top = -1;
    this.#layers.forEach((layer, i) => {
      const sending = sends(layer);
      if (!sending) {
        if (layer.sendingSince !== null) layer.stalled = true;
        layer.sendingSince = null;
        return;
      }
      layer.sendingSince ??= now;
      // A layer that has not stalled counts at once; one that has, once it holds.
      if (layer.stalled && now - layer.sendingSince >= resumeMs) layer.stalled = false;
      if (!layer.stalled) top = i;
    });
    // The best layer is sent, or only layers still on probation: no limit.
    const limit = top < 0 || top === this.#layers.length - 1 ? null : top;
    if (limit !== this.#limit) {
      this.#limit = limit;
      this.safeEmit('change', limit);
    }
  }
}
