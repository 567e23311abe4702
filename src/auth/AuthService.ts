/**
 * Accounts and sessions: login (throttled per address, per account and address, and by the
 * password checks running at once), refresh-token rotation with reuse detection, logout,
 * password changes, and the admin's user management. Ending sessions (disable, role change,
 * password change, logout, reuse) goes through `sessions`, so tokens and live sockets end at once.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { AuditLog } from '../audit/AuditLog.js';
import { GatewayError } from '../errors.js';
import type {
  RefreshTokenRepository,
  Repositories,
  Store,
  User,
  UserRole,
  UserWithSecret,
} from '../store/repositories.js';
import { signAccessToken } from './accessTokens.js';
import { dummyPasswordHash, hashPassword, verifyPassword } from './passwords.js';
import { SessionRevocations, type RevocationReason } from './SessionRevocations.js';
import {
  addressKey,
  inWords,
  LoginThrottle,
  OncePerWindow,
  type LoginAttempts,
  type LoginLimits,
} from './throttle.js';

export interface AuthSettings {
  secret: string;
  accessTtlSeconds: number;
  refreshTtlSeconds: number;
  scryptCost: number;
  loginMaxFailuresPerAccount: number;
  loginMaxFailuresPerIp: number;
  loginAccountSlowdownFailures: number;
  loginMaxConcurrentChecks: number;
  loginWindowSeconds: number;
  /** Lifetime of join grants, which may name a login (`sid`); 24 h when not given. */
  joinTtlSeconds?: number;
}

export interface Session {
  accessToken: string;
  refreshToken: string;
  /** Seconds until the access token expires. */
  expiresIn: number;
  user: { id: string; name: string; role: UserRole; email: string };
}

export interface NewUser {
  email: string;
  name: string;
  role: UserRole;
  password: string;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

export class AuthService {
  #throttle: LoginAttempts;
  readonly #throttledAudit: OncePerWindow;
  #passwordChecks = 0;
  /** The login throttle's limits, from the LOGIN_* settings. */
  readonly loginLimits: LoginLimits;
  /** Revoked versions and logins, and the event signalling ends sockets on. */
  readonly sessions: SessionRevocations;

  constructor(
    private readonly store: Store,
    private readonly audit: AuditLog,
    private readonly settings: AuthSettings,
    private readonly now: () => number = Date.now,
  ) {
    const windowMs = settings.loginWindowSeconds * 1000;
    this.loginLimits = {
      failuresPerAccountAddress: settings.loginMaxFailuresPerAccount,
      failuresPerAddress: settings.loginMaxFailuresPerIp,
      accountSlowdownFailures: settings.loginAccountSlowdownFailures,
      windowMs,
      maxConcurrentChecks: settings.loginMaxConcurrentChecks,
      maxConcurrentChecksPerAccount: 1,
    };
    this.#throttle = new LoginThrottle(this.loginLimits, now);
    this.#throttledAudit = new OncePerWindow(windowMs, now);
    const longestTokenS = Math.max(settings.accessTtlSeconds, settings.joinTtlSeconds ?? 86_400);
    // Tokens are accepted up to 5 s past expiry (clock tolerance).
    this.sessions = new SessionRevocations(
      store,
      { familyMemoryMs: (longestTokenS + 5) * 1000 },
      now,
    );
  }

  /** Counts login attempts elsewhere (a cluster node: in Redis, shared by every node). */
  useLoginThrottle(throttle: LoginAttempts): void {
    this.#throttle = throttle;
  }

  /** Passwords verified since start (each one costs a scrypt hash on libuv's thread pool). */
  get passwordChecks(): number {
    return this.#passwordChecks;
  }

  async login(email: string, password: string, ip: string): Promise<Session> {
    const accountKey = email.trim().toLowerCase();
    const user = await this.store.users.findByEmailWithSecret(accountKey);
    const check = await this.#checkPassword(accountKey, password, user, ip, 'auth.login');
    if (!check.accepted || !user) {
      await this.audit.record({
        action: 'auth.login',
        actor: { id: user?.id ?? null, label: accountKey },
        ip,
        outcome: 'failure',
        details: { reason: check.passwordOk ? 'disabled' : 'bad_credentials' },
      });
      throw new GatewayError('unauthorized', 'invalid e-mail or password');
    }
    const session = await this.#issue(this.store.refreshTokens, user, randomUUID());
    await this.audit.record({
      action: 'auth.login',
      actor: { id: user.id, label: user.email },
      ip,
    });
    return session;
  }

