/**
 * Socket.IO signalling: authenticates each connection by its join token, then maps every
 * client event onto the consult's Room and the caller's Peer. Handlers stay thin: parse
 * (in `handle`), check permission, call the SFU, ack.
 */
import type { Server, Socket } from 'socket.io';
import type { types } from 'mediasoup';
import type { JoinClaims } from '../auth/tokens.js';
import { verifyJoinToken } from '../auth/tokens.js';
import { GatewayError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Peer } from '../sfu/Peer.js';
import type { Room } from '../sfu/Room.js';
import type { RoomRegistry } from '../sfu/RoomRegistry.js';
import { handle } from './handler.js';
import type {
  ClientToServerEvents,
  PeerInfo,
  ServerToClientEvents,
  StatsResponse,
} from './messages.js';
import {
  connectTransportRequest,
  consumeRequest,
  consumerRequest,
  createTransportRequest,
  emptyRequest,
  joinRequest,
  produceRequest,
  producerRequest,
  restartIceRequest,
  setPreferredLayersRequest,
} from './messages.js';

export interface SocketData {
  claims: JoinClaims;
  peer?: Peer;
  room?: Room;
}

export type SignallingServer = Server<
  ClientToServerEvents,
  ServerToClientEvents,
  object,
  SocketData
>;
type GatewaySocket = Socket<ClientToServerEvents, ServerToClientEvents, object, SocketData>;

const consultKey = (consultId: string) => `consult:${consultId}`;
const peerKey = (peerId: string) => `peer:${peerId}`;

/** Reasons a room closes that mean "the media path is gone, join again". */
const REJOIN_REASONS = new Set(['media_server_restarted', 'gateway_shutdown']);

export function attachSignalling(
  io: SignallingServer,
  rooms: RoomRegistry,
  jwtSecret: string,
  logger: Logger,
): void {
  const log = logger.child({ component: 'signalling' });

  io.use((socket, next) => {
    try {
      socket.data.claims = verifyJoinToken(jwtSecret, socket.handshake.auth?.token);
      next();
    } catch (err) {
      const e =
        err instanceof GatewayError ? err : new GatewayError('unauthorized', 'invalid token');
      const refusal = new Error(e.message) as Error & { data: unknown };
      refusal.data = { code: e.code };
      next(refusal);
    }
  });

  rooms.on('roomCreated', (room) => broadcastRoomEvents(io, room));

  io.on('connection', (socket) => registerHandlers(socket, rooms, log));
}

/** Relays a room's events to the sockets of its peers. */
function broadcastRoomEvents(io: SignallingServer, room: Room): void {
  const key = consultKey(room.consultId);
  const others = (peer: Peer) => io.to(key).except(peerKey(peer.id));
  room.on('peerJoined', (peer) =>
    others(peer).emit('peerJoined', {
      peerId: peer.id,
      displayName: peer.identity.displayName,
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

function peerInfo(peer: Peer): PeerInfo {
  return {
    peerId: peer.id,
    displayName: peer.identity.displayName,
    role: peer.identity.role,
    producers: [...peer.producers.values()].map((p) => ({
      producerId: p.id,
      kind: p.kind,
      appData: { source: p.appData.source },
      paused: p.paused,
    })),
  };
}

function registerHandlers(socket: GatewaySocket, rooms: RoomRegistry, logger: Logger): void {
  const claims = socket.data.claims;
  const log = logger.child({ socketId: socket.id, userId: claims.sub });
  let joining = false;

  const joined = (): Peer => {
    const peer = socket.data.peer;
    if (!peer || peer.closed) throw new GatewayError('not_joined', 'join the consult first');
    return peer;
  };

  handle(socket, log, 'join', joinRequest, async ({ consultId, displayName }) => {
    if (consultId !== claims.consultId) {
      throw new GatewayError('forbidden', 'this token does not admit you to that consult');
    }
    if (joining || (socket.data.peer && !socket.data.peer.closed)) {
      throw new GatewayError('conflict', 'already joined; leave first');
    }
    joining = true;
    try {
      const room = await rooms.getOrCreate(consultId);
      const peer = room.join({
        userId: claims.sub,
        displayName: displayName ?? claims.name,
        role: claims.role,
      });
      socket.data.peer = peer;
      socket.data.room = room;
      void socket.join([consultKey(consultId), peerKey(peer.id)]);
      peer.on('consumerClosed', (consumerId) => socket.emit('consumerClosed', { consumerId }));
      peer.once('close', (reason) => {
        if (socket.data.peer === peer) {
          socket.data.peer = undefined;
          socket.data.room = undefined;
        }
        void socket.leave(consultKey(consultId));
        void socket.leave(peerKey(peer.id));
        if (REJOIN_REASONS.has(reason)) socket.emit('rejoinRequired', { reason });
        if (reason === 'replaced') {
          socket.emit('consultEnded', { reason: 'joined_from_another_connection' });
          socket.disconnect(true);
        }
      });
      return {
        peerId: peer.id,
        routerRtpCapabilities: room.router.rtpCapabilities,
        peers: [...room.peers.values()].filter((p) => p !== peer).map(peerInfo),
      };
    } finally {
      joining = false;
    }
  });

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
    if (!claims.grants.publish) throw new GatewayError('forbidden', 'you may not publish media');
    const producer = await joined().produce(
      req.transportId,
      req.kind,
      req.rtpParameters as types.RtpParameters,
      req.appData.source,
    );
    return { producerId: producer.id };
  });

  handle(socket, log, 'consume', consumeRequest, async (req) => {
    if (!claims.grants.subscribe) throw new GatewayError('forbidden', 'you may not receive media');
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
    await joined().consumer(consumerId).resume();
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
    await consumer.setPreferredLayers({
      spatialLayer: req.spatialLayer,
      temporalLayer: req.temporalLayer,
    });
    return {};
  });

  handle(socket, log, 'restartIce', restartIceRequest, async ({ transportId }) => {
    const iceParameters = await joined().transport(transportId).restartIce();
    return { iceParameters };
  });

  handle(socket, log, 'getStats', emptyRequest, async () => collectStats(joined()));

  handle(socket, log, 'leave', emptyRequest, () => {
    joined().close('left');
    return {};
  });

  socket.on('disconnect', (reason) => {
    log.debug({ reason }, 'socket disconnected');
    socket.data.peer?.close('disconnected');
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
