import type { AuditEntry, AuditFilter, AuditRepository, Page } from '../repositories.js';
import type { Sql } from './executor.js';

interface Row {
  id: string;
  at: number;
  action: string;
  actor_id: string | null;
  actor_label: string | null;
  source_ip: string | null;
  object_type: string | null;
  object_id: string | null;
  outcome: 'success' | 'failure';
  details: string | null;
}

export class SqlAuditRepository implements AuditRepository {
  constructor(private readonly db: Sql) {}

  async append(e: AuditEntry): Promise<void> {
    await this.db.run(
      `INSERT INTO audit_log (id, at, action, actor_id, actor_label, source_ip, object_type, object_id, outcome, details)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        e.id,
        e.at,
        e.action,
        e.actorId,
        e.actorLabel,
        e.sourceIp,
        e.objectType,
        e.objectId,
        e.outcome,
        e.details ? JSON.stringify(e.details) : null,
      ],
    );
  }

  async search(f: AuditFilter): Promise<Page<AuditEntry>> {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (f.action) {
      // "auth" matches auth.login, auth.refresh, ...; "auth.login" matches exactly.
      where.push('(action = ? OR action LIKE ?)');
      args.push(f.action, `${f.action}.%`);
    }
    const add = (clause: string, value: string | number) => {
      where.push(clause);
      args.push(value);
    };
    if (f.actorId) add('actor_id = ?', f.actorId);
    if (f.outcome) add('outcome = ?', f.outcome);
    if (f.objectId) add('object_id = ?', f.objectId);
    if (f.from !== undefined) add('at >= ?', f.from);
    if (f.to !== undefined) add('at <= ?', f.to);
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const rows = await this.db.all<Row>(
      `SELECT * FROM audit_log ${clause} ORDER BY seq DESC LIMIT ? OFFSET ?`,
      [...args, f.limit, f.offset],
    );
    const { n } = (await this.db.get<{ n: number }>(
      `SELECT COUNT(*) AS n FROM audit_log ${clause}`,
      args,
    ))!;
    return {
      total: n,
      items: rows.map((r) => ({
        id: r.id,
        at: r.at,
        action: r.action,
        actorId: r.actor_id,
        actorLabel: r.actor_label,
        sourceIp: r.source_ip,
        objectType: r.object_type,
        objectId: r.object_id,
        outcome: r.outcome,
        details: r.details ? (JSON.parse(r.details) as Record<string, unknown>) : null,
      })),
    };
  }
}
