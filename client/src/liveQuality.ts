/**
 * The live quality indicator's data: rates the server's `quality` samples (RTT, loss,
 * bitrate, sampled by mediasoup every few seconds) and decides, per participant, whether the
 * server's figures or the browser's own getStats() readings are shown.
 */
import type { QualityEntry } from '../../src/protocol';
import { classify } from './quality';
import type { QualityLevel, QualityReading } from './quality';

/** Loss (%) and round-trip time (ms) below these qualify for the level. */
export const SERVER_THRESHOLDS = {
  good: { lossPct: 2, rttMs: 150 },
  fair: { lossPct: 8, rttMs: 400 },
} as const;

/** After this long without a server sample for a participant, local readings are shown again. */
export const SERVER_STALE_MS = 20_000;

export interface QualityView {
  level: QualityLevel;
  /** The tooltip: the figures behind the level. */
  title: string;
  /** Where the figures came from. */
  source: 'server' | 'browser';
}

const fmt = (v: number | null, unit: string, digits = 0) =>
  v === null ? '—' : `${v.toFixed(digits)} ${unit}`;

/** Rates one server sample; unknown when it carries neither loss nor RTT. */
export function rateSample(s: QualityEntry): QualityView {
  let level: QualityLevel = 'unknown';
  if (s.lossPct !== null || s.rttMs !== null) {
    const loss = s.lossPct ?? 0;
    const rtt = s.rttMs ?? 0;
    const { good, fair } = SERVER_THRESHOLDS;
    level =
      loss < good.lossPct && rtt < good.rttMs
        ? 'good'
        : loss < fair.lossPct && rtt < fair.rttMs
          ? 'fair'
          : 'poor';
  }
  const title =
    level === 'unknown'
      ? 'Network quality: no media yet'
      : `Network ${level}: RTT ${fmt(s.rttMs, 'ms')}, loss ${fmt(s.lossPct, '%', 1)}, ` +
        `sending ${fmt(s.sendKbps, 'kbps')}, receiving ${fmt(s.recvKbps, 'kbps')}` +
        (s.jitterMs === null ? '' : `, jitter ${fmt(s.jitterMs, 'ms')}`);
  return { level, title, source: 'server' };
}

/** Describes a browser-side reading (inbound loss and jitter of what we receive from them). */
export function rateReading(r: QualityReading | null): QualityView {
  if (!r) return { level: 'unknown', title: 'Network quality: no media yet', source: 'browser' };
  const level = classify(r.loss, r.jitterMs);
  return {
    level,
    title: `Network ${level}: ${(r.loss * 100).toFixed(1)}% loss, ${r.jitterMs.toFixed(0)} ms jitter (measured in this browser)`,
    source: 'browser',
  };
}

/** Prefers the server's figures; falls back to local readings while they are missing or stale. */
export class QualityBoard {
  private readonly lastServer = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  /** The view for each server sample. */
  fromServer(samples: readonly QualityEntry[]): [string, QualityView][] {
    const at = this.now();
    return samples.map((s) => {
      this.lastServer.set(s.peerId, at);
      return [s.peerId, rateSample(s)];
    });
  }

  /** The view for a local reading, or null while fresh server figures are shown instead. */
  fromBrowser(peerId: string, reading: QualityReading | null): QualityView | null {
    const last = this.lastServer.get(peerId);
    if (last !== undefined && this.now() - last < SERVER_STALE_MS) return null;
    return rateReading(reading);
  }

  forget(peerId: string): void {
    this.lastServer.delete(peerId);
  }
}
