/**
 * The app layer's reach into other nodes of a cluster, over the Socket.IO adapter: a socket id
 * is a room on every node, and server-side events go to every other node.
 */
import { z } from 'zod';
import type { ConsultSessions } from '../app/ConsultSessions.js';
import type { OtherNodes } from '../app/ports.js';
import type { SignallingServer } from './server.js';
import { consultKey, peerKey } from './SocketConnection.js';

const LOBBY_CHANGED = 'telemed:lobbyChanged';
const consultIdSchema = z.string().min(1).max(200);

/** Sends, ends and notifies through the adapter; `listen` starts taking the other nodes' notes. */
export function otherNodes(io: SignallingServer): OtherNodes & {
  listen(live: ConsultSessions): void;
} {
  // Server-side events are not part of the client protocol's types.
  const nodes = io as unknown as {
    serverSideEmit(event: string, ...args: unknown[]): boolean;
    on(event: string, listener: (...args: unknown[]) => void): unknown;
  };
  return {
    send: (socketId, event, msg) =>
      void (io.to(socketId).emit as (e: string, m: unknown) => boolean)(event, msg),
    close: (socketId) => io.in(socketId).disconnectSockets(true),
    lobbyChanged: (consultId) => void nodes.serverSideEmit(LOBBY_CHANGED, consultId),
    producerClosed: (consultId, peerId, producerId) =>
      void io
        .to(consultKey(consultId))
        .except(peerKey(peerId))
        .emit('producerClosed', { peerId, producerId }),
    peerLeft: (consultId, peerId) =>
      void io.to(consultKey(consultId)).except(peerKey(peerId)).emit('peerLeft', { peerId }),
    listen(live) {
      nodes.on(LOBBY_CHANGED, (consultId: unknown) => {
        const parsed = consultIdSchema.safeParse(consultId);
        if (parsed.success) live.find(parsed.data)?.lobbyChangedElsewhere();
      });
    },
  };
}
