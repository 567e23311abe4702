/**
 * The waiting rooms of live consults: who waits to be admitted, and who was admitted (so a
 * participant who reconnects during the consult does not wait again).
 */
import { TypedEmitter } from '../util/TypedEmitter.js';

export interface LobbyEntry {
  peerId: string;
  userId: string;
  displayName: string;
  role: string;
  socketId: string;
  since: number;
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

  add(consultId: string, entry: LobbyEntry): void {
    let m = this.#waiting.get(consultId);
    if (!m) this.#waiting.set(consultId, (m = new Map()));
    m.set(entry.peerId, entry);
    this.safeEmit('waiting', consultId, entry);
  }

  /** Takes someone out of the lobby because they left it themselves. */
  withdraw(consultId: string, peerId: string): LobbyEntry | undefined {
    const entry = this.remove(consultId, peerId);
    if (entry) this.safeEmit('withdrew', consultId, entry);
    return entry;
  }

  /** Refuses someone waiting; undefined when nobody waits under that id. */
  deny(consultId: string, peerId: string, reason: string): LobbyEntry | undefined {
    const entry = this.remove(consultId, peerId);
    if (entry) this.safeEmit('denied', consultId, entry, reason);
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
  }
}