  /**
   * Verifies a password through the login throttle: the attempt is counted before the hash is
   * computed, and refused with 429 (no hash) when its address or account is over its limits or
   * too many checks are running. Unknown accounts cost the same time as known ones.
   */
  async #checkPassword(
    accountKey: string,
    password: string,
    user: UserWithSecret | undefined,
    ip: string,
    action: string,
  ): Promise<{ accepted: boolean; passwordOk: boolean }> {
    const attempt = await this.#throttle.reserve(accountKey, ip);
    if (!attempt.ok) {
      // One audit row per address and reason (and account, for an address that failed on it)
      // per window, however many attempts follow: an address cannot make rows by varying e-mails.
      const addr = addressKey(ip);
      const key =
        attempt.reason === 'account'
          ? `account\n${accountKey}\n${addr}`
          : `${attempt.reason}\n${addr}`;
      if (this.#throttledAudit.first(key)) {
        await this.audit.record({
          action,
          actor: { id: user?.id ?? null, label: accountKey },
          ip,
          outcome: 'failure',
          details: {
            reason: 'throttled',
            limit: attempt.reason,
            retryAfterSeconds: attempt.retryAfter,
            note: 'further throttled attempts from this address are not recorded until the window ends',
          },
        });
      }
      const err = new GatewayError(
        'too_many_requests',
        attempt.reason === 'busy'
          ? `the server is busy checking other logins; try again in ${inWords(attempt.retryAfter)}`
          : attempt.reason === 'address'
            ? `too many failed logins from your address; try again in ${inWords(attempt.retryAfter)}`
            : `too many failed logins for this account from your address; try again in ${inWords(attempt.retryAfter)}`,
      );
      err.retryAfter = attempt.retryAfter;
      throw err;
    }
    let passwordOk = false;
    try {
      this.#passwordChecks++;
      passwordOk = await verifyPassword(
        password,
        user?.passwordHash ?? (await dummyPasswordHash(this.settings.scryptCost)),
      );
      return { accepted: Boolean(user && passwordOk && !user.disabled), passwordOk };
    } finally {
      attempt.finish(Boolean(user && passwordOk && !user.disabled));
    }
  }

