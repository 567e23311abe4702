/**
 * Two signals about the receiver's link that the estimator gives late or not at all, as pure
 * functions: when to ask for a bandwidth probe while video is held down, and a bound on the
 * usable bitrate from queueing delay (RTT above its recent minimum).
 */
import { FULL, type PolicyInput, type PolicyMemory } from './bandwidthPolicy.js';

export interface ProbeOptions {
  /** Probe no more often than this while video is held down, ms (and not this soon after a downgrade). */
  probeIntervalMs: number;
  /** After probes that found nothing, the interval doubles up to this, ms. */
  maxProbeIntervalMs: number;
}

export const DEFAULT_PROBING: Readonly<ProbeOptions> = Object.freeze({
  probeIntervalMs: 2000,
  maxProbeIntervalMs: 4000,
});

/** What the probe scheduler remembers. */
export interface ProbeState {
  lastProbeAt: number;
  intervalMs: number;
  /** The estimate when the last probe was asked for, until its result is judged. */
  estimateAtProbe: number | null;
}

export const newProbeState = (options: ProbeOptions = DEFAULT_PROBING): ProbeState => ({
  lastProbeAt: -Infinity,
  intervalMs: options.probeIntervalMs,
  estimateAtProbe: null,
});

/**
 * Whether to ask the transport for a bandwidth probe now. While the adapter holds video
 * below full quality the link carries little, and an estimator fed little traffic grows
 * slowly (or not at all): a short padding probe shows whether the link got better. Probes
 * are due while some consumer is capped (and some video flows: paused video cannot carry a
 * probe) and the estimate is not at its ceiling, every `intervalMs` and not within
 * `intervalMs` of a downgrade. A probe after which the estimate rose by 20 % is followed by
 * another one a second later (the link is opening: climb fast); one that found nothing
 * doubles the interval, so a link that stays narrow is probed ever less.
 */
export function probeDue(
  state: ProbeState,
  input: Pick<PolicyInput, 'now' | 'availableBitrate' | 'estimateCeiling'>,
  memory: PolicyMemory,
  options: ProbeOptions = DEFAULT_PROBING,
): boolean {
  const { now, availableBitrate: available } = input;
  if (state.estimateAtProbe !== null && now - state.lastProbeAt >= 1000) {
    state.intervalMs =
      available > 1.2 * state.estimateAtProbe
        ? 1000
        : Math.min(
            options.maxProbeIntervalMs,
            Math.max(options.probeIntervalMs, state.intervalMs * 2),
          );
    state.estimateAtProbe = null;
  }
  const caps = [...memory.values()];
  const constrained = caps.some((m) => m.cap !== FULL);
  const flowing = caps.some((m) => m.cap !== null);
  const ceiling = input.estimateCeiling;
  const atCeiling = ceiling !== undefined && available >= 0.95 * ceiling;
  if (!constrained || atCeiling) {
    state.intervalMs = options.probeIntervalMs;
    return false;
  }
  if (!flowing) return false;
  const lastDowngrade = Math.max(-Infinity, ...caps.map((m) => m.lastDowngradeAt));
  if (now - Math.max(state.lastProbeAt, lastDowngrade) < state.intervalMs) return false;
  state.lastProbeAt = now;
  state.estimateAtProbe = available;
  return true;
}

export interface DelayOptions {
  /** Round-trip time this far above its recent minimum means a queue is building, ms. */
  queueDelayLimitMs: number;
  /** The RTT baseline is the minimum over this window, ms. */
  rttWindowMs: number;
  /** Reported loss above this (0..1) means the bottleneck queue overflows. */
  lossLimit: number;
  /**
   * RTT above the limit without loss counts as a queue only once it has lasted this long,
   * ms, and the estimator agrees (its estimate fell below what was sent when the RTT rose):
   * on a starved machine late receiver reports show RTT spikes with no queue behind them.
   */
  queueSustainMs: number;
}

export const DEFAULT_DELAY: Readonly<DelayOptions> = Object.freeze({
  queueDelayLimitMs: 100,
  rttWindowMs: 60_000,
  lossLimit: 0.1,
  queueSustainMs: 2000,
});

/** What the congestion detector remembers. */
export interface DelayState {
  samples: { at: number; rttMs: number }[];
  /** The bound set when congestion began (null: no congestion). */
  bound: number | null;
  /** Since when every RTT sample has shown a queue, and the send rate then (null: the last did not). */
  queuedSince: { at: number; sendBitrate: number } | null;
}

export const newDelayState = (): DelayState => ({ samples: [], bound: null, queuedSince: null });

/**
 * A bound on the usable bitrate while the receiver's link is congested, or null when it is
 * not. The estimator needs a few seconds to notice a link that got narrower; the receiver's
 * reports show it within one report interval: the RTT rises as a bottleneck queue builds,
 * and once the queue overflows the reported loss shows what got through. When either
 * begins — RTT `queueDelayLimitMs` above its recent minimum for `queueSustainMs`, or loss
 * above `lossLimit` — the bound is 85 % of what was being sent when it began, times the
 * share that arrived. RTT alone must persist and be borne out by the estimate: a starved
 * machine (the browser's or the worker's) answers late now and then, and late reports are
 * no queue. It then
 * holds until a report shows the queue drained to half the delay limit and the loss under
 * half its limit: reports lag the send rate, so re-deriving the bound from a rate that was
 * already lowered, with loss still reported from before, would spiral down to nothing.
 */
export function delayBound(
  state: DelayState,
  input: {
    now: number;
    rttMs: number | null;
    lossFraction: number | null;
    sendBitrate: number;
    /** The estimator's view of the link now, bit/s (undefined: not known). */
    estimate?: number;
  },
  options: DelayOptions = DEFAULT_DELAY,
): number | null {
  const { now, rttMs } = input;
  const loss = input.lossFraction ?? 0;
  let queueing: number | null = null;
  if (rttMs !== null && rttMs > 0) {
    state.samples.push({ at: now, rttMs });
    while (state.samples.length && state.samples[0]!.at < now - options.rttWindowMs) {
      state.samples.shift();
    }
    queueing = rttMs - Math.min(...state.samples.map((s) => s.rttMs));
  }
  const queuedNow = queueing !== null && queueing > options.queueDelayLimitMs;
  if (!queuedNow) {
    if (queueing !== null) state.queuedSince = null;
  } else {
    state.queuedSince ??= { at: now, sendBitrate: input.sendBitrate };
  }
  const onset = state.queuedSince;
  const queued =
    onset !== null &&
    now - onset.at >= options.queueSustainMs &&
    (input.estimate === undefined || input.estimate < onset.sendBitrate);
  const lossy = loss > options.lossLimit;
  const sent = queued && !lossy ? onset.sendBitrate : input.sendBitrate;
  const throughput = 0.85 * sent * (1 - (lossy ? loss : 0));
  if ((queued || lossy) && state.bound === null) {
    state.bound = throughput;
  } else if (
    state.bound !== null &&
    queueing !== null &&
    queueing < options.queueDelayLimitMs / 2 &&
    loss < options.lossLimit / 2
  ) {
    state.bound = null;
  }
  return state.bound;
}
