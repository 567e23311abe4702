/**
 * Accounts and sessions: login (throttled per account and per IP), refresh-token rotation
 * with reuse detection, logout, and the admin's user management.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { AuditLog } from '../audit/AuditLog.js';
import { GatewayError } from '../errors.js';
import type { Store, User, UserRole } from '../store/repositories.js';
import { signAccessToken } from './accessTokens.js';
import { dummyPasswordHash, hashPassword, verifyPassword } from './passwords.js';
import { FailureThrottle } from './throttle.js';

export interface AuthSettings {
  secret: string;
  accessTtlSeconds: number;
  refreshTtlSeconds: number;
  scryptCost: number;
  loginMaxFailuresPerAccount: number;
  loginMaxFailuresPerIp: number;
  loginWindowSeconds: number;
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
  readonly #perAccount: FailureThrottle;
  readonly #perIp: FailureThrottle;

  constructor(
    private readonly store: Store,
    private readonly audit: AuditLog,
    private readonly settings: AuthSettings,
    private readonly now: () => number = Date.now,
  ) {
    const windowMs = settings.loginWindowSeconds * 1000;
    this.#perAccount = new FailureThrottle(settings.loginMaxFailuresPerAccount, windowMs, now);
    this.#perIp = new FailureThrottle(settings.loginMaxFailuresPerIp, windowMs, now);
  }

  async login(email: string, password: string, ip: string): Promise<Session> {
    const accountKey = email.trim().toLowerCase();
    const wait = Math.max(this.#perAccount.retryAfter(accountKey), this.#perIp.retryAfter(ip));
    if (wait > 0) {
      this.audit.record({
        action: 'auth.login',
        actor: { id: null, label: accountKey },
        ip,
        outcome: 'failure',
        details: { reason: 'throttled' },
      });
      const err = new GatewayError(
        'too_many_requests',
        `too many failed logins; try again in ${wait} s`,
      );
      err.retryAfter = wait;
      throw err;
    }
    const user = this.store.users.findByEmailWithSecret(accountKey);
    // Unknown accounts cost the same time as known ones, so timing does not reveal them.
    const ok = await verifyPassword(
      password,
      user?.passwordHash ?? (await dummyPasswordHash(this.settings.scryptCost)),
    );
    if (!user || !ok || user.disabled) {
      this.#perAccount.fail(accountKey);
      this.#perIp.fail(ip);
      this.audit.record({
        action: 'auth.login',
        actor: { id: user?.id ?? null, label: accountKey },
        ip,
        outcome: 'failure',
        details: { reason: user?.disabled && ok ? 'disabled' : 'bad_credentials' },
      });
      throw new GatewayError('unauthorized', 'invalid e-mail or password');
    }
    this.#perAccount.reset(accountKey);
    const session = this.#issue(user, randomUUID());
    this.audit.record({ action: 'auth.login', actor: { id: user.id, label: user.email }, ip });
    return session;
  }

  #issue(user: User, familyId: string): Session {
    const now = this.now();
    const refreshToken = randomBytes(32).toString('base64url');
    this.store.refreshTokens.insert({
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
        { sub: user.id, role: user.role, name: user.name },
        this.settings.accessTtlSeconds,
      ),
      refreshToken,
      expiresIn: this.settings.accessTtlSeconds,
      user: { id: user.id, name: user.name, role: user.role, email: user.email },
    };
  }

  /** Rotates a refresh token. Presenting an already-used one revokes its whole family. */
  refresh(refreshToken: string, ip: string): Session {
    const now = this.now();
    const row = this.store.refreshTokens.findByHash(sha256(refreshToken));
    const fail = (reason: string, userId: string | null = null) => {
      this.audit.record({
        action: 'auth.refresh',
        actor: { id: userId },
        ip,
        outcome: 'failure',
        details: { reason },
      });
      return new GatewayError('unauthorized', 'invalid or expired refresh token');
    };
    if (!row) throw fail('unknown');
    if (row.revokedAt !== null) {
      this.store.refreshTokens.revokeFamily(row.familyId, now);
      throw fail('reused', row.userId);
    }
    if (row.expiresAt <= now) throw fail('expired', row.userId);
    const user = this.store.users.findById(row.userId);
    if (!user || user.disabled) throw fail('disabled', row.userId);
    const session = this.store.transaction(() => {
      if (!this.store.refreshTokens.revoke(row.id, now, null)) return null;
      return this.#issue(user, row.familyId);
    });
    if (!session) throw fail('reused', row.userId);
    this.audit.record({ action: 'auth.refresh', actor: { id: user.id, label: user.email }, ip });
    return session;
  }

  logout(refreshToken: string, ip: string): void {
    const row = this.store.refreshTokens.findByHash(sha256(refreshToken));
    if (!row) return;
    this.store.refreshTokens.revokeFamily(row.familyId, this.now());
    this.audit.record({ action: 'auth.logout', actor: { id: row.userId }, ip });
  }

  async createUser(
    input: NewUser,
    actor: { id: string | null; label?: string } | null,
    ip: string | null,
  ): Promise<User> {
    const email = input.email.trim().toLowerCase();
    if (this.store.users.findByEmailWithSecret(email)) {
      throw new GatewayError('conflict', `a user with e-mail ${email} already exists`);
    }
    const now = this.now();
    const user = this.store.users.create({
      id: randomUUID(),
      email,
      name: input.name.trim(),
      role: input.role,
      disabled: false,
      passwordHash: await hashPassword(input.password, this.settings.scryptCost),
      createdAt: now,
      updatedAt: now,
    });
    this.audit.record({
      action: 'user.create',
      actor,
      ip,
      object: { type: 'user', id: user.id },
      details: { email, role: user.role },
    });
    return user;
  }

  setDisabled(
    id: string,
    disabled: boolean,
    actor: { id: string; label?: string },
    ip: string,
  ): User {
    if (id === actor.id && disabled)
      throw new GatewayError('conflict', 'you cannot disable your own account');
    const now = this.now();
    const user = this.store.transaction(() => {
      const u = this.store.users.setDisabled(id, disabled, now);
      if (u && disabled) this.store.refreshTokens.revokeAllForUser(id, now);
      return u;
    });
    if (!user) throw new GatewayError('not_found', `no user ${id}`);
    this.audit.record({
      action: disabled ? 'user.disable' : 'user.enable',
      actor,
      ip,
      object: { type: 'user', id },
    });
    return user;
  }
}
