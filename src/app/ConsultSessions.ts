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
      const session = this.#live.get(consult.id);
      this.#live.delete(consult.id);
      const reason = (consult.endReason ?? consult.status) as EndReason;
      if (session) session.ended(reason).catch(failed('could not end a consult session'));
      else rooms.rooms.get(consult.id)?.close('consult_ended');
    });
    consults.on('consultUpdated', (consult) => {
      this.participantsChanged(consult.id).catch(failed('could not re-check a consult'));
    });
    consults.on('inviteRevoked', (invite) => {
      this.#live
        .get(invite.consultId)
        ?.inviteRevoked(invite.id)
        .catch(failed('could not end an invite'));
    });
    sessions.on('sessionsRevoked', ({ userId, familyId }) => {
      for (const session of this.#live.values()) session.accessRevoked(userId, familyId);
    });
    rooms.on('roomCreated', (room) => {
      room.on('close', (reason) => {
        if (reason !== 'empty') return;
        // In a cluster the consult goes on while another node still seats someone.
        deps.placement
          .seatsElsewhere(room.consultId)
          .then((n) => (n > 0 ? undefined : consults.lastParticipantLeft(room.consultId)))
          .catch(failed('could not end an empty consult'));
      });
    });
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

  /** The consult's live session on this node, if it has one. */
  find(consultId: string): ConsultSession | undefined {
    return this.#live.get(consultId);
  }

  /** The consult's participants changed: its connections are checked again. */
  async participantsChanged(consultId: string): Promise<void> {
    await this.#live.get(consultId)?.reauthorize();
  }
}
