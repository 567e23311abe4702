/**
 * The host's short message to someone in the waiting room ("5 minutes"): only to a person
 * waiting in the host's own consult, at most LOBBY_MESSAGE_MAX_CHARS, and rate-limited per
 * host and consult so a waiting guest cannot be flooded.
 */
import type { LobbyStore } from '../consults/Lobby.js';
import { GatewayError } from '../errors.js';
import { MemoryRateLimits, type RateLimits } from '../signalling/rateLimit.js';

/** A host may send a burst of this many, then one every LOBBY_MESSAGE_INTERVAL_S seconds. */
export const LOBBY_MESSAGE_BURST = 3;
export const LOBBY_MESSAGE_INTERVAL_S = 10;

export interface LobbyMessageDelivery {
  /** The waiting person's socket. */
  socketId: string;
  displayName: string;
  at: number;
}

const RATE = { perSecond: 1 / LOBBY_MESSAGE_INTERVAL_S, burst: LOBBY_MESSAGE_BURST };

export class LobbyMessages {
  constructor(
    private readonly lobby: LobbyStore,
    /** Token buckets per consult and host (shared by every node in a cluster). */
    private readonly rates: RateLimits = new MemoryRateLimits(),
    private readonly now: () => number = Date.now,
  ) {}

  /** Where to deliver `peerId`'s message, or why not (not waiting here, too many messages). */
  async send(consultId: string, hostId: string, peerId: string): Promise<LobbyMessageDelivery> {
    const entry = (await this.lobby.list(consultId)).find((e) => e.peerId === peerId);
    if (!entry) throw new GatewayError('not_found', `nobody waits in the lobby as ${peerId}`);
    const taken = await this.rates.take(`lobbymsg\u0000${consultId}\u0000${hostId}`, RATE);
    if (!taken.ok) {
      throw new GatewayError(
        'rate_limited',
        `too many messages to the waiting room; wait ${taken.waitSeconds} s`,
      );
    }
    return { socketId: entry.socketId, displayName: entry.displayName, at: this.now() };
  }

  /** Drops a consult's limits when it ends. */
  forget(consultId: string): void {
    this.rates.forget(`lobbymsg\u0000${consultId}\u0000`);
  }
}

const perLobby = new WeakMap<LobbyStore, LobbyMessages>();

export interface LobbyMessageContext {
  lobby: LobbyStore;
  /** Where the per-host limit is counted (default: this process's memory). */
  rates?: RateLimits;
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
    messages = new LobbyMessages(ctx.lobby, ctx.rates);
    perLobby.set(ctx.lobby, messages);
  }
  const d = await messages.send(ctx.consultId, ctx.host.id, req.peerId);
  const at = new Date(d.at).toISOString();
  ctx.deliver(d.socketId, { text: req.text, at, from: ctx.host.name });
  ctx.audit(req.peerId, d.displayName, req.text.length);
  return { at };
}
