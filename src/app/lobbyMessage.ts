/**
 * The host's short message to someone in the waiting room ("5 minutes"): only to a person
 * waiting in the host's own consult, at most LOBBY_MESSAGE_MAX_CHARS, and rate-limited per
 * host and consult so a waiting guest cannot be flooded.
 */
import type { LobbyStore } from '../consults/Lobby.js';
import { GatewayError } from '../errors.js';
import { TokenBucket, type Clock } from '../signalling/rateLimit.js';

/** A host may send a burst of this many, then one every LOBBY_MESSAGE_INTERVAL_S seconds. */
export const LOBBY_MESSAGE_BURST = 3;
export const LOBBY_MESSAGE_INTERVAL_S = 10;

export interface LobbyMessageDelivery {
  /** The waiting person's socket. */
  socketId: string;
  displayName: string;
  at: number;
}

export class LobbyMessages {
  readonly #buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly lobby: LobbyStore,
    private readonly now: Clock = Date.now,
  ) {}

  /** Where to deliver `peerId`'s message, or why not (not waiting here, too many messages). */
  async send(consultId: string, hostId: string, peerId: string): Promise<LobbyMessageDelivery> {
    const entry = (await this.lobby.list(consultId)).find((e) => e.peerId === peerId);
    if (!entry) throw new GatewayError('not_found', `nobody waits in the lobby as ${peerId}`);
    const key = `${consultId}\u0000${hostId}`;
    let bucket = this.#buckets.get(key);
    if (!bucket) {
      bucket = new TokenBucket(1 / LOBBY_MESSAGE_INTERVAL_S, LOBBY_MESSAGE_BURST, this.now);
      this.#buckets.set(key, bucket);
    }
    if (!bucket.take()) {
      throw new GatewayError(
        'rate_limited',
        `too many messages to the waiting room; wait ${bucket.waitSeconds()} s`,
      );
    }
    return { socketId: entry.socketId, displayName: entry.displayName, at: this.now() };
  }

  /** Drops a consult's limits when it ends. */
  forget(consultId: string): void {
    for (const key of this.#buckets.keys()) {
      if (key.startsWith(`${consultId}\u0000`)) this.#buckets.delete(key);
    }
  }
}

const perLobby = new WeakMap<LobbyStore, LobbyMessages>();

export interface LobbyMessageContext {
  lobby: LobbyStore;
  consultId: string;
  host: { id: string; name: string };
  /** Throws unless the caller is joined and may admit in this consult. */
  authorize(): void | Promise<void>;
  deliver(socketId: string, msg: { text: string; at: string; from: string }): void;
  audit(peerId: string, displayName: string, length: number): void;
}

/** The `lobbyMessage` event: checks, limits, delivers to the waiting socket, audits. */
export async function lobbyMessage(
  ctx: LobbyMessageContext,
  req: { peerId: string; text: string },
): Promise<{ at: string }> {
  await ctx.authorize();
  let messages = perLobby.get(ctx.lobby);
  if (!messages) {
    messages = new LobbyMessages(ctx.lobby);
    perLobby.set(ctx.lobby, messages);
  }
  const d = await messages.send(ctx.consultId, ctx.host.id, req.peerId);
  const at = new Date(d.at).toISOString();
  ctx.deliver(d.socketId, { text: req.text, at, from: ctx.host.name });
  ctx.audit(req.peerId, d.displayName, req.text.length);
  return { at };
}
