import type {
  Consult,
  ConsultFilter,
  ConsultPatch,
  ConsultRepository,
  ConsultStatus,
  Guest,
  Page,
} from '../repositories.js';
import type { Sql } from './executor.js';

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
  node_id: string | null;
}

export class SqlConsultRepository implements ConsultRepository {
  constructor(private readonly db: Sql) {}

  async insert(c: Consult): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.run(
        `INSERT INTO consults (id, title, patient_ref, scheduled_start, scheduled_end, host_id, status,
           created_by, created_at, updated_at, started_at, ended_at, end_reason, node_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
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
          c.nodeId ?? null,
        ],
      );
      await writeParticipants(tx, c.id, c.specialistIds, c.guests);
    });
  }

  async #hydrate(rows: Row[]): Promise<Consult[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.id);
    const marks = ids.map(() => '?').join(',');
    const specialists = await this.db.all<{ consult_id: string; user_id: string }>(
      `SELECT consult_id, user_id FROM consult_specialists WHERE consult_id IN (${marks}) ORDER BY user_id`,
      ids,
    );
    const guests = await this.db.all<{
      id: string;
      consult_id: string;
      name: string;
      email: string | null;
    }>(
      `SELECT id, consult_id, name, email FROM consult_guests WHERE consult_id IN (${marks}) ORDER BY rowid`,
      ids,
    );
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
      nodeId: r.node_id,
    }));
  }

  async findById(id: string): Promise<Consult | undefined> {
    const row = await this.db.get<Row>('SELECT * FROM consults WHERE id = ?', [id]);
    return row ? (await this.#hydrate([row]))[0] : undefined;
  }

  async list(f: ConsultFilter): Promise<Page<Consult>> {
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
    if (f.hostedBy !== undefined) {
      where.push('(node_id = ? OR node_id IS NULL)');
      args.push(f.hostedBy);
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
    const rows = await this.db.all<Row>(
      `SELECT * FROM consults ${clause} ORDER BY scheduled_start ${f.order === 'desc' ? 'DESC' : 'ASC'}, id LIMIT ? OFFSET ?`,
      [...args, f.limit, f.offset],
    );
    const { n } = (await this.db.get<{ n: number }>(
      `SELECT COUNT(*) AS n FROM consults ${clause}`,
      args,
    ))!;
    return { items: await this.#hydrate(rows), total: n };
  }

  async update(id: string, patch: ConsultPatch, at: number): Promise<Consult | undefined> {
    const changed = await this.db.transaction(async (tx) => {
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
      const changes = await tx.run(`UPDATE consults SET ${sets.join(', ')} WHERE id = ?`, [
        ...args,
        id,
      ]);
      if (changes === 0) return false;
      await writeParticipants(tx, id, patch.specialistIds, patch.guests);
      return true;
    });
    return changed ? this.findById(id) : undefined;
  }

  async transition(
    id: string,
    from: ConsultStatus[],
    to: ConsultStatus,
    fields: Partial<Pick<Consult, 'startedAt' | 'endedAt' | 'endReason' | 'nodeId'>>,
    at: number,
  ): Promise<Consult | undefined> {
    const sets = ['status = ?', 'updated_at = ?'];
    const args: (string | number | null)[] = [to, at];
    const set = (clause: string, value: string | number) => {
      sets.push(clause);
      args.push(value);
    };
    if (fields.startedAt != null) set('started_at = COALESCE(started_at, ?)', fields.startedAt);
    if (fields.endedAt != null) set('ended_at = ?', fields.endedAt);
    if (fields.endReason != null) set('end_reason = ?', fields.endReason);
    if (fields.nodeId != null) set('node_id = ?', fields.nodeId);
    // Compare-and-set in one statement: of two concurrent transitions, one wins.
    const changes = await this.db.run(
      `UPDATE consults SET ${sets.join(', ')} WHERE id = ? AND status IN (${from.map(() => '?').join(',')})`,
      [...args, id, ...from],
    );
    return changes === 1 ? this.findById(id) : undefined;
  }
}

async function writeParticipants(
  tx: Sql,
  consultId: string,
  specialistIds?: string[],
  guests?: Guest[],
): Promise<void> {
  if (specialistIds) {
    await tx.run('DELETE FROM consult_specialists WHERE consult_id = ?', [consultId]);
    for (const id of new Set(specialistIds)) {
      await tx.run('INSERT INTO consult_specialists (consult_id, user_id) VALUES (?, ?)', [
        consultId,
        id,
      ]);
    }
  }
  if (guests) {
    await tx.run('DELETE FROM consult_guests WHERE consult_id = ?', [consultId]);
    for (const g of guests) {
      await tx.run('INSERT INTO consult_guests (id, consult_id, name, email) VALUES (?, ?, ?, ?)', [
        g.id,
        consultId,
        g.name,
        g.email,
      ]);
    }
  }
}
