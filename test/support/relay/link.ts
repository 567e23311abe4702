/**
 * One direction of an impaired link: loss (random and Gilbert-Elliott bursts) → token bucket
 * with a bounded queue → delay and jitter → delivery. Datagram links drop (loss, full queue,
 * cut); stream links (TCP frames) never drop: they stall during a cut and push back on the
 * sender when the queue is full.
 */
import { performance } from 'node:perf_hooks';
import {
  bucketBytes,
  queueLimitBytes,
  type EffectiveLinkSettings,
  type LinkSettings,
} from './settings.js';

export interface LinkStats {
  /** Packets (datagrams or TCP frames) offered to the link. */
  packets: number;
  bytes: number;
  delivered: number;
  deliveredBytes: number;
  droppedLoss: number;
  droppedQueue: number;
  droppedCut: number;
  droppedBlocked: number;
}

export const emptyStats = (): LinkStats => ({
  packets: 0,
  bytes: 0,
  delivered: 0,
  deliveredBytes: 0,
  droppedLoss: 0,
  droppedQueue: 0,
  droppedCut: 0,
  droppedBlocked: 0,
});

export function addStats(into: LinkStats, s: LinkStats): LinkStats {
  for (const k of Object.keys(into) as (keyof LinkStats)[]) into[k] += s[k];
  return into;
}

export interface LinkOptions {
  mode: 'datagram' | 'stream';
  /** Read for every packet, so changes apply at once. */
  settings: () => EffectiveLinkSettings;
  deliver: (packet: Buffer) => void;
  /** Draws the loss decisions (seeded, so a run can be replayed). */
  random: () => number;
  /** Draws jitter; its own stream, so jitter does not shift the loss draws. Default: `random`. */
  jitterRandom?: () => number;
  /** The clock, ms (default performance.now); tests pass a fake one with fake timers. */
  now?: () => number;
  /** Stream mode: called with true when the queue is over its bound, false when it drained. */
  onBackpressure?: (full: boolean) => void;
}

interface Timed {
  due: number;
  packet: Buffer;
}

export class Link {
  readonly stats = emptyStats();
  readonly #o: LinkOptions;
  readonly #now: () => number;
  readonly #jitter: () => number;
  // Gilbert-Elliott state.
  #bad = false;
  // Token bucket and its queue.
  #tokens = 0;
  #refilledAt: number;
  readonly #queue: Buffer[] = [];
  #queuedBytes = 0;
  #drainTimer: NodeJS.Timeout | undefined;
  #pushedBack = false;
  // Delay line, sorted by due time.
  readonly #line: Timed[] = [];
  #lastDue = 0;
  #lineTimer: NodeJS.Timeout | undefined;
  #lineTimerAt = Infinity;
  #closed = false;

  constructor(options: LinkOptions) {
    this.#o = options;
    this.#now = options.now ?? (() => performance.now());
    this.#jitter = options.jitterRandom ?? options.random;
    this.#refilledAt = this.#now();
    this.#tokens = bucketBytes(options.settings());
  }

  /** Bytes waiting for tokens now. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** Offers a packet; false when it was dropped. */
  push(packet: Buffer): boolean {
    if (this.#closed) return false;
    const s = this.#o.settings();
    const now = this.#now();
    this.stats.packets++;
    this.stats.bytes += packet.length;
    if (this.#o.mode === 'datagram') {
      if (s.blocked) return this.#drop('droppedBlocked');
      if (now < s.cutUntil) return this.#drop('droppedCut');
      if (this.#lost(s)) return this.#drop('droppedLoss');
    }
    if (s.rateBps === null && this.#queue.length === 0) {
      this.#toLine(packet, s, now);
      return true;
    }
    this.#refill(s, now);
    if (this.#queue.length === 0 && this.#hasTokens(packet, s) && now >= s.cutUntil) {
      this.#tokens -= packet.length;
      this.#toLine(packet, s, now);
      return true;
    }
    const limit = queueLimitBytes(s);
    if (this.#o.mode === 'datagram' && this.#queuedBytes + packet.length > limit) {
      return this.#drop('droppedQueue');
    }
    this.#queue.push(packet);
    this.#queuedBytes += packet.length;
    if (this.#o.mode === 'stream' && !this.#pushedBack && this.#queuedBytes > limit) {
      this.#pushedBack = true;
      this.#o.onBackpressure?.(true);
    }
    this.#drain();
    return true;
  }

  /** Re-reads the settings (after `relay.set()`): a new rate applies to what is queued. */
  kick(): void {
    if (this.#closed) return;
    this.#drain();
    this.#armLine();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#drainTimer);
    clearTimeout(this.#lineTimer);
    this.#queue.length = 0;
    this.#line.length = 0;
    this.#queuedBytes = 0;
  }

  #drop(reason: 'droppedLoss' | 'droppedQueue' | 'droppedCut' | 'droppedBlocked'): false {
    this.stats[reason]++;
    return false;
  }

  #lost(s: LinkSettings): boolean {
    const rnd = this.#o.random;
    if (s.burst) {
      const b = s.burst;
      this.#bad = this.#bad ? rnd() >= b.r : rnd() < b.p;
      const p = this.#bad ? (b.lossInBad ?? 1) : (b.lossInGood ?? 0);
      if (p > 0 && rnd() < p) return true;
    }
    return s.loss > 0 && rnd() < s.loss;
  }

  /**
   * A packet may go once the bucket holds its size, or is full when the packet is bigger
   * than the bucket (a large TCP frame); the balance then goes negative and is paid back.
   */
  #hasTokens(packet: Buffer, s: LinkSettings): boolean {
    return this.#tokens >= Math.min(packet.length, bucketBytes(s));
  }

  /**
   * Adds the tokens earned since the last refill. The bucket depth only bounds what an idle
   * link saves up: while packets wait, the link was busy all along, so a timer that fired
   * late (a busy event loop) must not cost the link capacity.
   */
  #refill(s: LinkSettings, now: number): void {
    const depth = bucketBytes(s);
    if (s.rateBps !== null) {
      const earned = this.#tokens + ((now - this.#refilledAt) * s.rateBps) / 8000;
      this.#tokens = this.#queue.length ? earned : Math.min(depth, earned);
    } else {
      this.#tokens = depth;
    }
    this.#refilledAt = now;
  }

