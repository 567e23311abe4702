/**
 * Socket.IO signalling: authenticates each connection once, by its join grant (and that the
 * consult and the participant are valid), hands it to its consult's session (src/app), and
 * registers the thin handlers of each concern. Room events are relayed to the consult's sockets.
 */
import type { Server, Socket } from 'socket.io';
import { ConsultSessions } from '../app/ConsultSessions.js';
import type { GracePeriods } from '../app/gracePeriods.js';
import { localPlacement } from '../app/LocalPlacement.js';
import type { DrainState, MediaPlacement } from '../app/ports.js';
import type { AuditLog } from '../audit/AuditLog.js';
import type { SessionRevocations } from '../auth/SessionRevocations.js';
import { verifyJoinToken } from '../auth/tokens.js';
import type { SignallingLimits } from '../config.js';
import type { Admission, ConsultService } from '../consults/ConsultService.js';
import type { LobbyStore } from '../consults/Lobby.js';
import { GatewayError } from '../errors.js';
import { lazyChild, type Logger } from '../logger.js';
import type { ClientToServerEvents } from '../protocol/events.js';
import type { ServerToClientEvents } from '../protocol/serverEvents.js';
import type { ConsultRecorder } from '../clinicalRecord/ConsultRecorder.js';
import type { QualitySampler } from '../clinicalRecord/QualitySampler.js';
import type { Peer } from '../sfu/Peer.js';
import type { Room } from '../sfu/Room.js';
import type { RoomRegistry } from '../sfu/RoomRegistry.js';
import { names } from '../app/views.js';
import { ChatPolicy } from './chat.js';
import { limitEvents } from './handler.js';
import { chatHandlers } from './handlers/chat.js';
import type { HandlerContext } from './handlers/context.js';
import { lobbyHandlers } from './handlers/lobby.js';
import { mediaHandlers } from './handlers/media.js';
import { moderationHandlers } from './handlers/moderation.js';
import { sessionHandlers } from './handlers/session.js';
import { defaultEventLimits, type RateLimits } from './rateLimit.js';
import { otherNodes } from './otherNodes.js';
import { watchPeerLinks } from './peerLinks.js';
import { SocketConnection, consultKey, peerKey, type SocketData } from './SocketConnection.js';

export { LOBBY_NOTIFY_MS } from '../app/LobbyNotifier.js';
export type { SocketData };

export type SignallingServer = Server<
  ClientToServerEvents,
  ServerToClientEvents,
  object,
  SocketData
>;

export interface SignallingDeps {
  rooms: RoomRegistry;
  /** Where each participant's media lives (default: all on this node). */
  placement?: MediaPlacement;
  /** Cluster only: a draining node takes no new connections or seats and says where to go. */
  drain?: DrainState;
  consults: ConsultService;
  lobby: LobbyStore;
  audit: AuditLog;
  recorder: ConsultRecorder;
  sampler: QualitySampler;
  /** Refuses revoked accounts' grants, and says when to end their sockets. */
  sessions: SessionRevocations;
  jwtSecret: string;
  /** How long a peer whose socket dropped keeps its place (and media) before it is removed. */
  reconnectGraceMs: number;
  /** Cluster only: where grace periods are kept (Redis), so they outlive this node. */
  gracePeriods?: GracePeriods;
  /** Event and chat rate limits, chat history bounds. */
  limits: SignallingLimits;
  /** Where per-participant limits (chat, lobby messages) are counted; default: this process. */
  rateLimits?: RateLimits;
  /** The client's address from a handshake, by the same proxy rule as HTTP (default: TCP peer). */
  clientAddress?: (handshake: Socket['handshake']) => string;
  logger: Logger;
}

/** What each connection's check read (kept off socket.data, which a cluster adapter ships). */
const admissions = new WeakMap<Socket, Admission>();

/** The handler files, one per concern; a new event goes into one of them. */
const handlerGroups = [
  sessionHandlers,
  mediaHandlers,
  lobbyHandlers,
  moderationHandlers,
  chatHandlers,
];