  /** Changes the caller's own password after checking the current one (throttled like a login). */
  async changePassword(
    userId: string,
    currentPassword: string,
    newPassword: string,
    ip: string,
  ): Promise<void> {
    const found = await this.store.users.findById(userId);
    const user = found && (await this.store.users.findByEmailWithSecret(found.email));
    if (!user) throw new GatewayError('not_found', `no user ${userId}`);
    const check = await this.#checkPassword(
      user.email,
      currentPassword,
      user,
      ip,
      'user.password.change',
    );
    if (!check.accepted) {
      await this.audit.record({
        action: 'user.password.change',
        actor: { id: user.id, label: user.email },
        ip,
        outcome: 'failure',
        object: { type: 'user', id: user.id },
        details: { reason: 'bad_credentials' },
      });
      throw new GatewayError('forbidden', 'the current password is wrong');
    }
    await this.#setPassword(user.id, newPassword);
    await this.audit.record({
      action: 'user.password.change',
      actor: { id: user.id, label: user.email },
      ip,
      object: { type: 'user', id: user.id },
    });
  }

  /** Sets another user's password (admins, and the operator CLI); ends that user's sessions. */
  async resetPassword(
    id: string,
    newPassword: string,
    actor: { id: string | null; label?: string },
    ip: string | null,
  ): Promise<User> {
    if (actor.id === id)
      throw new GatewayError(
        'conflict',
        'to change your own password use PUT /api/v1/users/me/password with your current password',
      );
    if (!(await this.store.users.findById(id)))
      throw new GatewayError('not_found', `no user ${id}`);
    const user = await this.#setPassword(id, newPassword);
    await this.audit.record({
      action: 'user.password.reset',
      actor,
      ip,
      object: { type: 'user', id },
    });
    return user;
  }

  /** Stores a new hash and ends every session of the user (token version, refresh tokens) at once. */
  async #setPassword(userId: string, password: string): Promise<User> {
    const hash = await hashPassword(password, this.settings.scryptCost);
    const now = this.now();
    const user = await this.store.transaction(async (tx) => {
      const u = await tx.users.setPasswordHash(userId, hash, now);
      return u && this.#endSessions(tx, userId, now);
    });
    if (!user) throw new GatewayError('not_found', `no user ${userId}`);
    // Every access token, join grant and live socket of the user ends with the old password.
    this.sessions.userRevoked(userId, 'password_changed');
    return user;
  }

  async #issue(
    refreshTokens: RefreshTokenRepository,
    user: User,
    familyId: string,
  ): Promise<Session> {
    const now = this.now();
    const refreshToken = randomBytes(32).toString('base64url');
    await refreshTokens.insert({
      id: randomUUID(),
      userId: user.id,
      familyId,
      tokenHash: sha256(refreshToken),
      expiresAt: now + this.settings.refreshTtlSeconds * 1000,
      createdAt: now,
      revokedAt: null,
      replacedBy: null,
    });
    return {
      accessToken: signAccessToken(
        this.settings.secret,
        { sub: user.id, role: user.role, name: user.name, tv: user.tokenVersion, sid: familyId },
        this.settings.accessTtlSeconds,
      ),
      refreshToken,
      expiresIn: this.settings.accessTtlSeconds,
      user: { id: user.id, name: user.name, role: user.role, email: user.email },
    };
  }

  /** Rotates a refresh token. Presenting an already-used one revokes its whole family. */
  async refresh(refreshToken: string, ip: string): Promise<Session> {
    const now = this.now();
    const row = await this.store.refreshTokens.findByHash(sha256(refreshToken));
    const fail = async (reason: string, userId: string | null = null) => {
      await this.audit.record({
        action: 'auth.refresh',
        actor: { id: userId },
        ip,
        outcome: 'failure',
        details: { reason },
      });
      return new GatewayError('unauthorized', 'invalid or expired refresh token');
    };
    if (!row) throw await fail('unknown');
    if (row.revokedAt !== null) {
      await this.store.refreshTokens.revokeFamily(row.familyId, now);
      this.sessions.familyRevoked(row.userId, row.familyId, 'refresh_reuse');
      throw await fail('reused', row.userId);
    }
    if (row.expiresAt <= now) throw await fail('expired', row.userId);
    const user = await this.store.users.findById(row.userId);
    if (!user || user.disabled) throw await fail('disabled', row.userId);
    // The old token is revoked (compare-and-set) and its successor stored in one transaction:
    // of two concurrent rotations of one token, exactly one gets a session.
    const session = await this.store.transaction(async (tx) => {
      if (!(await tx.refreshTokens.revoke(row.id, now, null))) return null;
      return this.#issue(tx.refreshTokens, user, row.familyId);
    });
    if (!session) throw await fail('reused', row.userId);
    await this.audit.record({
      action: 'auth.refresh',
      actor: { id: user.id, label: user.email },
      ip,
    });
    return session;
  }

  async logout(refreshToken: string, ip: string): Promise<void> {
    const row = await this.store.refreshTokens.findByHash(sha256(refreshToken));
    if (!row) return;
    await this.store.refreshTokens.revokeFamily(row.familyId, this.now());
    this.sessions.familyRevoked(row.userId, row.familyId, 'logout');
    await this.audit.record({ action: 'auth.logout', actor: { id: row.userId }, ip });
  }

  async createUser(
    input: NewUser,
    actor: { id: string | null; label?: string } | null,
    ip: string | null,
  ): Promise<User> {
    const email = input.email.trim().toLowerCase();
    if (await this.store.users.findByEmailWithSecret(email)) {
      throw new GatewayError('conflict', `a user with e-mail ${email} already exists`);
    }
    const now = this.now();
    const user = await this.store.users.create({
      id: randomUUID(),
      email,
      name: input.name.trim(),
      role: input.role,
      disabled: false,
      passwordHash: await hashPassword(input.password, this.settings.scryptCost),
      createdAt: now,
      updatedAt: now,
    });
    await this.audit.record({
      action: 'user.create',
      actor,
      ip,
      object: { type: 'user', id: user.id },
      details: { email, role: user.role },
    });
    return user;
  }

  async setDisabled(
    id: string,
    disabled: boolean,
    actor: { id: string; label?: string },
    ip: string,
  ): Promise<User> {
    if (id === actor.id && disabled)
      throw new GatewayError('conflict', 'you cannot disable your own account');
    const now = this.now();
    const user = await this.store.transaction(async (tx) => {
      const u = await tx.users.setDisabled(id, disabled, now);
      return u && disabled ? this.#endSessions(tx, id, now) : u;
    });
    if (!user) throw new GatewayError('not_found', `no user ${id}`);
    if (disabled) this.sessions.userRevoked(id, 'disabled');
    else this.sessions.forget(id);
    await this.audit.record({
      action: disabled ? 'user.disable' : 'user.enable',
      actor,
      ip,
      object: { type: 'user', id },
    });
    return user;
  }

  /** Changes a user's role; their tokens and sockets (minted for the old role) end at once. */
  async setRole(
    id: string,
    role: UserRole,
    actor: { id: string; label?: string },
    ip: string,
  ): Promise<User> {
    if (id === actor.id) throw new GatewayError('conflict', 'you cannot change your own role');
    const before = await this.store.users.findById(id);
    if (!before) throw new GatewayError('not_found', `no user ${id}`);
    if (before.role === role) return before;
    const now = this.now();
    const user = await this.store.transaction(async (tx) => {
      await tx.users.setRole(id, role, now);
      // Refresh tokens stay: the next refresh issues a token with the new role.
      return tx.users.bumpTokenVersion(id, now);
    });
    if (!user) throw new GatewayError('not_found', `no user ${id}`);
    this.sessions.userRevoked(id, 'role_changed');
    await this.audit.record({
      action: 'user.role',
      actor,
      ip,
      object: { type: 'user', id },
      details: { from: before.role, to: role },
    });
    return user;
  }

  /**
   * Logs a user out everywhere: every access token, join grant, refresh token and live socket
   * ends now. For password changes and any other "end all sessions" need; false: no such user.
   */
  async revokeSessions(userId: string, reason: RevocationReason): Promise<boolean> {
    const user = await this.store.transaction((tx) => this.#endSessions(tx, userId, this.now()));
    if (!user) return false;
    this.sessions.userRevoked(userId, reason);
    return true;
  }

  /** Bumps the token version and revokes every refresh token (inside the caller's transaction). */
  async #endSessions(tx: Repositories, userId: string, now: number): Promise<User | undefined> {
    const user = await tx.users.bumpTokenVersion(userId, now);
    if (user) await tx.refreshTokens.revokeAllForUser(userId, now);
    return user;
  }
}
