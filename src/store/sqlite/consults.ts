import type { Db } from '../database.js';
import type {
  Consult,
  ConsultFilter,
  ConsultPatch,
  ConsultRepository,
  ConsultStatus,
  Guest,
  Page,
} from '../repositories.js';

interface Row {
  id: string;
  title: string;
  patient_ref: string;
  scheduled_start: number;
  scheduled_end: number;
  host_id: string;
  status: ConsultStatus;
  created_by: string;
  created_at: number;
  updated_at: number;
  started_at: number | null;
  ended_at: number | null;
  end_reason: string | null;
}

export class SqliteConsultRepository implements ConsultRepository {
  constructor(private readonly db: Db) {}

  insert(c: Consult): void {
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO consults (id, title, patient_ref, scheduled_start, scheduled_end, host_id, status,
             created_by, created_at, updated_at, started_at, ended_at, end_reason)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          c.id,
          c.title,
          c.patientRef,
          c.scheduledStart,
          c.scheduledEnd,
          c.hostId,
          c.status,
          c.createdBy,
          c.createdAt,
          c.updatedAt,
          c.startedAt,
          c.endedAt,
          c.endReason,
        );
      this.#writeParticipants(c.id, c.specialistIds, c.guests);
    })();
  }

  #writeParticipants(consultId: string, specialistIds?: string[], guests?: Guest[]): void {
    if (specialistIds) {
      this.db.prepare('DELETE FROM consult_specialists WHERE consult_id = ?').run(consultId);
      const add = this.db.prepare(
        'INSERT INTO consult_specialists (consult_id, user_id) VALUES (?, ?)',
      );
      for (const id of new Set(specialistIds)) add.run(consultId, id);
    }
    if (guests) {
      this.db.prepare('DELETE FROM consult_guests WHERE consult_id = ?').run(consultId);
      const add = this.db.prepare(
        'INSERT INTO consult_guests (id, consult_id, name, email) VALUES (?, ?, ?, ?)',
      );
      for (const g of guests) add.run(g.id, consultId, g.name, g.email);
    }
  }

  #hydrate(rows: Row[]): Consult[] {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.id);
    const marks = ids.map(() => '?').join(',');
    const specialists = this.db
      .prepare(
        `SELECT consult_id, user_id FROM consult_specialists WHERE consult_id IN (${marks}) ORDER BY user_id`,
      )
      .all(...ids) as { consult_id: string; user_id: string }[];
    const guests = this.db
      .prepare(
        `SELECT id, consult_id, name, email FROM consult_guests WHERE consult_id IN (${marks}) ORDER BY rowid`,
      )
      .all(...ids) as { id: string; consult_id: string; name: string; email: string | null }[];
    return rows.map((r) => ({
      id: r.id,
      title: r.title,
      patientRef: r.patient_ref,
      scheduledStart: r.scheduled_start,
      scheduledEnd: r.scheduled_end,
      hostId: r.host_id,
      specialistIds: specialists.filter((s) => s.consult_id === r.id).map((s) => s.user_id),
      guests: guests
        .filter((g) => g.consult_id === r.id)
        .map((g) => ({ id: g.id, name: g.name, email: g.email })),
      status: r.status,
      createdBy: r.created_by,
      createdAt: r.created_at,
      updatedAt: r.updated_at,
      startedAt: r.started_at,
      endedAt: r.ended_at,
      endReason: r.end_reason,
    }));
  }

  findById(id: string): Consult | undefined {
    const row = this.db.prepare('SELECT * FROM consults WHERE id = ?').get(id) as Row | undefined;
    return row ? this.#hydrate([row])[0] : undefined;
  }

  list(f: ConsultFilter): Page<Consult> {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (f.participantId) {
      where.push(
        '(host_id = ? OR id IN (SELECT consult_id FROM consult_specialists WHERE user_id = ?))',
      );
      args.push(f.participantId, f.participantId);
    }
    if (f.status?.length) {
      where.push(`status IN (${f.status.map(() => '?').join(',')})`);
      args.push(...f.status);
    }
    if (f.from !== undefined) {
      where.push('scheduled_end >= ?');
      args.push(f.from);
    }
    if (f.to !== undefined) {
      where.push('scheduled_start <= ?');
      args.push(f.to);
    }
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const rows = this.db
      .prepare(
        `SELECT * FROM consults ${clause} ORDER BY scheduled_start ${f.order === 'desc' ? 'DESC' : 'ASC'}, id LIMIT ? OFFSET ?`,
      )
      .all(...args, f.limit, f.offset) as Row[];
    const { n } = this.db.prepare(`SELECT COUNT(*) AS n FROM consults ${clause}`).get(...args) as {
      n: number;
    };
    return { items: this.#hydrate(rows), total: n };
  }

  update(id: string, patch: ConsultPatch, at: number): Consult | undefined {
    return this.db.transaction(() => {
      const sets: string[] = ['updated_at = ?'];
      const args: (string | number)[] = [at];
      const columns: [keyof ConsultPatch, string][] = [
        ['title', 'title'],
        ['patientRef', 'patient_ref'],
        ['scheduledStart', 'scheduled_start'],
        ['scheduledEnd', 'scheduled_end'],
        ['hostId', 'host_id'],
      ];
      for (const [key, column] of columns) {
        if (patch[key] !== undefined) {
          sets.push(`${column} = ?`);
          args.push(patch[key] as string | number);
        }
      }
      const res = this.db
        .prepare(`UPDATE consults SET ${sets.join(', ')} WHERE id = ?`)
        .run(...args, id);
      if (res.changes === 0) return undefined;
      this.#writeParticipants(id, patch.specialistIds, patch.guests);
      return this.findById(id);
    })();
  }

  transition(
    id: string,
    from: ConsultStatus[],
    to: ConsultStatus,
    fields: Partial<Pick<Consult, 'startedAt' | 'endedAt' | 'endReason'>>,
    at: number,
  ): Consult | undefined {
    const sets = ['status = ?', 'updated_at = ?'];
    const args: (string | number | null)[] = [to, at];
    const set = (clause: string, value: string | number) => {
      sets.push(clause);
      args.push(value);
    };
    if (fields.startedAt != null) set('started_at = COALESCE(started_at, ?)', fields.startedAt);
    if (fields.endedAt != null) set('ended_at = ?', fields.endedAt);
    if (fields.endReason != null) set('end_reason = ?', fields.endReason);
    const res = this.db
      .prepare(
        `UPDATE consults SET ${sets.join(', ')} WHERE id = ? AND status IN (${from.map(() => '?').join(',')})`,
      )
      .run(...args, id, ...from);
    return res.changes === 1 ? this.findById(id) : undefined;
  }
}
