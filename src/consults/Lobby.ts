/**
 * The waiting rooms of live consults: who waits to be admitted (one entry per identity), who
 * was admitted (so a participant who reconnects during the consult does not wait again), and
 * who was denied recently (so they cannot come straight back).
 */
import { TypedEmitter } from '../util/TypedEmitter.js';

export interface LobbyEntry {
  peerId: string;
  userId: string;
  /** The name the gateway vouches for (account, or the invite's guest name). */
  displayName: string;
  /** The name they chose to show, when it differs from displayName. */
  alias?: string;
  role: string;
  socketId: string;
  since: number;
  /** Guests: when they redeemed their invite. */
  redeemedAt?: number;
}

type LobbyEvents = {
  waiting: [consultId: string, entry: LobbyEntry];
  admitted: [consultId: string, entry: LobbyEntry];
  denied: [consultId: string, entry: LobbyEntry, reason: string];
  /** Left the lobby on their own (disconnected or gave up). */
  withdrew: [consultId: string, entry: LobbyEntry];
};

export class Lobby extends TypedEmitter<LobbyEvents> {
  readonly #waiting = new Map<string, Map<string, LobbyEntry>>();
  /** consultId → userId → the peerId they were admitted with. */
  readonly #admitted = new Map<string, Map<string, string>>();
  /** consultId → userId → until when (ms) they may not wait again. */
  readonly #denied = new Map<string, Map<string, number>>();

  /** `denyCooldownMs`: how long a guest the host denied may not wait again. */
  constructor(
    private readonly denyCooldownMs = 0,
    private readonly now: () => number = Date.now,
  ) {
    super();
  }

  /**
   * Puts someone in the waiting room. One entry per identity: when `entry.userId` waits
   * already (another socket of theirs), that entry is taken over (same peerId and waiting
   * time, this socket and name) and the one it replaced is returned.
   */
  add(consultId: string, entry: LobbyEntry): { entry: LobbyEntry; replaced?: LobbyEntry } {
    let m = this.#waiting.get(consultId);
    if (!m) this.#waiting.set(consultId, (m = new Map()));
    const previous = [...m.values()].find((e) => e.userId === entry.userId);
    if (previous) {
      const merged = { ...entry, peerId: previous.peerId, since: previous.since };
      m.set(previous.peerId, merged);
      return { entry: merged, replaced: previous };
    }
    m.set(entry.peerId, entry);
    this.safeEmit('waiting', consultId, entry);
    return { entry };
  }

  /** How many ms until a recently denied user may wait again (0: they may now). */
  deniedFor(consultId: string, userId: string): number {
    const until = this.#denied.get(consultId)?.get(userId) ?? 0;
    return Math.max(0, until - this.now());
  }

  /** Takes someone out of the lobby because they left it themselves. */
  withdraw(consultId: string, peerId: string): LobbyEntry | undefined {
    const entry = this.remove(consultId, peerId);
    if (entry) this.safeEmit('withdrew', consultId, entry);
    return entry;
  }

  /**
   * Refuses someone waiting; undefined when nobody waits under that id. A denied guest may
   * not wait again for the configured cooldown (accounts are named participants: they may).
   */
  deny(consultId: string, peerId: string, reason: string): LobbyEntry | undefined {
    const entry = this.remove(consultId, peerId);
    if (!entry) return undefined;
    if (entry.role === 'guest' && this.denyCooldownMs > 0) {
      let m = this.#denied.get(consultId);
      if (!m) this.#denied.set(consultId, (m = new Map()));
      const now = this.now();
      for (const [id, until] of m) if (until <= now) m.delete(id);
      m.set(entry.userId, now + this.denyCooldownMs);
    }
    this.safeEmit('denied', consultId, entry, reason);
    return entry;
  }

  remove(consultId: string, peerId: string): LobbyEntry | undefined {
    const m = this.#waiting.get(consultId);
    const entry = m?.get(peerId);
    m?.delete(peerId);
    if (m && m.size === 0) this.#waiting.delete(consultId);
    return entry;
  }

  list(consultId: string): LobbyEntry[] {
    return [...(this.#waiting.get(consultId)?.values() ?? [])].sort((a, b) => a.since - b.since);
  }

  /** Moves a waiting participant to the admitted set; undefined when nobody waits under that id. */
  admit(consultId: string, peerId: string): LobbyEntry | undefined {
    const entry = this.remove(consultId, peerId);
    if (!entry) return undefined;
    let m = this.#admitted.get(consultId);
    if (!m) this.#admitted.set(consultId, (m = new Map()));
    m.set(entry.userId, entry.peerId);
    this.safeEmit('admitted', consultId, entry);
    return entry;
  }

  /** The peerId a user was admitted with, if they were admitted to this consult. */
  admittedPeerId(consultId: string, userId: string): string | undefined {
    return this.#admitted.get(consultId)?.get(userId);
  }

  revokeAdmission(consultId: string, userId: string): void {
    this.#admitted.get(consultId)?.delete(userId);
  }

  /** Forgets a consult entirely (it ended). */
  clear(consultId: string): void {
    this.#waiting.delete(consultId);
    this.#admitted.delete(consultId);
    this.#denied.delete(consultId);
  }
}

type Maybe<T> = T | Promise<T>;

/**
 * What the app layer needs of a lobby: the in-memory `Lobby` on a single node, the Redis one
 * (`cluster/RedisLobby.ts`) when the consult's participants may wait and host on other nodes.
 */
export interface LobbyStore extends Pick<TypedEmitter<LobbyEvents>, 'on'> {
  add(consultId: string, entry: LobbyEntry): Maybe<{ entry: LobbyEntry; replaced?: LobbyEntry }>;
  deniedFor(consultId: string, userId: string): Maybe<number>;
  withdraw(consultId: string, peerId: string): Maybe<LobbyEntry | undefined>;
  deny(consultId: string, peerId: string, reason: string): Maybe<LobbyEntry | undefined>;
  list(consultId: string): Maybe<LobbyEntry[]>;
  admit(consultId: string, peerId: string): Maybe<LobbyEntry | undefined>;
  admittedPeerId(consultId: string, userId: string): Maybe<string | undefined>;
  revokeAdmission(consultId: string, userId: string): Maybe<void>;
  clear(consultId: string): Maybe<void>;
}
