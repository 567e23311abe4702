/** Counts failures per key in a sliding window; blocks a key once it reaches the limit. */
export class FailureThrottle {
  readonly #failures = new Map<string, number[]>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  #recent(key: string): number[] {
    const cutoff = this.now() - this.windowMs;
    const list = (this.#failures.get(key) ?? []).filter((t) => t > cutoff);
    if (list.length) this.#failures.set(key, list);
    else this.#failures.delete(key);
    return list;
  }

  /** Seconds until the key may try again, or 0 when it is not blocked. */
  retryAfter(key: string): number {
    const list = this.#recent(key);
    if (list.length < this.limit) return 0;
    return Math.max(
      1,
      Math.ceil((list[list.length - this.limit]! + this.windowMs - this.now()) / 1000),
    );
  }

  fail(key: string): void {
    const list = this.#recent(key);
    list.push(this.now());
    this.#failures.set(key, list);
  }

  reset(key: string): void {
    this.#failures.delete(key);
  }
}
