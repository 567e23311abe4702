/**
 * Grace periods of seats whose connection dropped, behind one interface: timers in memory on
 * one node, entries in Redis in a cluster (`cluster/RedisGracePeriods.ts`), so that a seat's
 * grace period outlives the node that started it and `peerLeft` comes only from one that
 * expired, handled by exactly one node.
 */

/** A seat of a consult. */
export interface SeatRef {
  consultId: string;
  seatId: string;
}

/** Called for each expired grace period; the seat is then ended (peerLeft). */
export type ExpiredHandler = (seat: SeatRef) => void | Promise<void>;

export interface GracePeriods {
  /** Starts (or restarts) the seat's grace period: it expires `ms` from now unless cancelled. */
  start(seat: SeatRef, ms: number): Promise<void>;
  /**
   * The seat was taken back (on any node): its grace period ends without expiring. False when
   * none was running (it already expired and is being ended, or never started).
   */
  cancel(seat: SeatRef): Promise<boolean>;
  /**
   * Handles expired grace periods: each goes to one handler in the cluster; a handler that
   * throws (or whose node dies) gets it again later (Redis), so handlers must be idempotent.
   */
  onExpired(handler: ExpiredHandler): void;
  /** Stops the timers of this node (grace periods in Redis stay for the other nodes). */
  close(): void;
}

/** Grace periods as timers of this process (one node). */
export class MemoryGracePeriods implements GracePeriods {
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #handlers: ExpiredHandler[] = [];

  start(seat: SeatRef, ms: number): Promise<void> {
    const key = seatKey(seat);
    clearTimeout(this.#timers.get(key));
    const timer = setTimeout(() => {
      this.#timers.delete(key);
      for (const handle of this.#handlers)
        void Promise.resolve(seat)
          .then(handle)
          .catch(() => undefined);
    }, ms);
    timer.unref();
    this.#timers.set(key, timer);
    return Promise.resolve();
  }

  cancel(seat: SeatRef): Promise<boolean> {
    const key = seatKey(seat);
    const timer = this.#timers.get(key);
    clearTimeout(timer);
    this.#timers.delete(key);
    return Promise.resolve(timer !== undefined);
  }

  onExpired(handler: ExpiredHandler): void {
    this.#handlers.push(handler);
  }

  close(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }
}

/** One string per seat (NUL cannot occur in either id). */
export const seatKey = (seat: SeatRef) => `${seat.consultId}\u0000${seat.seatId}`;

/** The seat a `seatKey` names. */
export function seatOfKey(key: string): SeatRef | undefined {
  const at = key.indexOf('\u0000');
  if (at <= 0 || at === key.length - 1) return undefined;
  return { consultId: key.slice(0, at), seatId: key.slice(at + 1) };
}
