/**
 * Ordered, retried writes for the consult record: a write that fails is reported and retried
 * with backoff (later writes wait behind it, so order is kept), never silently dropped.
 */
import type { Logger } from '../logger.js';

interface Pending {
  label: string;
  write: () => void;
  attempts: number;
}

export class WriteQueue {
  readonly #queue: Pending[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly maxDelayMs = 5000,
  ) {}

  /** Writes now if nothing is waiting; otherwise (or on failure) queues the write for retry. */
  write(label: string, write: () => void): void {
    this.#queue.push({ label, write, attempts: 0 });
    if (this.#queue.length === 1) this.#drain();
  }

  /** Writes still waiting for a retry (for health and metrics). */
  get pending(): number {
    return this.#queue.length;
  }

  #drain(): void {
    this.#timer = undefined;
    while (this.#queue.length) {
      const next = this.#queue[0]!;
      try {
        next.write();
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
        this.#timer = setTimeout(() => this.#drain(), delay);
        this.#timer.unref();
        return;
      }
    }
  }

  /** Tries every queued write once more (at shutdown); returns how many are still unwritten. */
  flush(): number {
    clearTimeout(this.#timer);
    this.#drain();
    clearTimeout(this.#timer);
    return this.#queue.length;
  }
}
