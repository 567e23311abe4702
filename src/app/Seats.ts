/**
 * Which connection speaks for each seat (peer) of one consult. A seat outlives its connection
 * for a grace period, so its events go to whatever connection holds it now. Each holder gets a
 * resume secret: only a connection that shows it may take the seat over later.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Peer } from '../sfu/Peer.js';
import type { GracePeriods, SeatRef } from './gracePeriods.js';
import type { Connection } from './ports.js';

const digest = (secret: string) => createHash('sha256').update(secret).digest();

export class Seats {
  readonly #holders = new Map<string, Connection>();
  readonly #graceTimers = new Map<string, NodeJS.Timeout>();
  /** peerId → sha256 of the secret its current holder was given. */
  readonly #secrets = new Map<string, Buffer>();

  /**
   * `grace` (a cluster): grace periods kept in Redis, so that they outlive this node and the
   * seat can be taken back through any node; without it, timers of this process.
   */
  constructor(
    private readonly consultId = '',
    private readonly grace?: GracePeriods,
  ) {}

  /** A new resume secret for the seat's current holder (the previous one stops working). */
  issueSecret(peerId: string): string {
    const secret = randomBytes(32).toString('base64url');
    this.#secrets.set(peerId, digest(secret));
    return secret;
  }

  /** Whether `secret` is the seat's current resume secret (compared in constant time). */
  proves(peerId: string, secret: string | undefined): boolean {
    const expected = this.#secrets.get(peerId);
    return (
      secret !== undefined && expected !== undefined && timingSafeEqual(expected, digest(secret))
    );
  }

  holderOf(peerId: string): Connection | undefined {
    return this.#holders.get(peerId);
  }

  hold(peer: Peer, conn: Connection): void {
    clearTimeout(this.#graceTimers.get(peer.id));
    this.#graceTimers.delete(peer.id);
    this.#holders.set(peer.id, conn);
    // Its grace period, started here or on the node it moved from, ends (an expiry that
    // raced this finds the seat held: `expired` leaves it).
    this.grace?.cancel(this.#ref(peer.id)).catch(() => undefined);
  }

  /** The holder dropped: keep the seat for `graceMs`, then close it unless someone took it. */
  release(peer: Peer, conn: Connection, graceMs: number): void {
    if (this.#holders.get(peer.id) !== conn) return;
    this.#holders.delete(peer.id);
    if (graceMs <= 0) {
      peer.close('disconnected');
      return;
    }
    if (this.grace) {
      // Redis unreachable: this node's own timer ends the seat instead.
      this.grace.start(this.#ref(peer.id), graceMs).catch(() => this.#startTimer(peer, graceMs));
      return;
    }
    this.#startTimer(peer, graceMs);
  }

  /** The seat's grace period ran out (in a cluster, on the node that holds it): closed unless taken back. */
  expired(peer: Peer): void {
    if (!this.#holders.has(peer.id) && !peer.closed) peer.close('disconnected');
  }

  #ref(seatId: string): SeatRef {
    return { consultId: this.consultId, seatId };
  }

  #startTimer(peer: Peer, graceMs: number): void {
    clearTimeout(this.#graceTimers.get(peer.id));
    const timer = setTimeout(() => {
      this.#graceTimers.delete(peer.id);
      if (!this.#holders.has(peer.id)) peer.close('disconnected');
    }, graceMs);
    timer.unref();
    this.#graceTimers.set(peer.id, timer);
  }

  forget(peerId: string): void {
    clearTimeout(this.#graceTimers.get(peerId));
    this.#graceTimers.delete(peerId);
    this.#holders.delete(peerId);
    this.#secrets.delete(peerId);
  }
}
