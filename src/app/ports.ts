/**
 * What the app layer needs from the outside: a client connection (a Socket.IO socket in
 * production, a fake in unit tests) and the services it drives.
 */
import type { AuditLog } from '../audit/AuditLog.js';
import type { JoinClaims } from '../auth/tokens.js';
import type { Admission, ConsultService } from '../consults/ConsultService.js';
import type { LobbyStore } from '../consults/Lobby.js';
import type { Logger } from '../logger.js';
import type { GracePeriods } from './gracePeriods.js';
import type { ChatEntry, PeerInfo } from '../protocol/payloads.js';
import type { ServerToClientEvents } from '../protocol/serverEvents.js';
import type { types } from 'mediasoup';
import type { ConsumerAppData, Peer } from '../sfu/Peer.js';
import type { Room } from '../sfu/Room.js';

export type ServerMessage<E extends keyof ServerToClientEvents> = Parameters<
  ServerToClientEvents[E]
>[0];

/** One client connection to a consult, as the app layer sees it. */
export interface Connection {
  readonly id: string;
  /** The verified join grant it connected with. */
  readonly claims: JoinClaims;
  /** The client's address and User-Agent, for the audit log and the record. */
  readonly ip: string;
  readonly userAgent: string | undefined;
  /**
   * What the check at connect read (consult, vouched name), kept current by the session's
   * events; absent: the session reads them when it needs them.
   */
  admission?: Admission;
  /** The seat this connection speaks for (set by the session). */
  peer: Peer | undefined;
  /** Set while it waits in the lobby. */
  waitingPeerId: string | undefined;
  send<E extends keyof ServerToClientEvents>(event: E, msg: ServerMessage<E>): void;
  /** It now receives the consult's broadcasts as this seat (undefined: as none). */
  bindSeat(peer: Peer | undefined): void;
  /** Ends the connection (after the ack of the event being handled). */
  close(): void;
}

/** The consult services a session calls (ConsultService in production). */
export type ConsultPort = Pick<
  ConsultService,
  'find' | 'vouchedName' | 'markLive' | 'end' | 'authorizeJoin' | 'lastParticipantLeft'
>;

/** Where a consult's media lives (RoomRegistry in production). */
export interface RoomPort {
  getOrCreate(consultId: string): Promise<Room>;
  readonly rooms: ReadonlyMap<string, Room>;
}

/** The chat history a join carries (ChatPolicy in production). */
export interface ChatPort {
  onJoin(consultId: string): Promise<JoinChat> | JoinChat;
  forget(consultId: string): void;
}
export type JoinChat = { chat: ChatEntry[]; chatHasMore: boolean };

/**
 * Which node hosts each participant and producer of a consult: `LocalPlacement` on a single
 * node (everything is in this node's room), the Redis directory and pipe bridge in a cluster.
 */
export interface MediaPlacement {
  /** The consult's participants seated on other nodes, with their producers. */
  remotePeers(consultId: string): Promise<PeerInfo[]>;
  /**
   * Starts bringing the consult's producers on other nodes here for a joiner about to consume
   * them, without waiting (cluster only): the pipes are negotiated while the join goes on.
   */
  prepare?(consultId: string): void;
  /**
   * Resolves once other nodes can find this node's new producer `producerId` (cluster only), so
   * whoever hears of it from the producing client can consume it through any node.
   */
  listed?(producerId: string): Promise<void>;
  /** Consumes producer `producerId` of the consult for `peer`, wherever the producer lives. */
  consume(
    room: Room,
    peer: Peer,
    producerId: string,
    rtpCapabilities: types.RtpCapabilities,
  ): Promise<types.Consumer<ConsumerAppData>>;
  /** The seat `userId` holds on another live node, if any. */
  seatElsewhere(consultId: string, userId: string): Promise<string | undefined>;
  /** How many of the consult's seats other (live) nodes hold. */
  seatsElsewhere(consultId: string): Promise<number>;
  /**
   * Takes over `userId`'s seat on another node (dead or alive) when `resumeSecret` proves it:
   * the seat moves here atomically. Undefined when no such seat or the secret does not prove
   * it; `seat_taken` when another connection took it over first. Absent on a single node.
   */
  claimSeat?(
    consultId: string,
    userId: string,
    resumeSecret: string | undefined,
  ): Promise<MovedSeat | undefined>;
  /** The claimed seat was not taken after all (the join failed before seating it). */
  unclaimSeat?(consultId: string, peerId: string): void;
  /** The public URLs of the nodes taking participants now, this one first (cluster only). */
  entryPoints?(): Promise<string[]>;
  /** Records the seat's new resume secret where other nodes can check it (its digest only). */
  seatSecret?(consultId: string, peerId: string, resumeSecret: string): Promise<void>;
  /** Who holds seat `peerId` of the consult on another node, alive or dead (cluster only). */
  remoteSeat?(consultId: string, peerId: string): Promise<{ userId: string } | undefined>;
  /**
   * Removes seat `peerId` of the consult held on another node, following it if it moves (cluster
   * only): `removed` there (its holder told `consultEnded`, everyone `peerLeft`), `dead` (its
   * node is down: its entry dropped here, nobody told yet), `here` (it moved to this node),
   * `gone` (no such seat any more). `unavailable` when its node does not answer.
   */
  removeElsewhere?(consultId: string, peerId: string, message?: string): Promise<RemoteRemoval>;
}

/** What removing a seat held on another node came to. */
export type RemoteRemoval = 'removed' | 'dead' | 'here' | 'gone';

/** A seat that moved here from another node (failover). */
export interface MovedSeat {
  peerId: string;
  fromNode: string;
  /** The seat's producers on the old node: gone, others are told `producerClosed`. */
  producersGone: string[];
  /**
   * The old node is draining and alive: it keeps the seat's old media flowing until the client
   * lets go of it (make-before-break), and announces its producers' end itself.
   */
  handover?: boolean;
}

/** A cluster node that is draining: it seats nobody new and names where to go instead. */
export interface DrainState {
  draining(): boolean;
  /** The public URL of a node that takes participants now, if any. */
  target(): Promise<string | undefined>;
}

/** Sockets on other nodes of a cluster (absent on a single node). */
export interface OtherNodes {
  /** Sends to a connection of this consult on whatever node it is. */
  send<E extends keyof ServerToClientEvents>(
    socketId: string,
    event: E,
    msg: ServerMessage<E>,
  ): void;
  /** Ends a connection on whatever node it is. */
  close(socketId: string): void;
  /** The consult's lobby changed: the other nodes tell their hosts (`lobbyChanged`). */
  lobbyChanged(consultId: string): void;
  /** Tells the consult's other participants, on every node, that a producer is gone. */
  producerClosed(consultId: string, peerId: string, producerId: string): void;
  /** Tells the consult's participants, on every node, that a seat of a dead node left. */
  peerLeft(consultId: string, peerId: string): void;
}

export interface SessionDeps {
  consults: ConsultPort;
  lobby: LobbyStore;
  rooms: RoomPort;
  placement: MediaPlacement;
  otherNodes?: OtherNodes;
  audit: Pick<AuditLog, 'record'>;
  chat: ChatPort;
  /** How long a seat whose connection dropped is kept (media and all) before it closes. */
  graceMs: number;
  /** Cluster only: grace periods in Redis (one node: timers of the session's own). */
  grace?: GracePeriods;
  /** Cluster only: whether this node is draining, and where to send joins instead. */
  drain?: DrainState;
  logger: Logger;
}
