/**
 * Revocation that bites at once. Access tokens and account join grants carry the user's token
 * version (`tv`) and their login's refresh family (`sid`); a token whose version is behind the
 * user's, or whose family was revoked, is refused on its next use. Listeners (signalling) hear
 * `sessionsRevoked` and end the live sockets the same moment.
 *
 * User versions are cached for a few seconds so the hot path (every request, every connect,
 * every privileged event) does not read SQLite each time; whoever changes a user in this
 * process invalidates the entry at once, so the TTL only bounds changes made by another process.
 */
import { GatewayError } from '../errors.js';
import type { Store } from '../store/repositories.js';
import { TypedEmitter } from '../util/TypedEmitter.js';
import type { AccessClaims } from './accessTokens.js';
import type { JoinClaims } from './tokens.js';

export type RevocationReason =
  'disabled' | 'role_changed' | 'logout' | 'refresh_reuse' | 'password_changed' | 'revoked';

export interface Revocation {
  userId: string;
  /** Only this login (refresh family) ended; absent: every session of the user ended. */
  familyId?: string;
  reason: RevocationReason;
}

type RevocationEvents = {
  /** Sessions ended: close the sockets whose grant belongs to them. */
  sessionsRevoked: [revocation: Revocation];
};

/** A user (or none) the caller read from the store after noting `epoch` (see `epoch`). */
export interface FreshUser {
  user: { tokenVersion: number; disabled: boolean } | undefined;
  epoch: number;
}

interface UserState {
  version: number;
  disabled: boolean;
  readAt: number;
}

export interface RevocationSettings {
  /** How long a revoked family is remembered: the longest life of a token that carries it. */
  familyMemoryMs: number;
  /** How long a cached user version is trusted (bounds changes made by another process). */
  cacheTtlMs?: number;
  /** Most users cached at once (oldest dropped first). */
  cacheSize?: number;
}

export class SessionRevocations extends TypedEmitter<RevocationEvents> {
  readonly #users = new Map<string, UserState>();
  /** Revoked refresh families → when their last token that names them expires. */
  readonly #families = new Map<string, number>();
  readonly #cacheTtlMs: number;
  readonly #cacheSize: number;
  /** Counts revocations, so a read that overlapped one is not cached. */
  #epoch = 0;
  /** Settles when the revoked logins of the last run are loaded (the checks wait for it). */
  readonly ready: Promise<void>;

  constructor(
    private readonly store: Store,
    private readonly settings: RevocationSettings,
    private readonly now: () => number = Date.now,
  ) {
    super();
    this.#cacheTtlMs = settings.cacheTtlMs ?? 5_000;
    this.#cacheSize = settings.cacheSize ?? 10_000;
    // A restart must not bring logged-out tokens back to life.
    this.ready = this.#loadRevokedFamilies(now() - settings.familyMemoryMs);
    // Callers of the checks see a failed load; this keeps it from being unhandled meanwhile.
    this.ready.catch(() => undefined);
  }

  async #loadRevokedFamilies(since: number): Promise<void> {
    for (const f of await this.store.refreshTokens.revokedFamiliesSince(since)) {
      this.#families.set(f.familyId, f.revokedAt + this.settings.familyMemoryMs);
    }
  }

  /** Bumped by every revocation: a check that awaited may compare it to see one landed meanwhile. */
  get epoch(): number {
    return this.#epoch;
  }

  /** Every token and socket of the user ended (after its version was bumped in the store). */
  userRevoked(userId: string, reason: RevocationReason): void {
    this.#epoch++;
    this.#users.delete(userId);
    this.safeEmit('sessionsRevoked', { userId, reason });
  }

  /** One login ended (logout, refresh-token reuse): its access tokens and sockets with it. */
  familyRevoked(userId: string, familyId: string, reason: RevocationReason): void {
    const now = this.now();
    for (const [id, until] of this.#families) if (until <= now) this.#families.delete(id);
    this.#families.set(familyId, now + this.settings.familyMemoryMs);
    this.safeEmit('sessionsRevoked', { userId, familyId, reason });
  }

  /** The user's stored state changed without revoking anything (re-enabled): read it afresh. */
  forget(userId: string): void {
    this.#epoch++;
    this.#users.delete(userId);
  }

  /** Refuses an access token of a disabled user, of an older version, or of an ended login. */
  async assertAccess(claims: AccessClaims): Promise<void> {
    const user = await this.#user(claims.sub);
    if (!user || user.disabled) throw new GatewayError('unauthorized', 'this account is disabled');
    if ((claims.tv ?? 0) !== user.version || this.#familyRevoked(claims.sid))
      throw new GatewayError('unauthorized', 'this session has ended; log in again');
  }

  /**
   * Refuses an account's join grant minted before its sessions were revoked. Guests' grants
   * (with an invite) are revoked with their invite instead; unknown subjects are left to the
   * consult's own check.
   */
  async assertJoin(claims: JoinClaims, read?: FreshUser): Promise<void> {
    if (claims.inviteId) return;
    const user = read ? await this.#fresh(claims.sub, read) : await this.#user(claims.sub);
    if (!user) return;
    if ((claims.tv ?? 0) !== user.version || this.#familyRevoked(claims.sid))
      throw new GatewayError(
        'unauthorized',
        'this join grant was revoked (your sessions ended); log in and get a new one',
      );
  }

  #familyRevoked(familyId: string | undefined): boolean {
    if (familyId === undefined) return false;
    const until = this.#families.get(familyId);
    return until !== undefined && until > this.now();
  }

  /**
   * The user as the caller read it from the store (cached like a read of ours), unless a
   * revocation landed since the caller's `epoch`: then it may predate it, and is read again.
   */
  async #fresh(id: string, read: FreshUser): Promise<UserState | undefined> {
    await this.ready;
    if (read.epoch !== this.#epoch) return this.#user(id);
    if (!read.user) return undefined;
    const state = {
      version: read.user.tokenVersion,
      disabled: read.user.disabled,
      readAt: this.now(),
    };
    this.#remember(id, state);
    return state;
  }

  #remember(id: string, state: UserState): void {
    this.#users.delete(id);
    if (this.#users.size >= this.#cacheSize)
      this.#users.delete(this.#users.keys().next().value as string);
    this.#users.set(id, state);
  }

  async #user(id: string): Promise<UserState | undefined> {
    await this.ready;
    const now = this.now();
    const cached = this.#users.get(id);
    if (cached && now - cached.readAt < this.#cacheTtlMs) return cached;
    this.#users.delete(id);
    const epoch = this.#epoch;
    const u = await this.store.users.findById(id);
    if (!u) return undefined;
    const state = { version: u.tokenVersion, disabled: u.disabled, readAt: now };
    // A revocation while the read was under way: what was read may predate it, so keep it not.
    if (epoch !== this.#epoch) return state;
    this.#remember(id, state);
    return state;
  }
}
