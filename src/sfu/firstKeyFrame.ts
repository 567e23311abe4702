/**
 * The first picture of a new video consumer. A simulcast consumer starts on its lowest
 * spatial layer: that layer's key frame is the smallest to encode, send and decode (a 720p
 * key frame is 30–70 packets, the lowest layer's a few), so the first picture comes sooner;
 * the cap is lifted as soon as a key frame is forwarded, and mediasoup moves the consumer up
 * to its preferred layer while the low one plays. mediasoup asks the sender for a key frame
 * when a consumer is resumed, but while that request is pending (1 s) it swallows further
 * requests for the same stream, so one lost request would cost a second of black video.
 * Until a key frame has been forwarded, after `intervalMs` (then twice as long each time)
 * this asks again and, on a simulcast consumer, moves its layer cap one step, so that a
 * request for another stream goes out at once. With the consumer's WebRTC transport given, the wait starts only once
 * that transport is connected (DTLS): before, no frame can flow, and asking (and moving the
 * layer) then only moves the consumer's target away from the key frame mediasoup itself asks
 * for when the transport connects.
 */
import type { types } from 'mediasoup';
import { consumerMaxLayers } from './layers.js';

export interface FirstKeyFrameOptions {
  /**
   * How long to wait for a forwarded key frame before asking again, ms; each further wait is
   * twice the one before: a sender that is merely slow (a busy CPU) is not made slower by
   * a key frame on every stream at every request.
   */
  intervalMs: number;
  /** Ask again at most this many times. */
  maxRetries: number;
  /** Start a simulcast consumer on its lowest layer (else on its preferred one, lowered on retries). */
  startLowest: boolean;
}

/**
 * A sender built on libwebrtc (every browser's) ignores a key-frame request that comes within
 * 300 ms of the last one it acted on, for any of its simulcast streams (EncoderRtcpFeedback's
 * kMinKeyframeSendIntervalMs).
 */
export const SENDER_MIN_KEY_FRAME_INTERVAL_MS = 300;

export const DEFAULT_FIRST_KEY_FRAME: FirstKeyFrameOptions = {
  // Clear of the sender's 300 ms, with room for jitter: a retry at 300 ms after mediasoup's
  // request at connect reached the sender a hair too soon and was ignored (bench trace: asked
  // at +68 and +369 ms, answered only after the second retry at +662 ms).
  intervalMs: SENDER_MIN_KEY_FRAME_INTERVAL_MS + 50,
  maxRetries: 4,
  startLowest: true,
};

/** Caps a simulcast consumer's spatial layer while its first key frame is awaited (null lifts it). */
export type LayerCap = (spatialLayer: number | null) => Promise<void>;

/**
 * Watches a video consumer from its first resume until it forwards a key frame (or is
 * closed, or the retries are used up). Returns a function that stops watching.
 */
export function chaseFirstKeyFrame(
  consumer: types.Consumer,
  options: FirstKeyFrameOptions = DEFAULT_FIRST_KEY_FRAME,
  cap?: LayerCap,
  transport?: Pick<types.WebRtcTransport, 'dtlsState' | 'observer'>,
): () => void {
  if (consumer.kind !== 'video' || consumer.closed) return () => undefined;
  let timer: NodeJS.Timeout | undefined;
  let retries = 0;
  let capped = false;
  let done = false;
  const top = consumer.preferredLayers?.spatialLayer ?? consumerMaxLayers(consumer).spatialLayer;
  const layered = Boolean(cap) && consumer.type === 'simulcast' && top > 0;

  const onTrace = (trace: types.ConsumerTraceEventData) => {
    if (trace.type === 'keyframe' && trace.direction === 'out') stop();
  };
  const connected = () => !transport || transport.dtlsState === 'connected';
  const onResume = () => {
    if (done || timer || !connected()) return;
    consumer.on('trace', onTrace);
    consumer.enableTraceEvent(['keyframe']).catch(() => undefined);
    timer = setTimeout(retry, options.intervalMs);
  };
  const onDtlsState = (state: types.DtlsState) => {
    if (state === 'connected' && !consumer.paused) onResume();
  };
  const retry = () => {
    timer = undefined;
    if (done || consumer.closed) return;
    if (consumer.paused) {
      // Paused meanwhile (client or bandwidth): no frame is expected, so nothing to ask yet.
      timer = setTimeout(retry, options.intervalMs);
      return;
    }
    retries++;
    consumer.requestKeyFrame().catch(() => undefined);
    // A layer not asked yet: its request is not swallowed by the pending one.
    const layer = options.startLowest ? retries : top - retries;
    if (layered && layer >= 0 && layer <= top) {
      capped = true;
      void cap!(layer).catch(() => undefined);
    }
    if (retries < options.maxRetries) timer = setTimeout(retry, options.intervalMs * 2 ** retries);
    else stop();
  };
  function stop(): void {
    if (done) return;
    done = true;
    clearTimeout(timer);
    consumer.observer.off('resume', onResume);
    transport?.observer.off('dtlsstatechange', onDtlsState);
    consumer.off('trace', onTrace);
    if (!consumer.closed) {
      consumer.enableTraceEvent([]).catch(() => undefined);
      if (capped) void cap?.(null).catch(() => undefined);
    }
  }

  // Before the consumer is resumed, so that its first target is the lowest layer.
  if (layered && options.startLowest) {
    capped = true;
    void cap!(0).catch(() => undefined);
  }
  consumer.observer.on('resume', onResume);
  transport?.observer.on('dtlsstatechange', onDtlsState);
  consumer.observer.once('close', stop);
  if (!consumer.paused) onResume();
  return stop;
}
