/**
 * Storage behind one interface per aggregate, so another database can replace SQLite.
 * Times are epoch milliseconds; implementations must make each method atomic.
 */
import type { ConsultStatus, UserRole } from '../protocol/vocabulary.js';

export type { ConsultStatus, UserRole };

export interface User {
  id: string;
  email: string;
  name: string;
  role: UserRole;
  disabled: boolean;
  /** Bumped to revoke every access token and join grant issued to the user before. */
  tokenVersion: number;
  createdAt: number;
  updatedAt: number;
}

export interface UserWithSecret extends User {
  passwordHash: string;
}

export interface Page<T> {
  items: T[];
  total: number;
}

export interface UserFilter {
  role?: UserRole;
  /** Only these roles (combined with `role`). */
  roles?: UserRole[];
  /** Leave out disabled accounts. */
  enabledOnly?: boolean;
  limit: number;
  offset: number;
}

export interface UserRepository {
  create(user: Omit<UserWithSecret, 'tokenVersion'>): User;
  findById(id: string): User | undefined;
  findByEmailWithSecret(email: string): UserWithSecret | undefined;
  list(filter: UserFilter): Page<User>;
  setDisabled(id: string, disabled: boolean, at: number): User | undefined;
  setRole(id: string, role: UserRole, at: number): User | undefined;
  /** Increments the user's token version; undefined when there is no such user. */
  bumpTokenVersion(id: string, at: number): User | undefined;
  /** Replaces the password hash; undefined when there is no such user. */
  setPasswordHash(id: string, passwordHash: string, at: number): User | undefined;
  count(): number;
}

export interface RefreshTokenRow {
  id: string;
  userId: string;
  familyId: string;
  tokenHash: string;
  expiresAt: number;
  createdAt: number;
  revokedAt: number | null;
  replacedBy: string | null;
}

export interface RefreshTokenRepository {
  insert(row: RefreshTokenRow): void;
  findByHash(tokenHash: string): RefreshTokenRow | undefined;
  /** Marks one token used/revoked; false when it already was (a concurrent rotation). */
  revoke(id: string, at: number, replacedBy: string | null): boolean;
  revokeFamily(familyId: string, at: number): void;
  revokeAllForUser(userId: string, at: number): void;
  /** Families with every token revoked (logout, reuse, disable), the last revocation after `since`. */
  revokedFamiliesSince(since: number): { familyId: string; userId: string; revokedAt: number }[];
}

export interface Guest {
  id: string;
  name: string;
  email: string | null;
}

export interface Consult {
  id: string;
  title: string;
  patientRef: string;
  scheduledStart: number;
  scheduledEnd: number;
  hostId: string;
  specialistIds: string[];
  guests: Guest[];
  status: ConsultStatus;
  createdBy: string;
  createdAt: number;
  updatedAt: number;
  startedAt: number | null;
  endedAt: number | null;
  endReason: string | null;
}

export interface ConsultFilter {
  /** Only consults this user hosts or is invited to (unset: all). */
  participantId?: string;
  status?: ConsultStatus[];
  from?: number;
  to?: number;
  /** By scheduled start: oldest first (default) or newest first. */
  order?: 'asc' | 'desc';
  limit: number;
  offset: number;
}

export type ConsultPatch = Partial<
  Pick<
    Consult,
    | 'title'
    | 'patientRef'
    | 'scheduledStart'
    | 'scheduledEnd'
    | 'hostId'
    | 'specialistIds'
    | 'guests'
  >
>;

export interface ConsultRepository {
  insert(consult: Consult): void;
  findById(id: string): Consult | undefined;
  list(filter: ConsultFilter): Page<Consult>;
  update(id: string, patch: ConsultPatch, at: number): Consult | undefined;
  /**
   * Moves a consult to `to` only if its status is one of `from` (compare-and-set), setting
   * the given timestamps; returns the updated consult, or undefined when it was not in `from`.
   */
  transition(
    id: string,
    from: ConsultStatus[],
    to: ConsultStatus,
    fields: Partial<Pick<Consult, 'startedAt' | 'endedAt' | 'endReason'>>,
    at: number,
  ): Consult | undefined;
}

export interface Invite {
  id: string;
  consultId: string;
  guestName: string;
  email: string | null;
  createdBy: string;
  createdAt: number;
  expiresAt: number;
  revokedAt: number | null;
  firstUsedAt: number | null;
  /** How many people may redeem it. */
  maxUses: number;
  /** How many redeemed it so far. */
  uses: number;
}

