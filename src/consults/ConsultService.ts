/**
 * Consult scheduling, lifecycle, invitations and join grants. Who may see and do what is
 * decided here; routes and socket handlers only parse and call.
 *
 * Lifecycle: scheduled → open (lobby opens LOBBY_OPEN_MINUTES before start) → live (host
 * joined) → ended; scheduled/open → cancelled. Anything else is a 409.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { AuditLog } from '../audit/AuditLog.js';
import type { AccessClaims } from '../auth/accessTokens.js';
import type { Grants, JoinClaims } from '../auth/tokens.js';
import { signToken, verifyToken } from '../auth/jwt.js';
import { JOIN_AUDIENCE, grantsFor } from '../auth/tokens.js';
import { GatewayError } from '../errors.js';
import { PERSON_NAME_MAX_CHARS } from '../protocol/vocabulary.js';
import type {
  Consult,
  ConsultFilter,
  ConsultPatch,
  ConsultStatus,
  Guest,
  Invite,
  Page,
  Repositories,
  Store,
  User,
} from '../store/repositories.js';
import { TypedEmitter } from '../util/TypedEmitter.js';

export const INVITE_AUDIENCE = 'telemed-gateway:invite';

export interface ConsultSettings {
  secret: string;
  lobbyOpenMinutes: number;
  inviteTtlHours: number;
  joinTtlSeconds: number;
  /** This gateway node (config.nodeId): a consult going live here records it. */
  nodeId: string;
}

/** Who is acting, with the address they act from (for the audit log). */
export interface Actor {
  claims: AccessClaims;
  ip: string | null;
}

export interface NewConsult {
  title: string;
  patientRef: string;
  scheduledStart: number;
  scheduledEnd: number;
  hostId: string;
  specialistIds: string[];
  guests: { name: string; email?: string | null }[];
}

/** What admitting a join grant read: the consult, and who its bearer is. */
export interface Admission {
  consult: Consult;
  /** The name the gateway vouches for (see vouchedName), as of the check. */
  vouchedName: string;
  /** The bearer's account as read (absent for a guest). */
  user?: User;
}

export interface JoinGrant {
  token: string;
  consultId: string;
  role: JoinClaims['role'];
  grants: Grants;
  expiresIn: number;
}

type ConsultEvents = {
  /** An invite was revoked: anyone connected with it must be disconnected. */
  inviteRevoked: [invite: Invite];
  /** The host joined: the consult went live. */
  consultLive: [consult: Consult];
  /** The consult ended, was cancelled or was interrupted. */
  consultClosed: [consult: Consult];
  /** Its host, specialists or schedule changed: who may be connected to it may have changed. */
  consultUpdated: [consult: Consult];
};

const inviteClaimsSchema = z.object({
  inviteId: z.string(),
  consultId: z.string(),
  name: z.string(),
});

const JOINABLE: ConsultStatus[] = ['scheduled', 'open', 'live'];

export class ConsultService extends TypedEmitter<ConsultEvents> {
  constructor(
    private readonly store: Store,
    private readonly audit: AuditLog,
    private readonly settings: ConsultSettings,
    private readonly now: () => number = Date.now,
  ) {
    super();
  }

  // --- visibility ---

