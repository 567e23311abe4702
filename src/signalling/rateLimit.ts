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

  /** Takes `cost` tokens (default one) if there are as many; false means over the limit. */
  take(cost = 1): boolean {
    this.#refill();
    if (this.#tokens < cost) return false;
    this.#tokens -= cost;
    return true;
  }

  /** Seconds until `cost` tokens are back (for the error message). */
  waitSeconds(cost = 1): number {
    return Math.max(1, Math.ceil((cost - this.#tokens) / this.perSecond));
  }

  /** Refilled to its burst: forgetting it changes nothing. */
  full(): boolean {
    this.#refill();
    return this.#tokens >= this.burst;
  }

  #refill(): void {
    const now = this.now();
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#at) / 1000) * this.perSecond);
    this.#at = now;
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

/** A rate: `perSecond` on average, `burst` at once. */
export interface Rate {
  perSecond: number;
  burst: number;
}

/** A limiter's answer: allowed, or how long to wait (whole seconds, at least 1). */
export interface Take {
  ok: boolean;
  waitSeconds: number;
}

/**
 * Per-key limits that must hold for a person wherever they are connected: in memory on one
 * node (`MemoryRateLimits`), in Redis in a cluster (`RedisRateLimits`). Keys name the limit
 * and its subject (e.g. `chat:<consult>:<user>`).
 */
export interface RateLimits {
  /** Takes `cost` tokens from `key`'s bucket (created full) if it holds them. */
  take(key: string, rate: Rate, cost?: number): Promise<Take>;
  /**
   * Adds `costs[i]` to `key`'s counter `i` in its fixed window of `windowMs` (which starts at
   * its first count), unless one would pass `limits[i]`; then nothing is counted.
   */
  count(key: string, windowMs: number, costs: number[], limits: number[]): Promise<Take>;
  /** Drops the keys that start with `prefix` (a consult ended); Redis lets them expire instead. */
  forget(prefix: string): void;
}

/** `RateLimits` in this process's memory: one node, or a cluster node while Redis is down. */
export class MemoryRateLimits implements RateLimits {
  readonly #buckets = new Map<string, TokenBucket>();
  readonly #windows = new Map<string, { resetAt: number; used: number[] }>();
  #nextSweep = 0;

  constructor(private readonly now: Clock = Date.now) {}

  take(key: string, rate: Rate, cost = 1): Promise<Take> {
    this.#sweep();
    let bucket = this.#buckets.get(key);
    if (!bucket)
      this.#buckets.set(key, (bucket = new TokenBucket(rate.perSecond, rate.burst, this.now)));
    const ok = bucket.take(cost);
    return Promise.resolve({ ok, waitSeconds: ok ? 0 : bucket.waitSeconds(cost) });
  }

  count(key: string, windowMs: number, costs: number[], limits: number[]): Promise<Take> {
    this.#sweep();
    const now = this.now();
    let w = this.#windows.get(key);
    if (!w || w.resetAt <= now) {
      w = { resetAt: now + windowMs, used: costs.map(() => 0) };
      this.#windows.set(key, w);
    }
    const { used, resetAt } = w;
    if (costs.some((c, i) => (used[i] ?? 0) + c > limits[i]!)) {
      return Promise.resolve({
        ok: false,
        waitSeconds: Math.max(1, Math.ceil((resetAt - now) / 1000)),
      });
    }
    costs.forEach((c, i) => (used[i] = (used[i] ?? 0) + c));
    return Promise.resolve({ ok: true, waitSeconds: 0 });
  }

  forget(prefix: string): void {
    for (const map of [this.#buckets, this.#windows])
      for (const key of map.keys()) if (key.startsWith(prefix)) map.delete(key);
  }

  /** Once a minute, drops full buckets and ended windows: memory follows the active keys. */
  #sweep(): void {
    const now = this.now();
    if (now < this.#nextSweep) return;
    this.#nextSweep = now + 60_000;
    for (const [key, bucket] of this.#buckets) if (bucket.full()) this.#buckets.delete(key);
    for (const [key, w] of this.#windows) if (w.resetAt <= now) this.#windows.delete(key);
  }
}
