/** Fakes for the app layer's ports: connections, a room with peers, the consult service. */
import { randomUUID } from 'node:crypto';
import { localPlacement } from '../../../src/app/LocalPlacement.js';
import type { Connection, ServerMessage, SessionDeps } from '../../../src/app/ports.js';
import { grantsFor, type JoinClaims } from '../../../src/auth/tokens.js';
import { Lobby } from '../../../src/consults/Lobby.js';
import { GatewayError } from '../../../src/errors.js';
import { createLogger } from '../../../src/logger.js';
import type { ServerToClientEvents } from '../../../src/protocol/serverEvents.js';
import type { LeaveReason, Role, RoomCloseReason } from '../../../src/protocol/vocabulary.js';
import type { Peer, PeerIdentity } from '../../../src/sfu/Peer.js';
import type { Room } from '../../../src/sfu/Room.js';
import { TypedEmitter } from '../../../src/util/TypedEmitter.js';

export const CONSULT = 'c1';

type Sent = { event: keyof ServerToClientEvents; msg: unknown };

/** A connection that records what it was sent and whether it was closed. */
export class FakeConnection implements Connection {
  readonly id = randomUUID();
  peer: Peer | undefined;
  waitingPeerId: string | undefined;
  readonly sent: Sent[] = [];
  closed = false;
  seat: Peer | undefined;
  readonly ip = '127.0.0.1';
  readonly userAgent = 'test';

  constructor(readonly claims: JoinClaims) {}

  send<E extends keyof ServerToClientEvents>(event: E, msg: ServerMessage<E>): void {
    this.sent.push({ event, msg });
  }
  bindSeat(peer: Peer | undefined): void {
    this.seat = peer;
  }
  close(): void {
    this.closed = true;
  }
  /** The messages of one event sent so far. */
  got<E extends keyof ServerToClientEvents>(event: E): ServerMessage<E>[] {
    return this.sent.filter((s) => s.event === event).map((s) => s.msg as ServerMessage<E>);
  }
}

export function claims(
  sub: string,
  role: Role,
  opts: { host?: boolean; inviteId?: string; sid?: string } = {},
): JoinClaims {
  return {
    sub,
    name: sub,
    role,
    consultId: CONSULT,
    grants: grantsFor(opts.host ?? false),
    ...(opts.inviteId ? { inviteId: opts.inviteId } : {}),
    ...(opts.sid ? { sid: opts.sid } : {}),
  };
}

class FakeBandwidth extends TypedEmitter<{
  videoPaused: [{ consumerId: string }];
  videoResumed: [{ consumerId: string }];
  forwardedLayers: [{ consumerId: string; spatialLayer: number; temporalLayer: number }];
}> {
  isVideoPaused = () => false;
}

/** A seat with no media: it can only close. */
export class FakePeer extends TypedEmitter<{ close: [LeaveReason]; consumerClosed: [string] }> {
  closed = false;
  readonly transports = new Map();
  readonly producers = new Map();
  readonly consumers = new Map();
  readonly bandwidth = new FakeBandwidth();

  constructor(
    readonly identity: PeerIdentity,
    readonly id: string,
    private readonly room: FakeRoom,
  ) {
    super();
  }

  close(reason: LeaveReason = 'left'): void {
    if (this.closed) return;
    this.closed = true;
    this.room.peers.delete(this.id);
    this.safeEmit('close', reason);
  }
}

export class FakeRoom {
  readonly peers = new Map<string, FakePeer>();
  readonly router = { rtpCapabilities: { codecs: [] } };
  closedWith: RoomCloseReason | undefined;
  joins = 0;

  join(identity: PeerIdentity, peerId: string = randomUUID()): FakePeer {
    if (this.peers.has(peerId)) throw new GatewayError('conflict', 'taken');
    const peer = new FakePeer(identity, peerId, this);
    this.peers.set(peerId, peer);
    this.joins++;
    return peer;
  }

  close(reason: RoomCloseReason): void {
    this.closedWith = reason;
    for (const peer of [...this.peers.values()]) peer.close(reason);
  }
}

/** The session's dependencies with a fake room and consult service and a real Lobby. */
export function fakeDeps(
  opts: { hostId?: string; graceMs?: number; denyCooldownMs?: number } = {},
) {
  const room = new FakeRoom();
  const rooms = new Map<string, Room>([[CONSULT, room as unknown as Room]]);
  const consult = { id: CONSULT, hostId: opts.hostId ?? 'doc', status: 'open' };
  const calls = { markLive: 0, end: [] as string[], audit: [] as string[] };
  const deps: SessionDeps = {
    placement: localPlacement,
    consults: {
      find: async () => consult as never,
      vouchedName: async (c: JoinClaims) => c.name,
      markLive: async () => {
        calls.markLive++;
        consult.status = 'live';
        return consult as never;
      },
      end: async (_id: string, reason: string) => {
        if (consult.status === 'ended') return undefined;
        consult.status = 'ended';
        calls.end.push(reason);
        return consult as never;
      },
      authorizeJoin: async () => consult as never,
      lastParticipantLeft: async () => undefined,
    },
    lobby: new Lobby(opts.denyCooldownMs ?? 0),
    rooms: { getOrCreate: async () => room as unknown as Room, rooms },
    audit: {
      record: async (e) => {
        calls.audit.push(e.action);
        return e as never;
      },
    },
    chat: { onJoin: () => ({ chat: [], chatHasMore: false }), forget: () => undefined },
    graceMs: opts.graceMs ?? 0,
    logger: createLogger('silent'),
  };
  return { deps, room, consult, calls };
}
