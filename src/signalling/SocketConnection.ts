/** A Socket.IO socket as the app layer's Connection, and the socket.io rooms it broadcasts by. */
import type { Socket } from 'socket.io';
import type { Connection, ServerMessage } from '../app/ports.js';
import type { JoinClaims } from '../auth/tokens.js';
import type { Admission } from '../consults/ConsultService.js';
import type { ClientToServerEvents } from '../protocol/events.js';
import type { ServerToClientEvents } from '../protocol/serverEvents.js';
import type { Peer } from '../sfu/Peer.js';
import { whenIdle } from './handler.js';

/** A connection being ended waits this long at most for the events it is still handling. */
const CLOSE_AFTER_MS = 5000;

export interface SocketData {
  claims: JoinClaims;
  connection?: SocketConnection;
}
export type GatewaySocket = Socket<ClientToServerEvents, ServerToClientEvents, object, SocketData>;

export const consultKey = (consultId: string) => `consult:${consultId}`;
export const peerKey = (peerId: string) => `peer:${peerId}`;

export class SocketConnection implements Connection {
  peer: Peer | undefined;
  waitingPeerId: string | undefined;
  readonly claims: JoinClaims;
  readonly userAgent: string | undefined;

  constructor(
    readonly socket: GatewaySocket,
    readonly ip: string,
    public admission?: Admission,
  ) {
    this.claims = socket.data.claims;
    this.userAgent = socket.handshake.headers['user-agent']?.slice(0, 300);
    socket.data.connection = this;
  }

  get id(): string {
    return this.socket.id;
  }

  send<E extends keyof ServerToClientEvents>(event: E, msg: ServerMessage<E>): void {
    (this.socket.emit as (e: string, m: unknown) => boolean)(event, msg);
  }

  bindSeat(peer: Peer | undefined): void {
    const { socket } = this;
    for (const room of socket.rooms) {
      if (room.startsWith('consult:') || room.startsWith('peer:')) void socket.leave(room);
    }
    if (peer) void socket.join([consultKey(this.claims.consultId), peerKey(peer.id)]);
  }

  close(): void {
    // After the events it is handling (at most CLOSE_AFTER_MS): whoever asked gets the answer.
    void whenIdle(this.socket, CLOSE_AFTER_MS).then(() =>
      setImmediate(() => this.socket.disconnect(true)),
    );
  }
}
