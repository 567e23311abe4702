import type { RefreshTokenRepository, RefreshTokenRow } from '../repositories.js';
import type { Sql } from './executor.js';

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

export class SqlRefreshTokenRepository implements RefreshTokenRepository {
  constructor(private readonly db: Sql) {}

  async insert(r: RefreshTokenRow): Promise<void> {
    await this.db.run(
      `INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, expires_at, created_at, revoked_at, replaced_by)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        r.id,
        r.userId,
        r.familyId,
        r.tokenHash,
        r.expiresAt,
        r.createdAt,
        r.revokedAt,
        r.replacedBy,
      ],
    );
  }

  async findByHash(tokenHash: string): Promise<RefreshTokenRow | undefined> {
    const r = await this.db.get<Row>('SELECT * FROM refresh_tokens WHERE token_hash = ?', [
      tokenHash,
    ]);
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

  async revoke(id: string, at: number, replacedBy: string | null): Promise<boolean> {
    const changes = await this.db.run(
      'UPDATE refresh_tokens SET revoked_at = ?, replaced_by = ? WHERE id = ? AND revoked_at IS NULL',
      [at, replacedBy, id],
    );
    return changes === 1;
  }

  async revokeFamily(familyId: string, at: number): Promise<void> {
    await this.db.run(
      'UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL',
      [at, familyId],
    );
  }

  async revokeAllForUser(userId: string, at: number): Promise<void> {
    await this.db.run(
      'UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL',
      [at, userId],
    );
  }

  async revokedFamiliesSince(
    since: number,
  ): Promise<{ familyId: string; userId: string; revokedAt: number }[]> {
    const rows = await this.db.all<{ family_id: string; user_id: string; revoked_at: number }>(
      `SELECT family_id, user_id, MAX(revoked_at) AS revoked_at
       FROM refresh_tokens
       WHERE family_id IN (SELECT family_id FROM refresh_tokens WHERE revoked_at > ?)
       GROUP BY family_id, user_id
       HAVING COUNT(revoked_at) = COUNT(*)`,
      [since],
    );
    return rows.map((r) => ({ familyId: r.family_id, userId: r.user_id, revokedAt: r.revoked_at }));
  }
}