export function attachSignalling(io: SignallingServer, deps: SignallingDeps): ConsultSessions {
  const { consults, sessions, jwtSecret } = deps;
  const log = deps.logger.child({ component: 'signalling' });
  const chat = new ChatPolicy(deps.recorder, deps.limits.chat, deps.rateLimits);
  // In a cluster (placement given) the lobby and its deliveries reach the other nodes.
  const remote = deps.placement ? otherNodes(io) : undefined;
  const live = new ConsultSessions({
    ...(remote ? { otherNodes: remote } : {}),
    consults,
    rooms: deps.rooms,
    placement: deps.placement ?? localPlacement,
    sessions,
    lobby: deps.lobby,
    audit: deps.audit,
    chat,
    graceMs: deps.reconnectGraceMs,
    ...(deps.gracePeriods ? { grace: deps.gracePeriods } : {}),
    ...(deps.drain ? { drain: deps.drain } : {}),
    logger: log,
  });
  remote?.listen(live);

  // The grant and the consult are checked here, once per connection; what could change them
  // later (consult closed or changed, invite or sessions revoked) ends the connection.
  io.use((socket, next) => {
    void (async () => {
      if (deps.drain?.draining()) {
        // Before the grant is even read: the client goes to `url` and joins there.
        const url = await deps.drain.target().catch(() => undefined);
        throw new GatewayError(
          'node_draining',
          `this server is shutting down for a restart: connect to ${url ?? 'another server of the cluster'}`,
          undefined,
          url,
        );
      }
      const claims = verifyJoinToken(jwtSecret, socket.handshake.auth?.token);
      const epoch = sessions.epoch;
      const admission = await consults.admit(claims);
      // The account as just read: no second read, unless a revocation landed meanwhile.
      await sessions.assertJoin(claims, { user: admission.user, epoch });
      socket.data.claims = claims;
      admissions.set(socket, admission);
    })().then(
      () => next(),
      (err: unknown) => {
        const e =
          err instanceof GatewayError ? err : new GatewayError('unauthorized', 'invalid token');
        const refusal = new Error(e.message) as Error & { data: unknown };
        refusal.data = { code: e.code, ...(e.url ? { url: e.url } : {}) };
        next(refusal);
      },
    );
  });

  deps.rooms.on('roomCreated', (room) => relayRoomEvents(io, room));
  deps.sampler.on('sampled', (consultId, samples) =>
    io.to(consultKey(consultId)).emit('quality', { samples }),
  );

  const eventLimits = {
    ...defaultEventLimits,
    perSecond: deps.limits.eventsPerSecond,
    burst: deps.limits.eventBurst,
  };
  io.on('connection', (socket) => {
    limitEvents(socket, eventLimits);
    const ip = deps.clientAddress?.(socket.handshake) ?? socket.handshake.address;
    const conn = new SocketConnection(socket, ip, admissions.get(socket));
    const session = live.connected(conn);
    const { claims } = conn;
    const ctx: HandlerContext = {
      io,
      socket,
      conn,
      session,
      chat,
      deps,
      log: lazyChild(log, {
        socketId: socket.id,
        userId: claims.sub,
        consultId: claims.consultId,
      }),
    };
    for (const register of handlerGroups) register(ctx);
    socket.on('disconnect', (reason) => {
      ctx.log.debug({ reason }, 'socket disconnected');
      session
        .disconnected(conn)
        .catch((err: unknown) => ctx.log.error({ err }, 'disconnect handling failed'));
    });
  });
  return live;
}

/** Relays a room's events to the sockets of its peers. */
function relayRoomEvents(io: SignallingServer, room: Room): void {
  const key = consultKey(room.consultId);
  const others = (peer: Peer) => io.to(key).except(peerKey(peer.id));
  room.on('peerJoined', (peer) => {
    // A seat that moved here from another node is known to everyone already.
    if (peer.identity.movedFrom !== undefined) return;
    others(peer).emit('peerJoined', {
      peerId: peer.id,
      ...names(peer.identity),
      role: peer.identity.role,
    });
  });
  room.on('peerLeft', (peer, reason) => {
    // The seat goes on on another node.
    if (reason !== 'moved') others(peer).emit('peerLeft', { peerId: peer.id });
  });
  room.on('newProducer', (peer, producer) =>
    others(peer).emit('newProducer', {
      peerId: peer.id,
      producerId: producer.id,
      kind: producer.kind,
      appData: { source: producer.appData.source },
    }),
  );
  room.on('producerClosed', (peer, producerId) =>
    others(peer).emit('producerClosed', { peerId: peer.id, producerId }),
  );
  room.on('producerPaused', (peer, producerId) =>
    others(peer).emit('producerPaused', { peerId: peer.id, producerId }),
  );
  room.on('producerResumed', (peer, producerId) =>
    others(peer).emit('producerResumed', { peerId: peer.id, producerId }),
  );
  // Each node names the speaker among what its own participants hear (its microphones and
  // those piped in from other nodes): only to its own sockets, or two nodes would contradict.
  room.on('activeSpeaker', (peerId) => io.local.to(key).emit('activeSpeaker', { peerId }));
  watchPeerLinks(room, io.of('/').adapter, peerKey, (p, m) => others(p).emit('peerConnection', m));
  // Only this node's sockets: in a cluster the consult goes on with the sockets of other nodes.
  room.on('close', () => io.local.in(key).socketsLeave(key));
}
