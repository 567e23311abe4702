import type { Db } from '../database.js';
import type { RefreshTokenRepository, RefreshTokenRow } from '../repositories.js';

interface Row {
  id: string;
  user_id: string;
  family_id: string;
  token_hash: string;
  expires_at: number;
  created_at: number;
  revoked_at: number | null;
  replaced_by: string | null;
}

export class SqliteRefreshTokenRepository implements RefreshTokenRepository {
  constructor(private readonly db: Db) {}

  insert(r: RefreshTokenRow): void {
    this.db
      .prepare(
        `INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, expires_at, created_at, revoked_at, replaced_by)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        r.id,
        r.userId,
        r.familyId,
        r.tokenHash,
        r.expiresAt,
        r.createdAt,
        r.revokedAt,
        r.replacedBy,
      );
  }

  findByHash(tokenHash: string): RefreshTokenRow | undefined {
    const r = this.db
      .prepare('SELECT * FROM refresh_tokens WHERE token_hash = ?')
      .get(tokenHash) as Row | undefined;
    return (
      r && {
        id: r.id,
        userId: r.user_id,
        familyId: r.family_id,
        tokenHash: r.token_hash,
        expiresAt: r.expires_at,
        createdAt: r.created_at,
        revokedAt: r.revoked_at,
        replacedBy: r.replaced_by,
      }
    );
  }

  revoke(id: string, at: number, replacedBy: string | null): boolean {
    const res = this.db
      .prepare(
        'UPDATE refresh_tokens SET revoked_at = ?, replaced_by = ? WHERE id = ? AND revoked_at IS NULL',
      )
      .run(at, replacedBy, id);
    return res.changes === 1;
  }

  revokeFamily(familyId: string, at: number): void {
    this.db
      .prepare(
        'UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL',
      )
      .run(at, familyId);
  }

  revokeAllForUser(userId: string, at: number): void {
    this.db
      .prepare('UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL')
      .run(at, userId);
  }

  revokedFamiliesSince(since: number): { familyId: string; userId: string; revokedAt: number }[] {
    return this.db
      .prepare(
        `SELECT family_id AS familyId, user_id AS userId, MAX(revoked_at) AS revokedAt
         FROM refresh_tokens
         WHERE family_id IN (SELECT family_id FROM refresh_tokens WHERE revoked_at > ?)
         GROUP BY family_id, user_id
         HAVING COUNT(revoked_at) = COUNT(*)`,
      )
      .all(since) as { familyId: string; userId: string; revokedAt: number }[];
  }
}
