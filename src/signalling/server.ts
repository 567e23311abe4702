/**
 * Socket.IO signalling: authenticates each connection by its join grant (and that the consult
 * and the participant are still valid), keeps non-hosts in the lobby until admitted, then
 * maps every client event onto the consult's Room and the caller's Peer. Handlers stay thin:
 * parse (in `handle`), check permission, call a domain object, ack.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { types } from 'mediasoup';
import type { Server, Socket } from 'socket.io';
import type { AuditLog } from '../audit/AuditLog.js';
import type { SessionRevocations } from '../auth/SessionRevocations.js';
import type { Grants, JoinClaims } from '../auth/tokens.js';
import { verifyJoinToken } from '../auth/tokens.js';
import type { ConsultService } from '../consults/ConsultService.js';
import type { Lobby, LobbyEntry } from '../consults/Lobby.js';
import { GatewayError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Peer } from '../sfu/Peer.js';
import type { Room } from '../sfu/Room.js';
import type { ConsultRecorder } from '../records/ConsultRecorder.js';
import type { QualitySampler } from '../records/QualitySampler.js';
import type { RoomRegistry } from '../sfu/RoomRegistry.js';
import type { SignallingLimits } from '../config.js';
import { ChatPolicy, chatEntry } from './chat.js';
import { handle, limitEvents } from './handler.js';
import { defaultEventLimits } from './rateLimit.js';
import type {
  ClientToServerEvents,
  LobbyEntryInfo,
  PeerInfo,
  PersonNames,
  ResumedState,
  Role,
  ServerToClientEvents,
  StatsResponse,
} from './messages.js';
import {
  LOBBY_LIST_MAX,
  admitRequest,
  chatHistoryRequest,
  chatMessageRequest,
  connectTransportRequest,
  consumeRequest,
  consumerRequest,
  createTransportRequest,
  denyRequest,
  emptyRequest,
  joinRequest,
  produceRequest,
  producerRequest,
  removePeerRequest,
  restartIceRequest,
  setPreferredLayersRequest,
} from './messages.js';

export interface SocketData {
  claims: JoinClaims;
  peer?: Peer;
  room?: Room;
  /** Set while this socket waits in the lobby. */
  waitingPeerId?: string;
}

export type SignallingServer = Server<
  ClientToServerEvents,
  ServerToClientEvents,
  object,
  SocketData
>;
type GatewaySocket = Socket<ClientToServerEvents, ServerToClientEvents, object, SocketData>;

export interface SignallingDeps {
  rooms: RoomRegistry;
  consults: ConsultService;
  lobby: Lobby;
  audit: AuditLog;
  recorder: ConsultRecorder;
  sampler: QualitySampler;
  /** Refuses revoked accounts' grants, and says when to end their sockets. */
  sessions: SessionRevocations;
  jwtSecret: string;
  /** How long a peer whose socket dropped keeps its place (and media) before it is removed. */
  reconnectGraceMs: number;
  /** Event and chat rate limits, chat history bounds. */
  limits: SignallingLimits;
  /** The client's address from a handshake, by the same proxy rule as HTTP (default: TCP peer). */
  clientAddress?: (handshake: Socket['handshake']) => string;
  logger: Logger;
}

const digest = (secret: string) => createHash('sha256').update(secret).digest();

/**
 * Which socket currently speaks for each peer. A peer outlives its socket for the grace period,
 * so peer events are delivered to whatever socket is attached now. Each attachment gets a
 * resume secret: only a socket that shows it may take the seat over later.
 */
class Attachments {
  readonly #sockets = new Map<string, GatewaySocket>();
  readonly #graceTimers = new Map<string, NodeJS.Timeout>();
  /** peerId → sha256 of the secret its current session was given. */
  readonly #secrets = new Map<string, Buffer>();

  /** A new resume secret for the session now attached to the peer (the previous one stops working). */
  issueSecret(peerId: string): string {
    const secret = randomBytes(32).toString('base64url');
    this.#secrets.set(peerId, digest(secret));
    return secret;
  }

  /** Whether `secret` is the peer's current resume secret (compared in constant time). */
  proves(peerId: string, secret: string | undefined): boolean {
    const expected = this.#secrets.get(peerId);
    return (
      secret !== undefined && expected !== undefined && timingSafeEqual(expected, digest(secret))
    );
  }

