/** What one direction of an impaired link does, its defaults, and the random source behind it. */

/** Gilbert-Elliott two-state loss: a good and a bad state, each with its own loss probability. */
export interface BurstLoss {
  /** Probability, per packet, of moving from the good to the bad state. */
  p: number;
  /** Probability, per packet, of moving from the bad back to the good state (1 / mean burst length). */
  r: number;
  /** Loss probability in the bad state (default 1: every packet of a burst is lost). */
  lossInBad?: number;
  /** Loss probability in the good state (default 0). */
  lossInGood?: number;
}

/** One direction of the link. Every field can be changed at run time with `relay.set()`. */
export interface LinkSettings {
  /** Fixed one-way delay added to every packet, ms. */
  delayMs: number;
  /** Each packet's delay is delayMs ± up to jitterMs (uniform), never below 0. */
  jitterMs: number;
  /**
   * Whether jitter may reorder packets. Off (default): a packet never overtakes an earlier
   * one, as on most cellular links, so jitter only ever adds to the delay of a packet queued
   * behind a later-scheduled one. On: each packet gets its own delay, as `tc netem` does.
   */
  reorder: boolean;
  /** Independent random loss, 0..1 (UDP only: TCP cannot lose, it only stalls). */
  loss: number;
  /** Bursty loss on top of `loss` (UDP only); null for none. See `burstLoss()`. */
  burst: BurstLoss | null;
  /** Bandwidth cap in bit/s (token bucket); null for no cap. */
  rateBps: number | null;
  /**
   * Token bucket depth in bytes: how much may pass back-to-back at line rate. Default 1500
   * (one full packet): a shaper, like a cellular scheduler. A deeper bucket (a policer) lets
   * short bursts such as bandwidth probes through at line rate, which fools estimators.
   */
  burstBytes: number | null;
  /**
   * Bytes that may wait for tokens; UDP beyond it is dropped (drop-tail), TCP pauses its
   * sender instead. Default: 300 ms at the rate, at least 15 000 bytes.
   */
  queueBytes: number | null;
}

export const DEFAULT_LINK: Readonly<LinkSettings> = Object.freeze({
  delayMs: 0,
  jitterMs: 0,
  reorder: false,
  loss: 0,
  burst: null,
  rateBps: null,
  burstBytes: null,
  queueBytes: null,
});

/** A direction's settings plus the link-wide state that applies to it now. */
export interface EffectiveLinkSettings extends LinkSettings {
  /** performance.now() until which the link is cut (everything dropped / stalled). */
  cutUntil: number;
  /** Drop every UDP packet (this direction is part of a UDP flow and UDP is blocked). */
  blocked: boolean;
}

/** The token bucket depth in effect for a rate. */
export function bucketBytes(s: LinkSettings): number {
  return s.burstBytes ?? 1500;
}

/** The drop-tail queue bound in effect for a rate. */
export function queueLimitBytes(s: LinkSettings): number {
  if (s.queueBytes !== null) return s.queueBytes;
  return Math.max(15_000, ((s.rateBps ?? 0) / 8) * 0.3);
}

/**
 * Gilbert-Elliott parameters for an average loss rate with bursts of a mean length (in
 * packets): every packet of a burst is lost, none between bursts.
 */
export function burstLoss(lossRate: number, meanBurstLength: number): BurstLoss {
  if (!(lossRate >= 0 && lossRate < 1)) throw new RangeError('lossRate must be in [0, 1)');
  if (!(meanBurstLength >= 1)) throw new RangeError('meanBurstLength must be >= 1');
  const r = 1 / meanBurstLength;
  return { p: (lossRate * r) / (1 - lossRate), r, lossInBad: 1, lossInGood: 0 };
}

/** Checks a partial settings object, so a typo fails loudly instead of impairing nothing. */
export function validateLink(patch: Partial<LinkSettings>): void {
  const nonNegative = (name: string, v: unknown) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw new RangeError(`${name} must be a finite number >= 0 (got ${String(v)})`);
    }
  };
  for (const [key, value] of Object.entries(patch)) {
    switch (key) {
      case 'delayMs':
      case 'jitterMs':
        nonNegative(key, value);
        break;
      case 'loss':
        nonNegative(key, value);
        if ((value as number) > 1) throw new RangeError('loss must be <= 1');
        break;
      case 'rateBps':
      case 'burstBytes':
      case 'queueBytes':
        if (value !== null) nonNegative(key, value);
        if (key === 'rateBps' && value === 0) throw new RangeError('rateBps: use null for no cap');
        break;
      case 'reorder':
        if (typeof value !== 'boolean') throw new TypeError('reorder must be a boolean');
        break;
      case 'burst':
        if (value !== null) {
          const b = value as BurstLoss;
          for (const k of ['p', 'r', 'lossInBad', 'lossInGood'] as const) {
            if (b[k] !== undefined && !(b[k] >= 0 && b[k] <= 1)) {
              throw new RangeError(`burst.${k} must be in [0, 1]`);
            }
          }
        }
        break;
      default:
        throw new TypeError(`unknown link setting '${key}'`);
    }
  }
}

/**
 * The relay's seed when a test gives none: fixed, so every run draws the same losses and
 * jitter. `RELAY_SEED` in the environment overrides it, to replay a seed a failure printed.
 */
export function defaultSeed(): number {
  const fromEnv = process.env.RELAY_SEED;
  if (fromEnv === undefined || fromEnv === '') return 0x7e1e_3ed5;
  const seed = Number(fromEnv);
  if (!Number.isInteger(seed))
    throw new RangeError(`RELAY_SEED must be an integer (got ${fromEnv})`);
  return seed >>> 0;
}

/**
 * A seed for one independent random stream derived from a base seed (e.g. the relay's seed
 * and a link's number), so one link's traffic never shifts another link's draws.
 */
export function deriveSeed(seed: number, ...parts: number[]): number {
  let h = seed >>> 0;
  for (const part of parts) {
    h = Math.imul(h ^ (part >>> 0), 0x9e3779b1) >>> 0;
    h = (h ^ (h >>> 16)) >>> 0;
  }
  return h;
}

/** A small seeded PRNG (mulberry32), so a run's losses can be replayed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
