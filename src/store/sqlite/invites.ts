import type { Db } from '../database.js';
import type { Invite, InviteRepository } from '../repositories.js';

interface Row {
  id: string;
  consult_id: string;
  guest_name: string;
  email: string | null;
  created_by: string;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
  first_used_at: number | null;
  max_uses: number;
  uses: number;
}

const toInvite = (r: Row): Invite => ({
  id: r.id,
  consultId: r.consult_id,
  guestName: r.guest_name,
  email: r.email,
  createdBy: r.created_by,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  revokedAt: r.revoked_at,
  firstUsedAt: r.first_used_at,
  maxUses: r.max_uses,
  uses: r.uses,
});

export class SqliteInviteRepository implements InviteRepository {
  constructor(private readonly db: Db) {}

  insert(i: Invite): void {
    this.db
      .prepare(
        `INSERT INTO invites (id, consult_id, guest_name, email, created_by, created_at, expires_at, revoked_at, first_used_at, max_uses, uses)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        i.id,
        i.consultId,
        i.guestName,
        i.email,
        i.createdBy,
        i.createdAt,
        i.expiresAt,
        i.revokedAt,
        i.firstUsedAt,
        i.maxUses,
        i.uses,
      );
  }

  findById(id: string): Invite | undefined {
    const r = this.db.prepare('SELECT * FROM invites WHERE id = ?').get(id) as Row | undefined;
    return r && toInvite(r);
  }

  listByConsult(consultId: string): Invite[] {
    const rows = this.db
      .prepare('SELECT * FROM invites WHERE consult_id = ? ORDER BY created_at, id')
      .all(consultId) as Row[];
    return rows.map(toInvite);
  }

  revoke(id: string, at: number): Invite | undefined {
    this.db
      .prepare('UPDATE invites SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL')
      .run(at, id);
    return this.findById(id);
  }

  redeem(id: string, at: number): boolean {
    const { changes } = this.db
      .prepare(
        `UPDATE invites SET uses = uses + 1, first_used_at = COALESCE(first_used_at, ?)
         WHERE id = ? AND uses < max_uses AND revoked_at IS NULL AND expires_at > ?`,
      )
      .run(at, id, at);
    return changes === 1;
  }
}