  socketOf(peerId: string): GatewaySocket | undefined {
    return this.#sockets.get(peerId);
  }

  attach(peer: Peer, socket: GatewaySocket): void {
    clearTimeout(this.#graceTimers.get(peer.id));
    this.#graceTimers.delete(peer.id);
    this.#sockets.set(peer.id, socket);
  }

  /** The socket dropped: keep the peer for `graceMs`, then close it unless someone re-attached. */
  detach(peer: Peer, socket: GatewaySocket, graceMs: number): void {
    if (this.#sockets.get(peer.id) !== socket) return;
    this.#sockets.delete(peer.id);
    if (graceMs <= 0) {
      peer.close('disconnected');
      return;
    }
    const timer = setTimeout(() => {
      this.#graceTimers.delete(peer.id);
      if (!this.#sockets.has(peer.id)) peer.close('disconnected');
    }, graceMs);
    timer.unref();
    this.#graceTimers.set(peer.id, timer);
  }

  forget(peerId: string): void {
    clearTimeout(this.#graceTimers.get(peerId));
    this.#graceTimers.delete(peerId);
    this.#sockets.delete(peerId);
    this.#secrets.delete(peerId);
  }
}

/** At most one `lobbyChanged` per consult per this many ms; a burst of changes becomes one message. */
export const LOBBY_NOTIFY_MS = 200;

/**
 * Tells a consult's hosts who waits: the first change at once, later ones within
 * LOBBY_NOTIFY_MS as one message, each listing at most LOBBY_LIST_MAX entries.
 */
class LobbyNotifier {
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #lastSent = new Map<string, number>();

  constructor(
    private readonly io: SignallingServer,
    private readonly lobby: Lobby,
  ) {}

  changed(consultId: string): void {
    if (this.#timers.has(consultId)) return;
    const wait = (this.#lastSent.get(consultId) ?? -Infinity) + LOBBY_NOTIFY_MS - Date.now();
    if (wait <= 0) {
      this.#send(consultId);
      return;
    }
    const timer = setTimeout(() => {
      this.#timers.delete(consultId);
      this.#send(consultId);
    }, wait);
    timer.unref();
    this.#timers.set(consultId, timer);
  }

  forget(consultId: string): void {
    clearTimeout(this.#timers.get(consultId));
    this.#timers.delete(consultId);
    this.#lastSent.delete(consultId);
  }

  #send(consultId: string): void {
    this.#lastSent.set(consultId, Date.now());
    this.io.to(hostsKey(consultId)).emit('lobbyChanged', lobbySnapshot(this.lobby, consultId));
  }
}

const consultKey = (consultId: string) => `consult:${consultId}`;
const hostsKey = (consultId: string) => `hosts:${consultId}`;
const lobbyKey = (consultId: string) => `lobby:${consultId}`;
const peerKey = (peerId: string) => `peer:${peerId}`;

/** Reasons a room closes that mean "the media path is gone, join again". */
const REJOIN_REASONS = new Set(['media_server_restarted', 'gateway_shutdown']);

/** The chosen name for tiles, with the vouched one beside it. */
const names = (who: { displayName: string; alias?: string }): PersonNames => ({
  displayName: who.alias ?? who.displayName,
  verifiedName: who.displayName,
});

const lobbyInfo = (e: LobbyEntry): LobbyEntryInfo => ({
  peerId: e.peerId,
  ...names(e),
  role: e.role as Role,
  since: new Date(e.since).toISOString(),
  ...(e.redeemedAt === undefined ? {} : { redeemedAt: new Date(e.redeemedAt).toISOString() }),
});

/** Who waits, bounded: the first LOBBY_LIST_MAX by waiting time, and how many in all. */
function lobbySnapshot(lobby: Lobby, consultId: string) {
  const all = lobby.list(consultId);
  return { waiting: all.slice(0, LOBBY_LIST_MAX).map(lobbyInfo), total: all.length };
}

export function attachSignalling(io: SignallingServer, deps: SignallingDeps): void {
  const { rooms, consults, lobby, sessions, jwtSecret } = deps;
  const log = deps.logger.child({ component: 'signalling' });
  const lobbyNotifier = new LobbyNotifier(io, lobby);

  io.use(async (socket, next) => {
    try {
      const claims = verifyJoinToken(jwtSecret, socket.handshake.auth?.token);
      const epoch = sessions.epoch;
      await consults.authorizeJoin(claims);
      await sessions.assertJoin(claims);
      // Sessions revoked while we read: this socket is not listed yet, so check it against them.
      if (sessions.epoch !== epoch) await sessions.assertJoin(claims);
      socket.data.claims = claims;
      next();
    } catch (err) {
      const e =
        err instanceof GatewayError ? err : new GatewayError('unauthorized', 'invalid token');
      const refusal = new Error(e.message) as Error & { data: unknown };
      refusal.data = { code: e.code };
      next(refusal);
    }
  });

  rooms.on('roomCreated', (room) => {
    broadcastRoomEvents(io, room);
    room.on('close', (reason) => {
      if (reason === 'empty')
        consults.lastParticipantLeft(room.consultId).catch((err: unknown) => {
          log.error({ err, consultId: room.consultId }, 'could not end the emptied consult');
        });
    });
  });

  const chat = new ChatPolicy(deps.recorder, deps.limits.chat);

  /**
   * Ends the consult for everyone connected to it (host ended it, or it was cancelled/ended via
   * the API). The sockets are collected first: closing the room takes them out of its rooms.
   */
  consults.on('consultClosed', (consult) => {
    const reason = consult.endReason ?? consult.status;
    const sockets = [...io.of('/').sockets.values()].filter(
      (s) => s.data.claims?.consultId === consult.id,
    );
    for (const socket of sockets) socket.emit('consultEnded', { reason });
    rooms.rooms.get(consult.id)?.close('consult_ended');
    lobby.clear(consult.id);
    chat.forget(consult.id);
    lobbyNotifier.forget(consult.id);
    for (const socket of sockets) socket.data.waitingPeerId = undefined;
    // After the current event: the host who ended it gets the ack of `endConsult` first.
    setImmediate(() => {
      for (const socket of sockets) socket.disconnect(true);
    });
  });

  consults.on('inviteRevoked', (invite) => {
    for (const socket of io.of('/').sockets.values()) {
      if (socket.data.claims?.inviteId !== invite.id) continue;
      socket.emit('consultEnded', { reason: 'invite_revoked' });
      lobby.revokeAdmission(invite.consultId, socket.data.claims.sub);
      socket.disconnect(true);
    }
  });

  /** A revoked user (or login) is out at once: told why, peer closed with no grace, socket closed. */
  sessions.on('sessionsRevoked', ({ userId, familyId }) => {
    for (const socket of io.of('/').sockets.values()) {
      const c = socket.data.claims;
      if (!c || c.inviteId || c.sub !== userId) continue;
      if (familyId !== undefined && c.sid !== familyId) continue;
      socket.emit('consultEnded', { reason: 'access_revoked' });
      socket.data.peer?.close('access_revoked');
      socket.disconnect(true);
    }
    // Seats of the user kept for a dropped socket's grace period go too.
    if (familyId !== undefined) return;
    for (const room of [...rooms.rooms.values()]) {
      for (const peer of [...room.peers.values()]) {
        if (peer.identity.userId === userId) peer.close('access_revoked');
      }
    }
  });

  deps.sampler.on('sampled', (consultId, samples) =>
    io.to(consultKey(consultId)).emit('quality', { samples }),
  );

  const attachments = new Attachments();
  const eventLimits = {
    ...defaultEventLimits,
    perSecond: deps.limits.eventsPerSecond,
    burst: deps.limits.eventBurst,
  };
  io.on('connection', (socket) => {
    limitEvents(socket, eventLimits);
    registerHandlers(io, socket, deps, attachments, lobbyNotifier, log, chat);
  });
}

/** Relays a room's events to the sockets of its peers. */
function broadcastRoomEvents(io: SignallingServer, room: Room): void {
  const key = consultKey(room.consultId);
  const others = (peer: Peer) => io.to(key).except(peerKey(peer.id));
  room.on('peerJoined', (peer) =>
    others(peer).emit('peerJoined', {
      peerId: peer.id,
      ...names(peer.identity),
      role: peer.identity.role,
    }),
  );
  room.on('peerLeft', (peer) => others(peer).emit('peerLeft', { peerId: peer.id }));
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
  room.on('activeSpeaker', (peerId) => io.to(key).emit('activeSpeaker', { peerId }));
  room.on('close', () => io.in(key).socketsLeave(key));
}

/** What a participant taking over its seat still has on the server. */
function resumedState(peer: Peer): ResumedState {
  return {
    transports: [...peer.transports.values()].map(({ transport, direction }) => ({
      id: transport.id,
      direction,
    })),
    producers: [...peer.producers.values()].map((p) => ({
      producerId: p.id,
      kind: p.kind,
      appData: { source: p.appData.source },
      paused: p.paused,
    })),
    consumers: [...peer.consumers.values()].map((c) => ({
      consumerId: c.id,
      producerId: c.producerId,
      kind: c.kind,
      paused: c.paused,
      pausedForBandwidth: peer.bandwidth.isVideoPaused(c.id),
    })),
  };
}

function peerInfo(peer: Peer): PeerInfo {
  return {
    peerId: peer.id,
    ...names(peer.identity),
    role: peer.identity.role,
    producers: [...peer.producers.values()].map((p) => ({
      producerId: p.id,
      kind: p.kind,
      appData: { source: p.appData.source },
      paused: p.paused,
    })),
  };
}

function registerHandlers(
  io: SignallingServer,
  socket: GatewaySocket,
  deps: SignallingDeps,
  attachments: Attachments,
  lobbyNotifier: LobbyNotifier,
  logger: Logger,
  chat: ChatPolicy,
): void {
  const { rooms, consults, lobby, audit } = deps;
  const claims = socket.data.claims;
  const consultId = claims.consultId;
  const ip = deps.clientAddress?.(socket.handshake) ?? socket.handshake.address;
  const actor = { id: claims.sub, label: claims.name };
  const log = logger.child({ socketId: socket.id, userId: claims.sub, consultId });
  const record = (
    action: string,
    object: { type: string; id: string } = { type: 'consult', id: consultId },
    details?: Record<string, unknown>,
  ) =>
    audit.record({ action, actor, ip, object, details: { consultId, ...details } }).then(
      () => undefined,
      (err: unknown) => log.error({ err, action }, 'audit write failed'),
    );
  let joining = false;

  const joined = (): Peer => {
    const peer = socket.data.peer;
    if (!peer || peer.closed) throw new GatewayError('not_joined', 'join the consult first');
    return peer;
  };

  /** Privileged events re-check the grant and that the bearer is still allowed in. */
  const privileged = async (grant: keyof Grants): Promise<void> => {
    if (!claims.grants[grant])
      throw new GatewayError('forbidden', `you may not ${grant} in this consult`);
    await consults.authorizeJoin(claims);
    await deps.sessions.assertJoin(claims);
  };

  /** Takes a socket off its peer (the peer itself lives on). */
  const unbind = (target: GatewaySocket) => {
    const peer = target.data.peer;
    target.data.peer = undefined;
    target.data.room = undefined;
    void target.leave(consultKey(consultId));
    void target.leave(hostsKey(consultId));
    if (peer) void target.leave(peerKey(peer.id));
  };

  /** Peer events go to whichever socket is attached to the peer at the time. */
  const wirePeer = (peer: Peer) => {
    const toOwner = () => attachments.socketOf(peer.id);
    peer.on('consumerClosed', (consumerId) => toOwner()?.emit('consumerClosed', { consumerId }));
    // The server's bandwidth adaptation, told to the receiver it adapts for.
    peer.bandwidth.on('videoPaused', ({ consumerId }) =>
      toOwner()?.emit('videoPaused', { consumerId, reason: 'bandwidth' }),
    );
    peer.bandwidth.on('videoResumed', ({ consumerId }) =>
      toOwner()?.emit('videoResumed', { consumerId }),
    );
    peer.bandwidth.on('forwardedLayers', ({ consumerId, spatialLayer, temporalLayer }) =>
      toOwner()?.emit('layersChanged', { consumerId, spatialLayer, temporalLayer }),
    );
    peer.once('close', (reason) => {
      const owner = attachments.socketOf(peer.id);
      attachments.forget(peer.id);
      if (owner) {
        unbind(owner);
        if (REJOIN_REASONS.has(reason)) owner.emit('rejoinRequired', { reason });
      }
      if (reason === 'left' || reason === 'disconnected') {
        void record('consult.leave', undefined, { peerId: peer.id, reason });
      }
    });
  };

  const notifyLobby = () => lobbyNotifier.changed(consultId);

  /** Ends a socket that another connection of the same person replaced. */
  const endReplaced = (target: GatewaySocket) => {
    target.data.waitingPeerId = undefined;
    unbind(target);
    void target.leave(lobbyKey(consultId));
    target.emit('consultEnded', { reason: 'joined_from_another_connection' });
    target.disconnect(true);
  };

  handle(
    socket,
    log,
    'join',
    joinRequest,
    async ({ consultId: requested, displayName, networkType, resumeSecret }) => {
      if (requested !== consultId) {
        throw new GatewayError('forbidden', 'this grant does not admit you to that consult');
      }
      // Checked and claimed before the first await: two joins at once cannot both pass.
      if (joining || (socket.data.peer && !socket.data.peer.closed)) {
        throw new GatewayError('conflict', 'already joined; leave first');
      }
      joining = true;
      let vouched: string;
      try {
        await consults.authorizeJoin(claims);
        // The record names people by what the gateway vouches for; a chosen name is an alias.
        vouched = await consults.vouchedName(claims);
      } finally {
        joining = false;
      }
      const alias = displayName !== undefined && displayName !== vouched ? displayName : undefined;
      const mayAdmit = claims.grants.admit;
      const admittedAs = lobby.admittedPeerId(consultId, claims.sub);

      if (!mayAdmit && !admittedAs) {
        if (!socket.data.waitingPeerId) {
          const wait = lobby.deniedFor(consultId, claims.sub);
          if (wait > 0) {
            const minutes = Math.ceil(wait / 60_000);
            throw new GatewayError(
              'denied_recently',
              `the host did not admit you a moment ago; you can ask to join again in ${minutes} minute${minutes === 1 ? '' : 's'}`,
            );
          }
          const { entry, replaced } = lobby.add(consultId, {
            peerId: randomUUID(),
            userId: claims.sub,
            displayName: vouched,
            ...(alias === undefined ? {} : { alias }),
            role: claims.role,
            socketId: socket.id,
            since: Date.now(),
            ...(claims.redeemedAt === undefined ? {} : { redeemedAt: claims.redeemedAt }),
          });
          // One waiting entry per identity: this socket takes it over from the earlier one.
          const previous = replaced && io.of('/').sockets.get(replaced.socketId);
          if (previous && previous !== socket) endReplaced(previous);
          socket.data.waitingPeerId = entry.peerId;
          void socket.join(lobbyKey(consultId));
          if (!replaced) await record('consult.lobby_wait', undefined, { peerId: entry.peerId });
          notifyLobby();
        }
        return { waiting: true as const, peerId: socket.data.waitingPeerId };
      }

      joining = true;
      try {
        const room = await rooms.getOrCreate(consultId);
        // The same person already has a seat (their socket dropped, or they opened a second
        // tab): take it over, media and all, so the others see no leave and join. A guest must
        // prove it is the same session with the seat's resume secret; an account's own
        // connections may replace each other (its grant is issued to that logged-in account).
        const seat = [...room.peers.values()].find(
          (p) => p.identity.userId === claims.sub && !p.closed,
        );
        if (seat && claims.inviteId !== undefined && !attachments.proves(seat.id, resumeSecret)) {
          throw new GatewayError(
            'seat_taken',
            'you are already in this consult in another window (or your connection there is still being restored): close it, or try again in a minute',
          );
        }
        let peer: Peer;
        if (seat) {
          const previous = attachments.socketOf(seat.id);
          if (previous && previous !== socket) endReplaced(previous);
          peer = seat;
        } else {
          const userAgent = socket.handshake.headers['user-agent']?.slice(0, 300);
          peer = room.join(
            {
              userId: claims.sub,
              displayName: vouched,
              ...(alias === undefined ? {} : { alias }),
              role: claims.role,
              client: { userAgent, networkType },
            },
            socket.data.waitingPeerId ?? admittedAs,
          );
          wirePeer(peer);
        }
        attachments.attach(peer, socket);
        socket.data.waitingPeerId = undefined;
        socket.data.peer = peer;
        socket.data.room = room;
        void socket.leave(lobbyKey(consultId));
        void socket.join([consultKey(consultId), peerKey(peer.id)]);
        if (mayAdmit) {
          void socket.join(hostsKey(consultId));
          // The consult goes live when its host (not an observing admin) is in.
          if ((await consults.find(consultId))?.hostId === claims.sub)
            await consults.markLive(consultId);
        }
        await record(seat ? 'consult.resume' : 'consult.join', undefined, {
          peerId: peer.id,
          role: claims.role,
        });
        const waiting = mayAdmit ? lobbySnapshot(lobby, consultId) : undefined;
        return {
          peerId: peer.id,
          resumeSecret: attachments.issueSecret(peer.id),
          routerRtpCapabilities: room.router.rtpCapabilities,
          peers: [...room.peers.values()].filter((p) => p !== peer).map(peerInfo),
          ...(await chat.onJoin(consultId)),
          ...(waiting ? { lobby: waiting.waiting, lobbyTotal: waiting.total } : {}),
          ...(seat ? { resumed: resumedState(peer) } : {}),
        };
      } finally {
        joining = false;
      }
    },
  );

  handle(socket, log, 'createTransport', createTransportRequest, async ({ direction }) => {
    const transport = await joined().createTransport(direction);
    return {
      id: transport.id,
      iceParameters: transport.iceParameters,
      iceCandidates: transport.iceCandidates,
      dtlsParameters: transport.dtlsParameters,
    };
  });

  handle(socket, log, 'connectTransport', connectTransportRequest, async (req) => {
    await joined()
      .transport(req.transportId)
      .connect({ dtlsParameters: req.dtlsParameters as types.DtlsParameters });
    return {};
  });

  handle(socket, log, 'produce', produceRequest, async (req) => {
    joined();
    await privileged('publish');
    const peer = joined();
    const producer = await peer.produce(
      req.transportId,
      req.kind,
      req.rtpParameters as types.RtpParameters,
      req.appData.source,
    );
    return { producerId: producer.id };
  });

  handle(socket, log, 'consume', consumeRequest, async (req) => {
    joined();
    await privileged('subscribe');
    const peer = joined();
    const producer = socket.data.room!.findProducer(req.producerId);
    if (producer.appData.peerId === peer.id) {
      throw new GatewayError('bad_request', 'cannot consume your own producer');
    }
    const consumer = await peer.consume(producer, req.rtpCapabilities as types.RtpCapabilities);
    return {
      consumerId: consumer.id,
      producerId: producer.id,
      peerId: producer.appData.peerId,
      kind: consumer.kind,
      rtpParameters: consumer.rtpParameters,
      appData: { source: consumer.appData.source },
      producerPaused: consumer.producerPaused,
    };
  });

  handle(socket, log, 'resumeConsumer', consumerRequest, async ({ consumerId }) => {
    const peer = joined();
    peer.consumer(consumerId);
    // Through the adapter, so a client cannot undo a pause its bandwidth needs.
    const { pausedForBandwidth } = await peer.bandwidth.resume(consumerId);
    if (pausedForBandwidth) socket.emit('videoPaused', { consumerId, reason: 'bandwidth' });
    return {};
  });

  handle(socket, log, 'pauseProducer', producerRequest, async ({ producerId }) => {
    await joined().pauseProducer(producerId);
    return {};
  });

  handle(socket, log, 'resumeProducer', producerRequest, async ({ producerId }) => {
    await joined().resumeProducer(producerId);
    return {};
  });

  handle(socket, log, 'closeProducer', producerRequest, ({ producerId }) => {
    joined().closeProducer(producerId);
    return {};
  });

  handle(socket, log, 'setPreferredLayers', setPreferredLayersRequest, async (req) => {
    const consumer = joined().consumer(req.consumerId);
    if (consumer.type !== 'simulcast' && consumer.type !== 'svc') {
      throw new GatewayError('bad_request', `consumer ${req.consumerId} has no layers`);
    }
    // The adapter applies the lower of the client's choice and what the bandwidth allows.
    await joined().bandwidth.setPreferredLayers(consumer.id, {
      spatialLayer: req.spatialLayer,
      ...(req.temporalLayer === undefined ? {} : { temporalLayer: req.temporalLayer }),
    });
    return {};
  });

  handle(socket, log, 'restartIce', restartIceRequest, async ({ transportId }) => {
    const iceParameters = await joined().transport(transportId).restartIce();
    return { iceParameters };
  });

  handle(socket, log, 'getStats', emptyRequest, async () => collectStats(joined()));

  handle(socket, log, 'leave', emptyRequest, () => {
    if (socket.data.waitingPeerId) {
      lobby.withdraw(consultId, socket.data.waitingPeerId);
      socket.data.waitingPeerId = undefined;
      void socket.leave(lobbyKey(consultId));
      notifyLobby();
      return {};
    }
    joined().close('left');
    return {};
  });

  handle(socket, log, 'admit', admitRequest, async ({ peerId }) => {
    joined();
    await privileged('admit');
    const entry = lobby.admit(consultId, peerId);
    if (!entry) throw new GatewayError('not_found', `nobody waits in the lobby as ${peerId}`);
    io.to(entry.socketId).emit('admitted', {});
    await record(
      'consult.admit',
      { type: 'participant', id: entry.userId },
      { peerId, displayName: entry.displayName },
    );
    notifyLobby();
    return {};
  });

  handle(socket, log, 'deny', denyRequest, async ({ peerId, reason }) => {
    joined();
    await privileged('admit');
    const why = reason ?? 'the host did not admit you';
    const entry = lobby.deny(consultId, peerId, why);
    if (!entry) throw new GatewayError('not_found', `nobody waits in the lobby as ${peerId}`);
    const target = io.of('/').sockets.get(entry.socketId);
    if (target) {
      target.data.waitingPeerId = undefined;
      target.emit('denied', { reason: why });
      target.disconnect(true);
    }
    await record(
      'consult.deny',
      { type: 'participant', id: entry.userId },
      { peerId, displayName: entry.displayName },
    );
    notifyLobby();
    return {};
  });

  handle(socket, log, 'removePeer', removePeerRequest, async ({ peerId, reason }) => {
    joined();
    await privileged('admit');
    const self = joined();
    if (peerId === self.id) throw new GatewayError('bad_request', 'use leave to leave yourself');
    const target = socket.data.room!.peers.get(peerId);
    if (!target) throw new GatewayError('not_found', `no participant ${peerId} in this consult`);
    lobby.revokeAdmission(consultId, target.identity.userId);
    io.to(peerKey(peerId)).emit('consultEnded', { reason: reason ?? 'removed_by_host' });
    target.close('removed');
    io.in(peerKey(peerId)).disconnectSockets(true);
    await record('consult.remove', { type: 'participant', id: target.identity.userId }, { peerId });
    return {};
  });

  handle(socket, log, 'chatMessage', chatMessageRequest, async ({ text }) => {
    const peer = joined();
    const message = await chat.post(
      consultId,
      { id: claims.sub, name: peer.identity.displayName, role: claims.role },
      text,
    );
    io.to(consultKey(consultId)).emit('chatMessage', { ...chatEntry(message), peerId: peer.id });
    return { id: message.id, at: new Date(message.at).toISOString() };
  });

  handle(socket, log, 'chatHistory', chatHistoryRequest, ({ before, limit }) => {
    joined();
    return chat.history(consultId, claims.sub, before, limit ?? 50);
  });

  handle(socket, log, 'endConsult', emptyRequest, async () => {
    joined();
    await privileged('end');
    const ended = await consults.end(consultId, 'ended_by_host', actor, ip);
    if (!ended) throw new GatewayError('conflict', 'this consult has already ended');
    return {};
  });

  socket.on('disconnect', (reason) => {
    log.debug({ reason }, 'socket disconnected');
    if (socket.data.waitingPeerId) {
      lobby.withdraw(consultId, socket.data.waitingPeerId);
      notifyLobby();
    }
    const peer = socket.data.peer;
    if (peer && !peer.closed) attachments.detach(peer, socket, deps.reconnectGraceMs);
  });
}

async function collectStats(peer: Peer): Promise<StatsResponse> {
  const [transports, producers, consumers] = await Promise.all([
    Promise.all(
      [...peer.transports.values()].map(async ({ transport, direction }) => ({
        id: transport.id,
        direction,
        stats: await transport.getStats(),
      })),
    ),
    Promise.all(
      [...peer.producers.values()].map(async (p) => ({
        id: p.id,
        source: p.appData.source,
        score: p.score,
        stats: await p.getStats(),
      })),
    ),
    Promise.all(
      [...peer.consumers.values()].map(async (c) => ({
        id: c.id,
        producerId: c.producerId,
        kind: c.kind,
        score: c.score,
        currentLayers: c.currentLayers ?? null,
        stats: await c.getStats(),
      })),
    ),
  ]);
  return { transports, producers, consumers };
}