  /** Releases queued packets the bucket has tokens for; re-arms itself for the rest. */
  #drain(): void {
    clearTimeout(this.#drainTimer);
    this.#drainTimer = undefined;
    const s = this.#o.settings();
    const now = this.#now();
    this.#refill(s, now);
    if (now < s.cutUntil && this.#o.mode === 'stream') {
      // A cut TCP link holds its bytes until the link is back.
      this.#drainTimer = setTimeout(() => this.#drain(), s.cutUntil - now + 1).unref();
      return;
    }
    while (this.#queue.length) {
      const head = this.#queue[0]!;
      if (s.rateBps !== null && !this.#hasTokens(head, s)) break;
      this.#queue.shift();
      this.#queuedBytes -= head.length;
      if (s.rateBps !== null) this.#tokens -= head.length;
      this.#toLine(head, s, now);
    }
    // Idle again: no more saved up than the bucket holds.
    if (!this.#queue.length) this.#tokens = Math.min(this.#tokens, bucketBytes(s));
    if (this.#pushedBack && this.#queuedBytes <= queueLimitBytes(s) / 2) {
      this.#pushedBack = false;
      this.#o.onBackpressure?.(false);
    }
    if (this.#queue.length && s.rateBps !== null) {
      const needed = Math.min(this.#queue[0]!.length, bucketBytes(s));
      const wait = ((needed - this.#tokens) * 8000) / s.rateBps;
      this.#drainTimer = setTimeout(() => this.#drain(), Math.max(1, wait)).unref();
    }
  }

  #toLine(packet: Buffer, s: EffectiveLinkSettings, now: number): void {
    let delay = s.delayMs;
    if (s.jitterMs > 0) delay = Math.max(0, delay + s.jitterMs * (2 * this.#jitter() - 1));
    let due = now + delay;
    if (!s.reorder || this.#o.mode === 'stream') due = Math.max(due, this.#lastDue);
    // A cut stream holds its bytes until the link is back (a cut datagram was dropped already).
    if (this.#o.mode === 'stream') due = Math.max(due, s.cutUntil);
    this.#lastDue = due;
    if (due <= now && this.#line.length === 0) {
      this.#deliver(packet);
      return;
    }
    // Insert keeping the line sorted by due time (usually at the end).
    let i = this.#line.length;
    while (i > 0 && this.#line[i - 1]!.due > due) i--;
    this.#line.splice(i, 0, { due, packet });
    this.#armLine();
  }

  #armLine(): void {
    const head = this.#line[0];
    if (!head) return;
    if (this.#lineTimer && this.#lineTimerAt <= head.due) return;
    clearTimeout(this.#lineTimer);
    this.#lineTimerAt = head.due;
    this.#lineTimer = setTimeout(
      () => {
        this.#lineTimer = undefined;
        this.#lineTimerAt = Infinity;
        this.#flushLine();
      },
      Math.max(0, head.due - this.#now()),
    ).unref();
  }

  #flushLine(): void {
    const now = this.#now();
    // Timers fire on whole milliseconds: deliver what is due within half a millisecond.
    while (this.#line.length && this.#line[0]!.due <= now + 0.5) {
      const { packet } = this.#line.shift()!;
      const s = this.#o.settings();
      if (now < s.cutUntil) {
        if (this.#o.mode === 'datagram') {
          this.stats.droppedCut++;
          continue;
        }
        // Stream: hold everything until the link is back.
        this.#line.unshift({ due: s.cutUntil, packet });
        for (const t of this.#line) t.due = Math.max(t.due, s.cutUntil);
        this.#lastDue = Math.max(this.#lastDue, s.cutUntil);
        break;
      }
      this.#deliver(packet);
    }
    this.#armLine();
  }

  #deliver(packet: Buffer): void {
    this.stats.delivered++;
    this.stats.deliveredBytes += packet.length;
    try {
      this.#o.deliver(packet);
    } catch (err) {
      console.error('relay: delivering a packet failed', err);
    }
  }
}
