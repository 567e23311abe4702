/**
 * The lobby in Redis, for a cluster: a guest may wait on one node while the host admits from
 * another. Same rules as the in-memory `Lobby` (one entry per identity, admitted users come back
 * without waiting, a denied guest waits a cooldown); its events are emitted on the node that
 * made the change, so the record gets each once. A removal (admit, deny, withdraw) takes effect
 * for the one caller whose HDEL removed the entry.
 */
import { z } from 'zod';
import type { LobbyEntry, LobbyStore } from '../consults/Lobby.js';
import { GatewayError } from '../errors.js';
import { TypedEmitter } from '../util/TypedEmitter.js';
import { assertReady, KEY_PREFIX, type Redis } from './redis.js';

const key = (consultId: string, part: 'lobby' | 'admitted' | 'denied') =>
  `${KEY_PREFIX}consult:${consultId}:${part}`;
/** A consult's lobby keys outlive a crashed cluster by at most this long. */
const TTL_SECONDS = 24 * 3600;

const text = z.string().max(300);
const entrySchema = z.object({
  peerId: z.string().min(1).max(200),
  userId: z.string().min(1).max(200),
  displayName: text,
  alias: text.optional(),
  role: z.string().max(50),
  socketId: z.string().min(1).max(200),
  since: z.number(),
  redeemedAt: z.number().optional(),
});

type LobbyEvents = {
  waiting: [consultId: string, entry: LobbyEntry];
  admitted: [consultId: string, entry: LobbyEntry];
  denied: [consultId: string, entry: LobbyEntry, reason: string];
  withdrew: [consultId: string, entry: LobbyEntry];
};

export class RedisLobby extends TypedEmitter<LobbyEvents> implements LobbyStore {
  #redis: Redis | undefined;

  constructor(
    private readonly denyCooldownMs = 0,
    private readonly now: () => number = Date.now,
  ) {
    super();
  }

  /** Uses the cluster's Redis connection (made after the lobby, before any socket connects). */
  use(redis: Redis): void {
    this.#redis = redis;
  }

  get #r(): Redis {
    if (!this.#redis) throw new GatewayError('unavailable', 'the lobby is not ready; try again');
    assertReady(this.#redis);
    return this.#redis;
  }

  async #touch(consultId: string, part: 'lobby' | 'admitted' | 'denied'): Promise<void> {
    await this.#r.expire(key(consultId, part), TTL_SECONDS);
  }

  async list(consultId: string): Promise<LobbyEntry[]> {
    const raw = await this.#r.hGetAll(key(consultId, 'lobby'));
    const entries: LobbyEntry[] = [];
    for (const value of Object.values(raw)) {
      const parsed = parse(value);
      if (parsed) entries.push(parsed);
    }
    return entries.sort((a, b) => a.since - b.since);
  }

  async add(
    consultId: string,
    entry: LobbyEntry,
  ): Promise<{ entry: LobbyEntry; replaced?: LobbyEntry }> {
    const previous = (await this.list(consultId)).find((e) => e.userId === entry.userId);
    const stored = previous ? { ...entry, peerId: previous.peerId, since: previous.since } : entry;
    await this.#r.hSet(key(consultId, 'lobby'), stored.peerId, JSON.stringify(stored));
    await this.#touch(consultId, 'lobby');
    if (previous) return { entry: stored, replaced: previous };
    this.safeEmit('waiting', consultId, stored);
    return { entry: stored };
  }

  async deniedFor(consultId: string, userId: string): Promise<number> {
    const until = Number((await this.#r.hGet(key(consultId, 'denied'), userId)) ?? 0);
    return Math.max(0, until - this.now());
  }

  /** Takes the entry out; only the caller that removed it gets it. */
  async #take(consultId: string, peerId: string): Promise<LobbyEntry | undefined> {
    const raw = await this.#r.hGet(key(consultId, 'lobby'), peerId);
    if (!raw) return undefined;
    const removed = await this.#r.hDel(key(consultId, 'lobby'), peerId);
    return removed === 1 ? parse(raw) : undefined;
  }

  async withdraw(consultId: string, peerId: string): Promise<LobbyEntry | undefined> {
    const entry = await this.#take(consultId, peerId);
    if (entry) this.safeEmit('withdrew', consultId, entry);
    return entry;
  }

  async deny(consultId: string, peerId: string, reason: string): Promise<LobbyEntry | undefined> {
    const entry = await this.#take(consultId, peerId);
    if (!entry) return undefined;
    if (entry.role === 'guest' && this.denyCooldownMs > 0) {
      const until = this.now() + this.denyCooldownMs;
      await this.#r.hSet(key(consultId, 'denied'), entry.userId, String(until));
      await this.#touch(consultId, 'denied');
    }
    this.safeEmit('denied', consultId, entry, reason);
    return entry;
  }

  async admit(consultId: string, peerId: string): Promise<LobbyEntry | undefined> {
    const entry = await this.#take(consultId, peerId);
    if (!entry) return undefined;
    await this.#r.hSet(key(consultId, 'admitted'), entry.userId, entry.peerId);
    await this.#touch(consultId, 'admitted');
    this.safeEmit('admitted', consultId, entry);
    return entry;
  }

  async admittedPeerId(consultId: string, userId: string): Promise<string | undefined> {
    return (await this.#r.hGet(key(consultId, 'admitted'), userId)) ?? undefined;
  }

  async revokeAdmission(consultId: string, userId: string): Promise<void> {
    await this.#r.hDel(key(consultId, 'admitted'), userId);
  }

  async clear(consultId: string): Promise<void> {
    await this.#r.del([
      key(consultId, 'lobby'),
      key(consultId, 'admitted'),
      key(consultId, 'denied'),
    ]);
  }
}

function parse(raw: string): LobbyEntry | undefined {
  try {
    const parsed = entrySchema.safeParse(JSON.parse(raw));
    if (!parsed.success) return undefined;
    const { alias, redeemedAt, ...rest } = parsed.data;
    return {
      ...rest,
      ...(alias === undefined ? {} : { alias }),
      ...(redeemedAt === undefined ? {} : { redeemedAt }),
    };
  } catch {
    return undefined;
  }
}
