/**
 * Storage behind one interface per aggregate, asynchronous so a network database (PostgreSQL)
 * can sit behind it as well as the embedded SQLite. Times are epoch milliseconds;
 * implementations must make each method atomic.
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
  create(user: Omit<UserWithSecret, 'tokenVersion'>): Promise<User>;
  findById(id: string): Promise<User | undefined>;
  findByEmailWithSecret(email: string): Promise<UserWithSecret | undefined>;
  list(filter: UserFilter): Promise<Page<User>>;
  setDisabled(id: string, disabled: boolean, at: number): Promise<User | undefined>;
  setRole(id: string, role: UserRole, at: number): Promise<User | undefined>;
  /** Increments the user's token version; undefined when there is no such user. */
  bumpTokenVersion(id: string, at: number): Promise<User | undefined>;
  /** Replaces the password hash; undefined when there is no such user. */
  setPasswordHash(id: string, passwordHash: string, at: number): Promise<User | undefined>;
  count(): Promise<number>;
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
  insert(row: RefreshTokenRow): Promise<void>;
  findByHash(tokenHash: string): Promise<RefreshTokenRow | undefined>;
  /** Marks one token used/revoked; false when it already was (a concurrent rotation). */
  revoke(id: string, at: number, replacedBy: string | null): Promise<boolean>;
  revokeFamily(familyId: string, at: number): Promise<void>;
  revokeAllForUser(userId: string, at: number): Promise<void>;
  /** Families with every token revoked (logout, reuse, disable), the last revocation after `since`. */
  revokedFamiliesSince(
    since: number,
  ): Promise<{ familyId: string; userId: string; revokedAt: number }[]>;
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
  /** The gateway node hosting it while live (NODE_ID); null before it went live. */
  nodeId?: string | null;
}

export interface ConsultFilter {
  /** Only consults this user hosts or is invited to (unset: all). */
  participantId?: string;
  status?: ConsultStatus[];
  from?: number;
  to?: number;
  /** Only consults hosted by this node (or by no recorded node: live before nodes were recorded). */
  hostedBy?: string;
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
  insert(consult: Consult): Promise<void>;
  findById(id: string): Promise<Consult | undefined>;
  list(filter: ConsultFilter): Promise<Page<Consult>>;
  update(id: string, patch: ConsultPatch, at: number): Promise<Consult | undefined>;
  /**
   * Moves a consult to `to` only if its status is one of `from` (compare-and-set), setting
   * the given timestamps; returns the updated consult, or undefined when it was not in `from`.
   */
  transition(
    id: string,
    from: ConsultStatus[],
    to: ConsultStatus,
    fields: Partial<Pick<Consult, 'startedAt' | 'endedAt' | 'endReason' | 'nodeId'>>,
    at: number,
  ): Promise<Consult | undefined>;
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
  insert(invite: Invite): Promise<void>;
  findById(id: string): Promise<Invite | undefined>;
  listByConsult(consultId: string): Promise<Invite[]>;
  revoke(id: string, at: number): Promise<Invite | undefined>;
  /**
   * Counts one redemption at `at`, atomically, if the invite still has a use left and is
   * neither revoked nor expired; false otherwise.
   */
  redeem(id: string, at: number): Promise<boolean>;
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
  append(entry: AuditEntry): Promise<void>;
  search(filter: AuditFilter): Promise<Page<AuditEntry>>;
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
  openParticipation(p: Participation): Promise<void>;
  closeParticipation(id: string, at: number, reason: string): Promise<void>;
  touchParticipations(ids: string[], at: number): Promise<void>;
  /** Closes every open participation of the consult at its last-seen time; returns how many. */
  closeOpenParticipations(consultId: string, reason: string): Promise<number>;
  /**
   * Closes a seat's participations that are still open and began before `before`, at their
   * last-seen time (a seat that went on through another node); returns how many.
   */
  closeSeatParticipations(
    consultId: string,
    peerId: string,
    before: number,
    reason: string,
  ): Promise<number>;
  participations(consultId: string): Promise<Participation[]>;
  appendEvent(e: ConsultEvent): Promise<void>;
  events(consultId: string): Promise<ConsultEvent[]>;
  lastActivity(consultId: string): Promise<number | undefined>;
  appendSamples(samples: QualitySample[]): Promise<void>;
  samples(consultId: string): Promise<QualitySample[]>;
  /**
   * Stores a message unless the consult already holds `maxPerConsult` (counted atomically, so
   * concurrent posts cannot pass the cap together); false when it is full.
   */
  appendChat(m: ChatMessage, maxPerConsult?: number): Promise<boolean>;
  chat(consultId: string): Promise<ChatMessage[]>;
  /**
   * Up to `limit` messages just before `before` (a message id of this consult, or a time), or
   * the latest ones; oldest first. `anchorFound` is false when `before` names no message here.
   */
  chatPage(
    consultId: string,
    before: { id: string } | { at: number } | undefined,
    limit: number,
  ): Promise<{ messages: ChatMessage[]; hasMore: boolean; anchorFound: boolean }>;
  chatCount(consultId: string): Promise<number>;
  saveNotes(n: ConsultNotes): Promise<void>;
  latestNotes(consultId: string): Promise<ConsultNotes | undefined>;
  /** Deletes consults (and their whole record) that ended before `before`; returns their ids. */
  purgeEndedBefore(before: number): Promise<string[]>;
}

/** The repositories, as seen outside a transaction or inside one. */
export interface Repositories {
  users: UserRepository;
  refreshTokens: RefreshTokenRepository;
  consults: ConsultRepository;
  invites: InviteRepository;
  audit: AuditRepository;
  records: RecordRepository;
}

export interface Store extends Repositories {
  /**
   * Runs fn atomically on one connection: all the writes it makes through `tx` land, or none
   * do. Use only `tx` inside fn (the outer repositories wait for the transaction to end).
   */
  transaction<T>(fn: (tx: Repositories) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