  #isParticipant(c: Consult, userId: string): boolean {
    return c.hostId === userId || c.specialistIds.includes(userId);
  }

  #canSee(c: Consult, claims: AccessClaims): boolean {
    return claims.role === 'admin' || this.#isParticipant(c, claims.sub);
  }

  #canManage(c: Consult, claims: AccessClaims): boolean {
    return claims.role === 'admin' || (claims.role === 'doctor' && c.hostId === claims.sub);
  }

  /** Opens the lobby once its time has come (scheduled → open), persisting the change. */
  async #refresh(c: Consult, db: Repositories = this.store): Promise<Consult> {
    if (
      c.status === 'scheduled' &&
      this.now() >= c.scheduledStart - this.settings.lobbyOpenMinutes * 60_000
    ) {
      return (
        (await db.consults.transition(c.id, ['scheduled'], 'open', {}, this.now())) ??
        (await this.#load(c.id, db))
      );
    }
    return c;
  }

  async #load(id: string, db: Repositories = this.store): Promise<Consult> {
    const c = await db.consults.findById(id);
    if (!c) throw new GatewayError('not_found', `no consult ${id}`);
    return c;
  }

  /** A consult the actor may see (404 otherwise, so others' consults are not revealed). */
  async get(actor: AccessClaims, id: string, db: Repositories = this.store): Promise<Consult> {
    const c = await db.consults.findById(id);
    if (!c || !this.#canSee(c, actor)) throw new GatewayError('not_found', `no consult ${id}`);
    return this.#refresh(c, db);
  }

  /** Any consult by id, for internal callers (signalling, operator tools). */
  async find(id: string): Promise<Consult | undefined> {
    const c = await this.store.consults.findById(id);
    return c && this.#refresh(c);
  }

  async list(
    actor: AccessClaims,
    /** Who may see what is decided here from the actor, not by the caller. */
    filter: Omit<ConsultFilter, 'participantId'>,
  ): Promise<Page<Consult>> {
    // Open lobbies whose time has come before filtering by status.
    const due = await this.store.consults.list({
      status: ['scheduled'],
      to: this.now() + this.settings.lobbyOpenMinutes * 60_000,
      limit: 1000,
      offset: 0,
    });
    for (const c of due.items) await this.#refresh(c);
    return this.store.consults.list({
      ...filter,
      participantId: actor.role === 'admin' ? undefined : actor.sub,
    });
  }

  // --- scheduling ---

  async #checkPeople(
    hostId: string,
    specialistIds: string[],
    db: Repositories = this.store,
  ): Promise<void> {
    const host = await db.users.findById(hostId);
    if (!host || host.disabled || host.role !== 'doctor') {
      throw new GatewayError('bad_request', `hostId ${hostId} is not an active doctor`, [
        { path: ['hostId'], message: 'must be an active doctor' },
      ]);
    }
    for (const [i, id] of specialistIds.entries()) {
      const u = await db.users.findById(id);
      if (!u || u.disabled || u.role === 'admin' || id === hostId) {
        throw new GatewayError(
          'bad_request',
          `specialist ${id} is not an active specialist or doctor`,
          [
            {
              path: ['specialistIds', i],
              message: 'must be an active specialist or doctor other than the host',
            },
          ],
        );
      }
    }
  }

  async create(actor: Actor, input: NewConsult, db: Repositories = this.store): Promise<Consult> {
    const { claims } = actor;
    if (claims.role === 'specialist')
      throw new GatewayError('forbidden', 'specialists cannot schedule consults');
    if (claims.role === 'doctor' && input.hostId !== claims.sub) {
      throw new GatewayError('forbidden', 'doctors schedule consults they host themselves');
    }
    await this.#checkPeople(input.hostId, input.specialistIds, db);
    const now = this.now();
    const consult: Consult = {
      id: randomUUID(),
      title: input.title,
      patientRef: input.patientRef,
      scheduledStart: input.scheduledStart,
      scheduledEnd: input.scheduledEnd,
      hostId: input.hostId,
      specialistIds: [...new Set(input.specialistIds)],
      guests: input.guests.map((g): Guest => ({
        id: randomUUID(),
        name: g.name,
        email: g.email ?? null,
      })),
      status: 'scheduled',
      createdBy: claims.sub,
      createdAt: now,
      updatedAt: now,
      startedAt: null,
      endedAt: null,
      endReason: null,
    };
    await db.consults.insert(consult);
    await this.audit.record(
      {
        action: 'consult.create',
        actor: { id: claims.sub, label: claims.name },
        ip: actor.ip,
        object: { type: 'consult', id: consult.id },
        details: {
          hostId: consult.hostId,
          specialistIds: consult.specialistIds,
          guests: consult.guests.length,
        },
      },
      db.audit,
    );
    return this.#refresh(consult, db);
  }

  async update(
    actor: Actor,
    id: string,
    patch: Omit<ConsultPatch, 'guests'> & { guests?: NewConsult['guests'] },
  ): Promise<Consult> {
    const c = await this.get(actor.claims, id);
    if (!this.#canManage(c, actor.claims))
      throw new GatewayError('forbidden', 'only the host or an admin may change a consult');
    if (c.status !== 'scheduled' && c.status !== 'open') {
      throw new GatewayError('conflict', `a consult that is ${c.status} cannot be changed`);
    }
    if (actor.claims.role === 'doctor' && patch.hostId && patch.hostId !== actor.claims.sub) {
      throw new GatewayError('forbidden', 'only an admin may hand a consult to another host');
    }
    const start = patch.scheduledStart ?? c.scheduledStart;
    const end = patch.scheduledEnd ?? c.scheduledEnd;
    if (end <= start) {
      throw new GatewayError('bad_request', 'scheduledEnd must be after scheduledStart', [
        { path: ['scheduledEnd'], message: 'must be after scheduledStart' },
      ]);
    }
    if (patch.hostId || patch.specialistIds) {
      await this.#checkPeople(patch.hostId ?? c.hostId, patch.specialistIds ?? c.specialistIds);
    }
    const guests = patch.guests?.map((g): Guest => ({
      id: randomUUID(),
      name: g.name,
      email: g.email ?? null,
    }));
    const updated = await this.store.consults.update(id, { ...patch, guests }, this.now());
    if (!updated) throw new GatewayError('not_found', `no consult ${id}`);
    await this.audit.record({
      action: 'consult.update',
      actor: { id: actor.claims.sub, label: actor.claims.name },
      ip: actor.ip,
      object: { type: 'consult', id },
      details: { fields: Object.keys(patch) },
    });
    this.safeEmit('consultUpdated', updated);
    // A reschedule may move the lobby time back into the future.
    if (
      updated.status === 'open' &&
      this.now() < updated.scheduledStart - this.settings.lobbyOpenMinutes * 60_000
    ) {
      return (
        (await this.store.consults.transition(id, ['open'], 'scheduled', {}, this.now())) ?? updated
      );
    }
    return this.#refresh(updated);
  }

  async cancel(actor: Actor, id: string): Promise<Consult> {
    const c = await this.get(actor.claims, id);
    if (!this.#canManage(c, actor.claims))
      throw new GatewayError('forbidden', 'only the host or an admin may cancel a consult');
    const cancelled = await this.store.consults.transition(
      id,
      ['scheduled', 'open'],
      'cancelled',
      { endReason: 'cancelled' },
      this.now(),
    );
    if (!cancelled)
      throw new GatewayError('conflict', `a consult that is ${c.status} cannot be cancelled`);
    await this.audit.record({
      action: 'consult.cancel',
      actor: { id: actor.claims.sub, label: actor.claims.name },
      ip: actor.ip,
      object: { type: 'consult', id },
    });
    this.safeEmit('consultClosed', cancelled);
    return cancelled;
  }

  // --- lifecycle driven by the live room ---

  /** The host joined: the consult is live (from scheduled or open). */
  async markLive(id: string): Promise<Consult | undefined> {
    const now = this.now();
    const live = await this.store.consults.transition(
      id,
      ['scheduled', 'open'],
      'live',
      { startedAt: now, nodeId: this.settings.nodeId },
      now,
    );
    if (live) this.safeEmit('consultLive', live);
    return live;
  }

  /** The gateway stopped while the consult was live: it ends as `interrupted` at `at`. */
  async interrupt(id: string, at: number): Promise<Consult | undefined> {
    const c = await this.store.consults.transition(
      id,
      ['live'],
      'ended',
      { endedAt: at, endReason: 'interrupted' },
      this.now(),
    );
    if (c) {
      await this.audit.record({
        action: 'consult.interrupted',
        actor: null,
        ip: null,
        object: { type: 'consult', id },
        details: { endedAt: at },
      });
      this.safeEmit('consultClosed', c);
    }
    return c;
  }

  /**
   * Consults live on this node (at start: those it left live when it stopped). Consults other
   * nodes host are theirs to recover.
   */
  async liveConsults(): Promise<Consult[]> {
    const live = await this.store.consults.list({
      status: ['live'],
      hostedBy: this.settings.nodeId,
      limit: 10_000,
      offset: 0,
    });
    return live.items;
  }

  /** Another node carries the live consult on: it becomes that node's to recover. */
  async handOver(id: string, nodeId: string): Promise<Consult | undefined> {
    return this.store.consults.transition(id, ['live'], 'live', { nodeId }, this.now());
  }

  /** Ends a consult that is live or open; returns undefined when it already ended. */
  async end(
    id: string,
    reason: string,
    actor: { id: string | null; label?: string } | null,
    ip: string | null,
  ): Promise<Consult | undefined> {
    const now = this.now();
    const ended = await this.store.consults.transition(
      id,
      ['open', 'live'],
      'ended',
      { endedAt: now, endReason: reason },
      now,
    );
    if (ended) {
      await this.audit.record({
        action: 'consult.end',
        actor,
        ip,
        object: { type: 'consult', id },
        details: { reason },
      });
      this.safeEmit('consultClosed', ended);
    }
    return ended;
  }

  /** The host (or an admin) ends the consult for everyone. */
  async endAsHost(actor: Actor, id: string): Promise<Consult> {
    const c = await this.get(actor.claims, id);
    if (!this.#canManage(c, actor.claims))
      throw new GatewayError('forbidden', 'only the host or an admin may end a consult');
    const ended = await this.end(
      id,
      'ended_by_host',
      { id: actor.claims.sub, label: actor.claims.name },
      actor.ip,
    );
    if (!ended) throw new GatewayError('conflict', `a consult that is ${c.status} cannot be ended`);
    return ended;
  }

  /**
   * Called when the last participant left: past the scheduled end, the consult is over.
   * `known` (the consult as this node last read it) spares the read while its end is ahead:
   * only an update moves the end, and updates reach the live session as `consultUpdated`.
   */
  async lastParticipantLeft(id: string, known?: Consult): Promise<void> {
    if (known && this.now() < known.scheduledEnd) return;
    const c = await this.store.consults.findById(id);
    if (c && c.status === 'live' && this.now() >= c.scheduledEnd)
      await this.end(id, 'everyone_left', null, null);
  }

  // --- join grants ---

  #grant(
    consult: Consult,
    claims: Omit<JoinClaims, 'grants' | 'consultId'>,
    grants: Grants,
  ): JoinGrant {
    // Accounts named before names were capped at 80 characters still get a grant the socket accepts.
    const name = claims.name.trim().slice(0, PERSON_NAME_MAX_CHARS);
    const full: JoinClaims = { ...claims, name, consultId: consult.id, grants };
    const token = signToken(
      this.settings.secret,
      full,
      JOIN_AUDIENCE,
      this.settings.joinTtlSeconds,
    );
    return {
      token,
      consultId: consult.id,
      role: claims.role,
      grants,
      expiresIn: this.settings.joinTtlSeconds,
    };
  }

  #assertJoinable(c: Consult, asHost: boolean): void {
    if (!JOINABLE.includes(c.status))
      throw new GatewayError('conflict', `this consult is ${c.status}`);
    if (c.status === 'scheduled' && !asHost) {
      const opens = new Date(
        c.scheduledStart - this.settings.lobbyOpenMinutes * 60_000,
      ).toISOString();
      throw new GatewayError('conflict', `the waiting room opens at ${opens}`);
    }
  }

  /** A join grant for a logged-in participant (host, invited specialist, or admin). */
  async issueJoinGrant(actor: Actor, consultId: string): Promise<JoinGrant> {
    const c = await this.get(actor.claims, consultId);
    const isHost = c.hostId === actor.claims.sub;
    this.#assertJoinable(c, isHost || actor.claims.role === 'admin');
    const user = await this.store.users.findById(actor.claims.sub);
    if (!user || user.disabled) throw new GatewayError('unauthorized', 'this account is disabled');
    const host = isHost || actor.claims.role === 'admin';
    const grant = this.#grant(
      c,
      // tv and sid: the grant ends with the user's sessions, or with this login (logout).
      {
        sub: user.id,
        name: user.name,
        role: user.role,
        tv: user.tokenVersion,
        sid: actor.claims.sid,
      },
      grantsFor(host),
    );
    await this.audit.record({
      action: 'consult.join_grant',
      actor: { id: user.id, label: user.email },
      ip: actor.ip,
      object: { type: 'consult', id: c.id },
      details: { grants: grant.grants },
    });
    return grant;
  }

  /** Operator tool path: a grant for an existing consult and one of its participants. */
  async mintOperatorGrant(consultId: string, userIdOrEmail: string): Promise<JoinGrant> {
    const c = await this.find(consultId);
    if (!c) throw new GatewayError('not_found', `no consult ${consultId}`);
    const user =
      (await this.store.users.findById(userIdOrEmail)) ??
      (await this.store.users.findByEmailWithSecret(userIdOrEmail.toLowerCase()));
    if (!user || user.disabled)
      throw new GatewayError('not_found', `no active user ${userIdOrEmail}`);
    const isHost = c.hostId === user.id;
    if (!isHost && !c.specialistIds.includes(user.id) && user.role !== 'admin') {
      throw new GatewayError(
        'forbidden',
        `${user.email} is not a participant of consult ${consultId}`,
      );
    }
    if (!JOINABLE.includes(c.status))
      throw new GatewayError('conflict', `this consult is ${c.status}`);
    const host = isHost || user.role === 'admin';
    return this.#grant(
      c,
      { sub: user.id, name: user.name, role: user.role, tv: user.tokenVersion },
      grantsFor(host),
    );
  }

  /**
   * The socket edge's check: the token's consult exists and is joinable, and its bearer is
   * still a participant (an active account, or an invite that is not revoked or expired).
   */
  async authorizeJoin(claims: JoinClaims & { inviteId?: string }): Promise<Consult> {
    return (await this.admit(claims)).consult;
  }

  /**
   * authorizeJoin, answering what it read, so a connection checked once need not read it again
   * (its later changes reach the connection as events: consultUpdated, consultClosed, ...).
   */
  async admit(claims: JoinClaims & { inviteId?: string }): Promise<Admission> {
    const c = await this.find(claims.consultId);
    if (!c) throw new GatewayError('forbidden', 'this consult does not exist');
    if (!JOINABLE.includes(c.status))
      throw new GatewayError('forbidden', `this consult is ${c.status}`);
    if (claims.inviteId) {
      const invite = await this.store.invites.findById(claims.inviteId);
      if (
        !invite ||
        invite.consultId !== c.id ||
        invite.revokedAt !== null ||
        invite.expiresAt <= this.now()
      ) {
        throw new GatewayError('forbidden', 'this invitation is no longer valid');
      }
      return { consult: c, vouchedName: invite.guestName };
    }
    const user = await this.store.users.findById(claims.sub);
    if (!user || user.disabled) throw new GatewayError('forbidden', 'this account is not active');
    if (user.role !== 'admin' && !this.#isParticipant(c, user.id)) {
      throw new GatewayError('forbidden', 'you are not a participant of this consult');
    }
    return { consult: c, vouchedName: user.name, user };
  }

  // --- invitations ---

  /**
   * Schedules a consult and creates one invite link per guest entered, valid until an hour
   * after the consult's scheduled end (at least the usual invite lifetime), in one transaction.
   */
  async createWithInvites(
    actor: Actor,
    input: NewConsult,
  ): Promise<{ consult: Consult; invites: { guestId: string; invite: Invite; token: string }[] }> {
    return this.store.transaction(async (tx) => {
      const consult = await this.create(actor, input, tx);
      const untilEnd = Math.ceil((consult.scheduledEnd - this.now()) / 3600_000) + 1;
      const expiresInHours = Math.max(this.settings.inviteTtlHours, untilEnd);
      const invites: { guestId: string; invite: Invite; token: string }[] = [];
      for (const g of consult.guests) {
        const made = await this.createInvite(
          actor,
          consult.id,
          { guestName: g.name, email: g.email, expiresInHours },
          tx,
        );
        invites.push({ guestId: g.id, ...made });
      }
      return { consult, invites };
    });
  }

  async createInvite(
    actor: Actor,
    consultId: string,
    input: { guestName: string; email?: string | null; expiresInHours?: number; maxUses?: number },
    db: Repositories = this.store,
  ): Promise<{ invite: Invite; token: string }> {
    const c = await this.get(actor.claims, consultId, db);
    if (!this.#canManage(c, actor.claims))
      throw new GatewayError('forbidden', 'only the host or an admin may invite');
    if (!JOINABLE.includes(c.status))
      throw new GatewayError('conflict', `this consult is ${c.status}`);
    const now = this.now();
    const hours = input.expiresInHours ?? this.settings.inviteTtlHours;
    const invite: Invite = {
      id: randomUUID(),
      consultId,
      guestName: input.guestName,
      email: input.email ?? null,
      createdBy: actor.claims.sub,
      createdAt: now,
      expiresAt: now + hours * 3600_000,
      revokedAt: null,
      firstUsedAt: null,
      maxUses: input.maxUses ?? 1,
      uses: 0,
    };
    await db.invites.insert(invite);
    const token = signToken(
      this.settings.secret,
      { inviteId: invite.id, consultId, name: invite.guestName },
      INVITE_AUDIENCE,
      hours * 3600,
    );
    await this.audit.record(
      {
        action: 'invite.create',
        actor: { id: actor.claims.sub, label: actor.claims.name },
        ip: actor.ip,
        object: { type: 'invite', id: invite.id },
        details: { consultId, guestName: invite.guestName, maxUses: invite.maxUses },
      },
      db.audit,
    );
    return { invite, token };
  }

  async listInvites(actor: AccessClaims, consultId: string): Promise<Invite[]> {
    const c = await this.get(actor, consultId);
    if (!this.#canManage(c, actor))
      throw new GatewayError('forbidden', 'only the host or an admin may see invites');
    return this.store.invites.listByConsult(consultId);
  }

  async revokeInvite(actor: Actor, consultId: string, inviteId: string): Promise<Invite> {
    const c = await this.get(actor.claims, consultId);
    if (!this.#canManage(c, actor.claims))
      throw new GatewayError('forbidden', 'only the host or an admin may revoke');
    const existing = await this.store.invites.findById(inviteId);
    if (!existing || existing.consultId !== consultId)
      throw new GatewayError('not_found', `no invite ${inviteId}`);
    const invite = (await this.store.invites.revoke(inviteId, this.now()))!;
    await this.audit.record({
      action: 'invite.revoke',
      actor: { id: actor.claims.sub, label: actor.claims.name },
      ip: actor.ip,
      object: { type: 'invite', id: inviteId },
      details: { consultId },
    });
    this.safeEmit('inviteRevoked', invite);
    return invite;
  }

  /**
   * Exchanges an invite link's token for a join grant as a guest. Each redemption is a new
   * guest identity (`guest:<inviteId>:<redemptionId>`) who waits in the lobby; the invite's
   * use limit is counted atomically, so a forwarded link never yields someone else's seat.
   */
  async redeemInvite(
    token: string,
    ip: string | null,
  ): Promise<JoinGrant & { guestName: string; consultTitle: string }> {
    let claims: z.infer<typeof inviteClaimsSchema>;
    try {
      claims = verifyToken(
        this.settings.secret,
        token,
        INVITE_AUDIENCE,
        inviteClaimsSchema,
        'invitation',
      );
    } catch {
      throw new GatewayError('unauthorized', 'this invitation link is invalid or has expired');
    }
    const refused = (reason: string) =>
      this.audit.record({
        action: 'invite.use',
        actor: { id: null, label: claims.name },
        ip,
        object: { type: 'invite', id: claims.inviteId },
        outcome: 'failure',
        details: { reason },
      });
    const invite = await this.store.invites.findById(claims.inviteId);
    if (!invite || invite.revokedAt !== null || invite.expiresAt <= this.now()) {
      await refused('revoked_or_expired');
      throw new GatewayError('unauthorized', 'this invitation has been revoked or has expired');
    }
    const c = await this.#load(invite.consultId);
    // Checked before a use is counted: opening the link too early costs nothing.
    this.#assertJoinable(await this.#refresh(c), false);
    const now = this.now();
    if (!(await this.store.invites.redeem(invite.id, now))) {
      await refused('used');
      const people = invite.maxUses === 1 ? 'one person' : `${invite.maxUses} people`;
      throw new GatewayError(
        'invite_used',
        `this invitation link has already been used (it admits ${people}); please ask the doctor for a new one`,
      );
    }
    const sub = `guest:${invite.id}:${randomUUID()}`;
    await this.audit.record({
      action: 'invite.use',
      actor: { id: sub, label: invite.guestName },
      ip,
      object: { type: 'invite', id: invite.id },
      details: { consultId: c.id },
    });
    const grant = this.#grant(
      c,
      {
        sub,
        name: invite.guestName,
        role: 'guest',
        inviteId: invite.id,
        redeemedAt: now,
      },
      grantsFor(false),
    );
    return { ...grant, guestName: invite.guestName, consultTitle: c.title };
  }

  /**
   * The name the gateway vouches for a join grant's bearer: their account's name, or the guest
   * name their invite was made for (not whatever name they choose to show).
   */
  async vouchedName(claims: JoinClaims): Promise<string> {
    const name = claims.inviteId
      ? (await this.store.invites.findById(claims.inviteId))?.guestName
      : (await this.store.users.findById(claims.sub))?.name;
    return name ?? claims.name;
  }
}
