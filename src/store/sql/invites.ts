import type { Invite, InviteRepository } from '../repositories.js';
import type { Sql } from './executor.js';

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

export class SqlInviteRepository implements InviteRepository {
  constructor(private readonly db: Sql) {}

  async insert(i: Invite): Promise<void> {
    await this.db.run(
      `INSERT INTO invites (id, consult_id, guest_name, email, created_by, created_at, expires_at, revoked_at, first_used_at, max_uses, uses)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
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
      ],
    );
  }

  async findById(id: string): Promise<Invite | undefined> {
    const r = await this.db.get<Row>('SELECT * FROM invites WHERE id = ?', [id]);
    return r && toInvite(r);
  }

  async listByConsult(consultId: string): Promise<Invite[]> {
    const rows = await this.db.all<Row>(
      'SELECT * FROM invites WHERE consult_id = ? ORDER BY created_at, id',
      [consultId],
    );
    return rows.map(toInvite);
  }

  async revoke(id: string, at: number): Promise<Invite | undefined> {
    await this.db.run('UPDATE invites SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL', [
      at,
      id,
    ]);
    return this.findById(id);
  }

  async redeem(id: string, at: number): Promise<boolean> {
    // One conditional UPDATE: two redemptions at once cannot both take the last use.
    const changes = await this.db.run(
      `UPDATE invites SET uses = uses + 1, first_used_at = COALESCE(first_used_at, ?)
       WHERE id = ? AND uses < max_uses AND revoked_at IS NULL AND expires_at > ?`,
      [at, id, at],
    );
    return changes === 1;
  }
}
