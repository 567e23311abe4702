import type { Db } from '../database.js';
import type { AuditEntry, AuditFilter, AuditRepository, Page } from '../repositories.js';

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

export class SqliteAuditRepository implements AuditRepository {
  constructor(private readonly db: Db) {}

  append(e: AuditEntry): void {
    this.db
      .prepare(
        `INSERT INTO audit_log (id, at, action, actor_id, actor_label, source_ip, object_type, object_id, outcome, details)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
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
      );
  }

  search(f: AuditFilter): Page<AuditEntry> {
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
    const rows = this.db
      .prepare(`SELECT * FROM audit_log ${clause} ORDER BY seq DESC LIMIT ? OFFSET ?`)
      .all(...args, f.limit, f.offset) as Row[];
    const { n } = this.db.prepare(`SELECT COUNT(*) AS n FROM audit_log ${clause}`).get(...args) as {
      n: number;
    };
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
