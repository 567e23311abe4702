/** Network-quality assessment from inbound-rtp stats (consumer.getStats()). */

export type QualityLevel = 'good' | 'fair' | 'poor' | 'unknown';

export interface InboundSample {
  packetsReceived: number;
  packetsLost: number;
  /** Seconds, as reported by WebRTC. */
  jitter: number;
  framesDecoded?: number;
}

export interface QualityReading {
  level: QualityLevel;
  /** Fraction 0..1 of packets lost over the interval. */
  loss: number;
  jitterMs: number;
}

/** Loss below `loss` and jitter below `jitterMs` qualifies for the level. */
export const THRESHOLDS = {
  good: { loss: 0.02, jitterMs: 30 },
  fair: { loss: 0.08, jitterMs: 100 },
} as const;

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** Sums the inbound-rtp entries of a receiver's stats report (null if there are none). */
export function readInbound(report: RTCStatsReport): InboundSample | null {
  let sample: InboundSample | null = null;
  report.forEach((stat: unknown) => {
    const s = stat as Record<string, unknown>;
    if (s.type !== 'inbound-rtp') return;
    const cur: InboundSample = sample ?? { packetsReceived: 0, packetsLost: 0, jitter: 0 };
    cur.packetsReceived += num(s.packetsReceived) ?? 0;
    cur.packetsLost += Math.max(0, num(s.packetsLost) ?? 0);
    cur.jitter = Math.max(cur.jitter, num(s.jitter) ?? 0);
    const frames = num(s.framesDecoded);
    if (frames !== undefined) cur.framesDecoded = (cur.framesDecoded ?? 0) + frames;
    sample = cur;
  });
  return sample;
}

export function classify(loss: number, jitterMs: number): QualityLevel {
  if (loss < THRESHOLDS.good.loss && jitterMs < THRESHOLDS.good.jitterMs) return 'good';
  if (loss < THRESHOLDS.fair.loss && jitterMs < THRESHOLDS.fair.jitterMs) return 'fair';
  return 'poor';
}

/**
 * Rates the interval between two samples (or the totals so far, without `prev`).
 * Returns null when no packets were expected in the interval (e.g. the producer is paused).
 */
export function assess(prev: InboundSample | undefined, cur: InboundSample): QualityReading | null {
  let received = cur.packetsReceived - (prev?.packetsReceived ?? 0);
  let lost = cur.packetsLost - (prev?.packetsLost ?? 0);
  if (received < 0 || lost < 0) {
    // Counters reset (new stream): rate the totals instead.
    received = cur.packetsReceived;
    lost = cur.packetsLost;
  }
  const expected = received + lost;
  if (expected <= 0) return null;
  const loss = lost / expected;
  const jitterMs = cur.jitter * 1000;
  return { level: classify(loss, jitterMs), loss, jitterMs };
}

const rank: Record<QualityLevel, number> = { unknown: 0, good: 1, fair: 2, poor: 3 };

/** The worst of several readings (unknown when there are none). */
export function worst(readings: readonly QualityReading[]): QualityReading | null {
  let result: QualityReading | null = null;
  for (const r of readings) {
    if (!result || rank[r.level] > rank[result.level]) result = r;
  }
  return result;
}
