/**
 * The live consult sessions of this process, and the wiring that ends them: a consult closed
 * (ended, cancelled, interrupted), an invite revoked, an account's sessions revoked, a consult's
 * participants changed, a room left empty. Each is a change that can take someone's access
 * away, so these events (not a re-check on every request) keep access current.
 */
import type { SessionRevocations } from '../auth/SessionRevocations.js';
import type { ConsultService } from '../consults/ConsultService.js';
import type { EndReason } from '../protocol/vocabulary.js';
import type { RoomRegistry } from '../sfu/RoomRegistry.js';
import { ConsultSession } from './ConsultSession.js';
import type { Connection, SessionDeps } from './ports.js';

export interface SessionsDeps extends Omit<SessionDeps, 'consults' | 'rooms'> {
  consults: ConsultService;
  rooms: RoomRegistry;
  sessions: SessionRevocations;
}

export class ConsultSessions {
  readonly #live = new Map<string, ConsultSession>();

  constructor(private readonly deps: SessionsDeps) {
    const { consults, rooms, sessions, logger } = deps;
    const failed = (what: string) => (err: unknown) => logger.error({ err }, what);
    consults.on('consultClosed', (consult) => {
      const reason = (consult.endReason ?? consult.status) as EndReason;
      this.ended(consult.id, reason).catch(failed('could not end a consult session'));
    });
    consults.on('consultUpdated', (consult) => {
      this.participantsChanged(consult.id).catch(failed('could not re-check a consult'));
    });
    consults.on('inviteRevoked', (invite) => {
      this.inviteRevoked(invite.consultId, invite.id).catch(failed('could not end an invite'));
    });
    sessions.on('sessionsRevoked', ({ userId, familyId }) => this.accessRevoked(userId, familyId));
    rooms.on('roomCreated', (room) => {
      room.on('close', (reason) => {
        if (reason !== 'empty') return;
        // In a cluster the consult goes on while another node still seats someone.
        deps.placement
          .seatsElsewhere(room.consultId)
          .then((n) =>
            n > 0
              ? undefined
              : consults.lastParticipantLeft(room.consultId, this.#live.get(room.consultId)?.known),
          )
          .catch(failed('could not end an empty consult'));
      });
    });
  }

  /**
   * The consult ended (here or, in a cluster, on another node): its connections on this node
   * are told why and let go, its room here closes.
   */
  async ended(consultId: string, reason: EndReason): Promise<void> {
    const session = this.#live.get(consultId);
    this.#live.delete(consultId);
    if (session) await session.ended(reason);
    else this.deps.rooms.rooms.get(consultId)?.close('consult_ended');
  }

  /** An invite was revoked: whoever came with it to this node is out. */
  async inviteRevoked(consultId: string, inviteId: string): Promise<void> {
    await this.#live.get(consultId)?.inviteRevoked(inviteId);
  }

  /** A user's sessions (or one login of theirs) ended: their connections on this node close. */
  accessRevoked(userId: string, familyId?: string): void {
    for (const session of this.#live.values()) session.accessRevoked(userId, familyId);
  }

  /** Whether this node carries the consult: someone is connected to it here, or holds a seat. */
  carries(consultId: string): boolean {
    if ((this.#live.get(consultId)?.connections.size ?? 0) > 0) return true;
    const room = this.deps.rooms.rooms.get(consultId);
    return Boolean(room && !room.closed && room.peers.size > 0);
  }

  /** The consult's session, created on its first connection. */
  of(consultId: string): ConsultSession {
    let session = this.#live.get(consultId);
    if (!session) {
      session = new ConsultSession(consultId, this.deps);
      this.#live.set(consultId, session);
    }
    return session;
  }

  /** A connection arrived (its grant already checked): it belongs to its consult's session. */
  connected(conn: Connection): ConsultSession {
    const session = this.of(conn.claims.consultId);
    session.connected(conn);
    return session;
  }

  /** A seat held by a node that died in its grace period is gone: everyone is told. */
  seatLeftElsewhere(consultId: string, peerId: string): void {
    this.deps.otherNodes?.peerLeft(consultId, peerId);
  }

  /** A seat's grace period ran out: it is closed if this node holds it (false: not here). */
  graceExpired(consultId: string, peerId: string): boolean {
    return this.#live.get(consultId)?.graceExpired(peerId) ?? false;
  }

  /** The consult's live session on this node, if it has one. */
  find(consultId: string): ConsultSession | undefined {
    return this.#live.get(consultId);
  }

  /**
   * Draining: every connection on this node is told to move (`migrate`), spread over `urls`
   * (one per connection, from the cluster's least loaded nodes); answers how many were told.
   */
  async migrateAll(urls: (count: number) => Promise<string[]>): Promise<number> {
    const count = [...this.#live.values()].reduce((n, s) => n + s.connections.size, 0);
    const targets = count > 0 ? await urls(count) : [];
    let next = 0;
    let told = 0;
    for (const session of this.#live.values()) told += session.migrate(() => targets[next++]);
    return told;
  }

  /** Connections to this node, joined or not. */
  get connectionCount(): number {
    let n = 0;
    for (const session of this.#live.values()) n += session.connections.size;
    return n;
  }

  /** The consult's participants changed: its connections are checked again. */
  async participantsChanged(consultId: string): Promise<void> {
    await this.#live.get(consultId)?.reauthorize();
  }
}
