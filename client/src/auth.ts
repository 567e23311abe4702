/**
 * The login session: the access token lives in memory only, the refresh token in
 * localStorage (so a reload or a new tab stays logged in). Access tokens are refreshed a
 * minute before they expire and once after a 401. Refreshes are serialised across tabs with
 * the Web Locks API, because the server rotates refresh tokens and treats a reused one as
 * stolen (revoking the whole session).
 */
import { ApiError, request } from './api';
import type { AuthSession, TokenSource, UserRole } from './api';
import { Emitter } from './emitter';

const REFRESH_KEY = 'telemed.refreshToken';
const LOCK_NAME = 'telemed.refresh';
/** Refresh this long before the access token expires. */
const EARLY_MS = 60_000;

export type SessionUser = AuthSession['user'];

type AuthEvents = {
  /** Logged in, refreshed into a different user, or logged out (null). */
  user: [SessionUser | null];
};

export class Auth extends Emitter<AuthEvents> implements TokenSource {
  private access: string | null = null;
  private expiresAt = 0;
  private current: SessionUser | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private refreshing: Promise<boolean> | null = null;
  private restored: Promise<SessionUser | null> | null = null;

  constructor(private readonly storage: Storage = window.localStorage) {
    super();
    // Another tab logged out: so does this one.
    window.addEventListener('storage', (e) => {
      if (e.key === REFRESH_KEY && e.newValue === null && this.current) this.clear();
    });
  }

  get user(): SessionUser | null {
    return this.current;
  }

  /** True when a refresh token is stored (a session may be restorable). */
  get hasStoredSession(): boolean {
    return this.storage.getItem(REFRESH_KEY) !== null;
  }

  /** Logs in; throws ApiError (401 bad credentials, 429 with retryAfter). */
  async login(email: string, password: string): Promise<SessionUser> {
    const session = await request<AuthSession>('POST', '/auth/login', {
      body: { email, password },
    });
    this.set(session);
    return session.user;
  }

  /** Restores the session from the stored refresh token (once per page load). */
  restore(): Promise<SessionUser | null> {
    if (this.current) return Promise.resolve(this.current);
    this.restored ??= this.refresh()
      .catch(() => false)
      .then(() => this.current);
    return this.restored;
  }

  /** Revokes the refresh token on the server (best effort) and forgets the session. */
  async logout(): Promise<void> {
    const token = this.storage.getItem(REFRESH_KEY);
    this.storage.removeItem(REFRESH_KEY);
    this.clear();
    if (token)
      await request('POST', '/auth/logout', { body: { refreshToken: token } }).catch(() => 0);
  }

  async accessToken(): Promise<string | null> {
    if (this.access && Date.now() < this.expiresAt - 5_000) return this.access;
    if (!this.storage.getItem(REFRESH_KEY)) return this.access;
    await this.refresh().catch(() => false);
    return this.access;
  }

  async recover(): Promise<boolean> {
    return this.refresh().catch(() => false);
  }

  /** The role's home page. */
  static home(role: UserRole): string {
    return `/${role}`;
  }

  /** Rotates the refresh token; false when there is no (valid) session any more. */
  private refresh(): Promise<boolean> {
    this.refreshing ??= this.withLock(() => this.rotate()).finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async rotate(): Promise<boolean> {
    // Read inside the lock: another tab may have rotated it a moment ago.
    const token = this.storage.getItem(REFRESH_KEY);
    if (!token) {
      this.clear();
      return false;
    }
    try {
      this.set(
        await request<AuthSession>('POST', '/auth/refresh', { body: { refreshToken: token } }),
      );
      return true;
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        if (this.storage.getItem(REFRESH_KEY) === token) this.storage.removeItem(REFRESH_KEY);
        this.clear();
        return false;
      }
      throw err;
    }
  }

  private withLock<T>(fn: () => Promise<T>): Promise<T> {
    const locks = (navigator as Navigator & { locks?: LockManager }).locks;
    return locks ? (locks.request(LOCK_NAME, fn) as Promise<T>) : fn();
  }

  private set(session: AuthSession): void {
    this.storage.setItem(REFRESH_KEY, session.refreshToken);
    this.access = session.accessToken;
    this.expiresAt = Date.now() + session.expiresIn * 1000;
    const changed = this.current?.id !== session.user.id;
    this.current = session.user;
    this.schedule(session.expiresIn * 1000);
    if (changed) this.emit('user', this.current);
  }

  private schedule(ttlMs: number): void {
    if (this.timer) clearTimeout(this.timer);
    const delay = Math.max(ttlMs - EARLY_MS, ttlMs / 2, 5_000);
    this.timer = setTimeout(() => void this.refresh().catch(() => false), delay);
  }

  private clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.access = null;
    this.expiresAt = 0;
    this.restored = null;
    const had = this.current !== null;
    this.current = null;
    if (had) this.emit('user', null);
  }
}
