/**
 * Ordered, retried writes for the consult record: a write that fails is reported and retried
 * with backoff (later writes wait behind it, so order is kept), never silently dropped.
 */
import type { Logger } from '../logger.js';

interface Pending {
  label: string;
  write: () => Promise<unknown> | unknown;
  attempts: number;
}

export class WriteQueue {
  readonly #queue: Pending[] = [];
  #timer: NodeJS.Timeout | undefined;
  /** One drain at a time, so the head of the queue is never written twice at once. */
  #draining = false;
  #drained: Promise<void> = Promise.resolve();

  constructor(
    private readonly logger: Logger,
    private readonly maxDelayMs = 5000,
  ) {}

  /** Starts the write now if nothing is waiting; otherwise (or on failure) queues it for retry. */
  write(label: string, write: () => Promise<unknown> | unknown): void {
    this.#queue.push({ label, write, attempts: 0 });
    this.#kick();
  }

  /** Writes still waiting (under way or for a retry; for health and metrics). */
  get pending(): number {
    return this.#queue.length;
  }

  /** Settles when the writes under way are done (not waiting out a retry): for read-your-writes. */
  async idle(): Promise<void> {
    while (this.#draining) await this.#drained;
  }

  #kick(): void {
    if (this.#draining || this.#timer || this.#queue.length === 0) return;
    this.#draining = true;
    this.#drained = this.#drain();
  }

  async #drain(): Promise<void> {
    while (this.#queue.length) {
      const next = this.#queue[0]!;
      try {
        await next.write();
        this.#queue.shift();
      } catch (err) {
        next.attempts++;
        const delay = Math.min(this.maxDelayMs, 50 * 2 ** next.attempts);
        this.logger.error(
          {
            err,
            write: next.label,
            attempts: next.attempts,
            pending: this.#queue.length,
            retryInMs: delay,
          },
          'consult record write failed; will retry',
        );
        this.#timer = setTimeout(() => {
          this.#timer = undefined;
          this.#kick();
        }, delay);
        this.#timer.unref();
        this.#draining = false;
        return;
      }
    }
    this.#draining = false;
  }

  #cancelRetry(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Waits for the writes under way, tries every queued write once more (at shutdown); returns how many are still unwritten. */
  async flush(): Promise<number> {
    this.#cancelRetry();
    await this.#drained;
    this.#cancelRetry();
    this.#kick();
    await this.#drained;
    this.#cancelRetry();
    return this.#queue.length;
  }
}
