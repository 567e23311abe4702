/**
 * Ordered, retried writes for the consult record: a write that fails is reported and retried
 * with backoff (later writes wait behind it, so order is kept), never silently dropped.
 * With a batcher, the writes waiting at a time go in order into one transaction (one commit,
 * one fsync, instead of one each); a batch that fails is undone whole and its writes are
 * then written one by one, so the failing one is found and retried as above.
 */
import type { Logger } from '../logger.js';

/** A write, given where to write: the batch's transaction, or the batcher's `alone` target. */
type Write<C> = (into: C) => Promise<unknown> | unknown;

export interface WriteBatcher<C> {
  /** Where a write goes when written by itself. */
  alone: C;
  /** Runs fn inside one transaction: every write it makes lands, or none does. */
  together(fn: (into: C) => Promise<void>): Promise<unknown>;
}

interface Pending<C> {
  label: string;
  write: Write<C>;
  attempts: number;
}

/** At most this many writes go into one transaction. */
const MAX_BATCH = 200;

export class WriteQueue<C = void> {
  readonly #queue: Pending<C>[] = [];
  #timer: NodeJS.Timeout | undefined;
  /** One drain at a time, so the head of the queue is never written twice at once. */
  #draining = false;
  #drained: Promise<void> = Promise.resolve();

  constructor(
    private readonly logger: Logger,
    private readonly maxDelayMs = 5000,
    private readonly batcher?: WriteBatcher<C>,
  ) {}

  /** Starts the write now if nothing is waiting; otherwise (or on failure) queues it for retry. */
  write(label: string, write: Write<C>): void {
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
    // After the writes the current task still queues (a join queues two rows): one batch.
    this.#drained = Promise.resolve().then(() => this.#drain());
  }

  async #drain(): Promise<void> {
    /** Writes to take one by one (after a failed batch) before batching again. */
    let alone = 0;
    while (this.#queue.length) {
      if (this.batcher && alone === 0 && this.#queue.length > 1) {
        const batch = this.#queue.slice(0, MAX_BATCH);
        try {
          await this.batcher.together(async (into) => {
            for (const w of batch) await w.write(into);
          });
          this.#queue.splice(0, batch.length);
          continue;
        } catch {
          alone = batch.length;
        }
      }
      const next = this.#queue[0]!;
      try {
        await next.write(this.batcher?.alone as C);
        this.#queue.shift();
        if (alone > 0) alone--;
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