export interface InviteRepository {
  insert(invite: Invite): void;
  findById(id: string): Invite | undefined;
  listByConsult(consultId: string): Invite[];
  revoke(id: string, at: number): Invite | undefined;
  /**
   * Counts one redemption at `at`, atomically, if the invite still has a use left and is
   * neither revoked nor expired; false otherwise.
   */
  redeem(id: string, at: number): boolean;
}

export interface AuditEntry {
  id: string;
  at: number;
  /** e.g. auth.login, consult.create, invite.revoke, consult.admit */
  action: string;
  actorId: string | null;
  /** A readable name for the actor (e-mail, guest name). */
  actorLabel: string | null;
  sourceIp: string | null;
  objectType: string | null;
  objectId: string | null;
  outcome: 'success' | 'failure';
  details: Record<string, unknown> | null;
}

export interface AuditFilter {
  action?: string;
  outcome?: 'success' | 'failure';
  actorId?: string;
  objectId?: string;
  from?: number;
  to?: number;
  limit: number;
  offset: number;
}

/** Append-only: there is deliberately no update or delete. */
export interface AuditRepository {
  append(entry: AuditEntry): void;
  search(filter: AuditFilter): Page<AuditEntry>;
}

export interface Participation {
  id: string;
  consultId: string;
  /** A user id, or `guest:<inviteId>` for invited guests. */
  participantId: string;
  peerId: string;
  /** The name the gateway vouches for (account name, or the invite's guest name). */
  displayName: string;
  /** The name they chose to show in the call, when it differs from displayName. */
  alias: string | null;
  role: string;
  userAgent: string | null;
  networkType: string | null;
  joinedAt: number;
  lastSeenAt: number;
  leftAt: number | null;
  leaveReason: string | null;
}

export interface ConsultEvent {
  seq?: number;
  consultId: string;
  at: number;
  /** e.g. consult.started, participant.joined, media.started, lobby.admitted, consult.ended */
  type: string;
  participantId: string | null;
  displayName: string | null;
  details: Record<string, unknown> | null;
}

export interface QualitySample {
  consultId: string;
  participantId: string;
  at: number;
  sendKbps: number | null;
  recvKbps: number | null;
  lossPct: number | null;
  rttMs: number | null;
  jitterMs: number | null;
  /** Lowest spatial layer this participant is receiving (null when receiving no video). */
  videoLayer: number | null;
}

export interface ChatMessage {
  id: string;
  consultId: string;
  at: number;
  senderId: string;
  senderName: string;
  senderRole: string;
  text: string;
}

export interface ConsultNotes {
  consultId: string;
  at: number;
  authorId: string;
  notes: string;
  outcome: string;
}

/** The consult record, written while it happens (append-mostly). */
export interface RecordRepository {
  openParticipation(p: Participation): void;
  closeParticipation(id: string, at: number, reason: string): void;
  touchParticipations(ids: string[], at: number): void;
  /** Closes every open participation of the consult at its last-seen time; returns how many. */
  closeOpenParticipations(consultId: string, reason: string): number;
  participations(consultId: string): Participation[];
  appendEvent(e: ConsultEvent): void;
  events(consultId: string): ConsultEvent[];
  lastActivity(consultId: string): number | undefined;
  appendSamples(samples: QualitySample[]): void;
  samples(consultId: string): QualitySample[];
  appendChat(m: ChatMessage): void;
  chat(consultId: string): ChatMessage[];
  /**
   * Up to `limit` messages just before `before` (a message id of this consult, or a time), or
   * the latest ones; oldest first. `anchorFound` is false when `before` names no message here.
   */
  chatPage(
    consultId: string,
    before: { id: string } | { at: number } | undefined,
    limit: number,
  ): { messages: ChatMessage[]; hasMore: boolean; anchorFound: boolean };
  chatCount(consultId: string): number;
  saveNotes(n: ConsultNotes): void;
  latestNotes(consultId: string): ConsultNotes | undefined;
  /** Deletes consults (and their whole record) that ended before `before`; returns their ids. */
  purgeEndedBefore(before: number): string[];
}

export interface Store {
  users: UserRepository;
  refreshTokens: RefreshTokenRepository;
  consults: ConsultRepository;
  invites: InviteRepository;
  audit: AuditRepository;
  records: RecordRepository;
  /** Runs fn atomically: all its writes land, or none do. */
  transaction<T>(fn: () => T): T;
  close(): void;
}
