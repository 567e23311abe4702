/**
 * Rate limits for signalling: a token bucket (per socket for every event, per participant for
 * chat), and a flood detector that tells when a socket stays far past its limit.
 */

export type Clock = () => number;

/** Allows `perSecond` events on average with bursts of up to `burst`. */
export class TokenBucket {
  #tokens: number;
  #at: number;

  constructor(
    readonly perSecond: number,
    readonly burst: number,
    private readonly now: Clock = Date.now,
  ) {
    this.#tokens = burst;
    this.#at = now();
  }

  /** Takes one token if there is one; false means the event is over the limit. */
  take(): boolean {
    const now = this.now();
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#at) / 1000) * this.perSecond);
    this.#at = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Seconds until the next token (for the error message). */
  waitSeconds(): number {
    return Math.max(1, Math.ceil((1 - this.#tokens) / this.perSecond));
  }
}

export interface EventLimits {
  /** Events per second a socket may send on average. */
  perSecond: number;
  /** Events a socket may send at once. */
  burst: number;
  /** A socket sending `floodFactor` times `perSecond` on average over `floodSeconds` is cut off. */
  floodFactor: number;
  floodSeconds: number;
}

export const defaultEventLimits: EventLimits = {
  perSecond: 50,
  burst: 100,
  floodFactor: 10,
  floodSeconds: 5,
};

export type Verdict = 'ok' | 'limited' | 'flood';

/**
 * One socket's event limit: each event is `ok`, `limited` (refuse it) or `flood` (the socket
 * sent more than floodFactor × perSecond × floodSeconds events in the last floodSeconds).
 */
export class EventLimiter {
  readonly #bucket: TokenBucket;
  /** Events received in each of the last `floodSeconds` whole seconds. */
  readonly #counts: number[];
  #second: number;

  constructor(
    readonly limits: EventLimits = defaultEventLimits,
    private readonly now: Clock = Date.now,
  ) {
    this.#bucket = new TokenBucket(limits.perSecond, limits.burst, now);
    this.#counts = new Array<number>(limits.floodSeconds).fill(0);
    this.#second = Math.floor(now() / 1000);
  }

  check(): Verdict {
    const second = Math.floor(this.now() / 1000);
    const size = this.#counts.length;
    for (let s = this.#second + 1; s <= second && s <= this.#second + size; s++) {
      this.#counts[s % size] = 0;
    }
    this.#second = Math.max(this.#second, second);
    this.#counts[second % size]! += 1;
    const recent = this.#counts.reduce((a, b) => a + b, 0);
    const { perSecond, floodFactor, floodSeconds } = this.limits;
    if (recent > perSecond * floodFactor * floodSeconds) return 'flood';
    return this.#bucket.take() ? 'ok' : 'limited';
  }

  waitSeconds(): number {
    return this.#bucket.waitSeconds();
  }
}
