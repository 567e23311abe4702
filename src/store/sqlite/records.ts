import type { Db } from '../database.js';
import type {
  ChatMessage,
  ConsultEvent,
  ConsultNotes,
  Participation,
  QualitySample,
  RecordRepository,
} from '../repositories.js';

const json = (v: unknown) => (v == null ? null : JSON.stringify(v));

export class SqliteRecordRepository implements RecordRepository {
  constructor(private readonly db: Db) {}

  openParticipation(p: Participation): void {
    this.db
      .prepare(
        `INSERT INTO participations (id, consult_id, participant_id, peer_id, display_name, alias, role,
           user_agent, network_type, joined_at, last_seen_at, left_at, leave_reason)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        p.id,
        p.consultId,
        p.participantId,
        p.peerId,
        p.displayName,
        p.alias,
        p.role,
        p.userAgent,
        p.networkType,
        p.joinedAt,
        p.lastSeenAt,
        p.leftAt,
        p.leaveReason,
      );
  }

  closeParticipation(id: string, at: number, reason: string): void {
    this.db
      .prepare(
        'UPDATE participations SET left_at = ?, last_seen_at = ?, leave_reason = ? WHERE id = ? AND left_at IS NULL',
      )
      .run(at, at, reason, id);
  }

  touchParticipations(ids: string[], at: number): void {
    const stmt = this.db.prepare(
      'UPDATE participations SET last_seen_at = ? WHERE id = ? AND left_at IS NULL',
    );
    this.db.transaction(() => ids.forEach((id) => stmt.run(at, id)))();
  }

  closeOpenParticipations(consultId: string, reason: string): number {
    return this.db
      .prepare(
        'UPDATE participations SET left_at = last_seen_at, leave_reason = ? WHERE consult_id = ? AND left_at IS NULL',
      )
      .run(reason, consultId).changes;
  }

  participations(consultId: string): Participation[] {
    const rows = this.db
      .prepare('SELECT * FROM participations WHERE consult_id = ? ORDER BY joined_at, rowid')
      .all(consultId) as Record<string, unknown>[];
    return rows.map((r) => ({
      id: r.id as string,
      consultId: r.consult_id as string,
      participantId: r.participant_id as string,
      peerId: r.peer_id as string,
      displayName: r.display_name as string,
      alias: (r.alias as string | null) ?? null,
      role: r.role as string,
      userAgent: r.user_agent as string | null,
      networkType: r.network_type as string | null,
      joinedAt: r.joined_at as number,
      lastSeenAt: r.last_seen_at as number,
      leftAt: r.left_at as number | null,
      leaveReason: r.leave_reason as string | null,
    }));
  }

  appendEvent(e: ConsultEvent): void {
    this.db
      .prepare(
        'INSERT INTO consult_events (consult_id, at, type, participant_id, display_name, details) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(e.consultId, e.at, e.type, e.participantId, e.displayName, json(e.details));
  }

  events(consultId: string): ConsultEvent[] {
    const rows = this.db
      .prepare('SELECT * FROM consult_events WHERE consult_id = ? ORDER BY seq')
      .all(consultId) as Record<string, unknown>[];
    return rows.map((r) => ({
      seq: r.seq as number,
      consultId: r.consult_id as string,
      at: r.at as number,
      type: r.type as string,
      participantId: r.participant_id as string | null,
      displayName: r.display_name as string | null,
      details: r.details ? (JSON.parse(r.details as string) as Record<string, unknown>) : null,
    }));
  }

  lastActivity(consultId: string): number | undefined {
    const r = this.db
      .prepare(
        `SELECT MAX(t) AS t FROM (
           SELECT MAX(at) AS t FROM consult_events WHERE consult_id = ?
           UNION ALL SELECT MAX(last_seen_at) FROM participations WHERE consult_id = ?
           UNION ALL SELECT MAX(at) FROM quality_samples WHERE consult_id = ?)`,
      )
      .get(consultId, consultId, consultId) as { t: number | null };
    return r.t ?? undefined;
  }

  appendSamples(samples: QualitySample[]): void {
    const stmt = this.db.prepare(
      `INSERT INTO quality_samples (consult_id, participant_id, at, send_kbps, recv_kbps, loss_pct, rtt_ms, jitter_ms, video_layer)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.db.transaction(() => {
      for (const s of samples) {
        stmt.run(
          s.consultId,
          s.participantId,
          s.at,
          s.sendKbps,
          s.recvKbps,
          s.lossPct,
          s.rttMs,
          s.jitterMs,
          s.videoLayer,
        );
      }
    })();
  }

  samples(consultId: string): QualitySample[] {
    const rows = this.db
      .prepare('SELECT * FROM quality_samples WHERE consult_id = ? ORDER BY participant_id, at')
      .all(consultId) as Record<string, number | string | null>[];
    return rows.map((r) => ({
      consultId: r.consult_id as string,
      participantId: r.participant_id as string,
      at: r.at as number,
      sendKbps: r.send_kbps as number | null,
      recvKbps: r.recv_kbps as number | null,
      lossPct: r.loss_pct as number | null,
      rttMs: r.rtt_ms as number | null,
      jitterMs: r.jitter_ms as number | null,
      videoLayer: r.video_layer as number | null,
    }));
  }

  appendChat(m: ChatMessage): void {
    this.db
      .prepare(
        'INSERT INTO chat_messages (id, consult_id, at, sender_id, sender_name, sender_role, text) VALUES (?, ?, ?, ?, ?, ?, ?)',
      )
      .run(m.id, m.consultId, m.at, m.senderId, m.senderName, m.senderRole, m.text);
  }

  chat(consultId: string): ChatMessage[] {
    const rows = this.db
      .prepare('SELECT * FROM chat_messages WHERE consult_id = ? ORDER BY at, rowid')
      .all(consultId) as Record<string, unknown>[];
    return rows.map(chatRow);
  }

  chatPage(
    consultId: string,
    before: { id: string } | { at: number } | undefined,
    limit: number,
  ): { messages: ChatMessage[]; hasMore: boolean; anchorFound: boolean } {
    // Ordered by (at, rowid): messages stored in the same millisecond keep their order.
    let where = 'consult_id = ?';
    const args: unknown[] = [consultId];
    if (before && 'id' in before) {
      const anchor = this.db
        .prepare('SELECT rowid, at FROM chat_messages WHERE id = ? AND consult_id = ?')
        .get(before.id, consultId) as { rowid: number; at: number } | undefined;
      if (!anchor) return { messages: [], hasMore: false, anchorFound: false };
      where += ' AND (at < ? OR (at = ? AND rowid < ?))';
      args.push(anchor.at, anchor.at, anchor.rowid);
    } else if (before) {
      where += ' AND at < ?';
      args.push(before.at);
    }
    const rows = this.db
      .prepare(`SELECT * FROM chat_messages WHERE ${where} ORDER BY at DESC, rowid DESC LIMIT ?`)
      .all(...args, limit + 1) as Record<string, unknown>[];
    const hasMore = rows.length > limit;
    return {
      messages: rows.slice(0, limit).reverse().map(chatRow),
      hasMore,
      anchorFound: true,
    };
  }

  chatCount(consultId: string): number {
    const row = this.db
      .prepare('SELECT COUNT(*) AS n FROM chat_messages WHERE consult_id = ?')
      .get(consultId) as { n: number };
    return row.n;
  }

  saveNotes(n: ConsultNotes): void {
    this.db
      .prepare(
        'INSERT INTO consult_notes (consult_id, at, author_id, notes, outcome) VALUES (?, ?, ?, ?, ?)',
      )
      .run(n.consultId, n.at, n.authorId, n.notes, n.outcome);
  }

  latestNotes(consultId: string): ConsultNotes | undefined {
    const r = this.db
      .prepare('SELECT * FROM consult_notes WHERE consult_id = ? ORDER BY seq DESC LIMIT 1')
      .get(consultId) as Record<string, unknown> | undefined;
    return (
      r && {
        consultId: r.consult_id as string,
        at: r.at as number,
        authorId: r.author_id as string,
        notes: r.notes as string,
        outcome: r.outcome as string,
      }
    );
  }

  purgeEndedBefore(before: number): string[] {
    return this.db.transaction(() => {
      const ids = (
        this.db
          .prepare(
            `SELECT id FROM consults WHERE status IN ('ended', 'cancelled') AND COALESCE(ended_at, updated_at) < ?`,
          )
          .all(before) as { id: string }[]
      ).map((r) => r.id);
      // Foreign keys cascade from the consult to its participations, timeline, samples, chat, notes and invites.
      const stmt = this.db.prepare('DELETE FROM consults WHERE id = ?');
      for (const id of ids) stmt.run(id);
      return ids;
    })();
  }
}

function chatRow(r: Record<string, unknown>): ChatMessage {
  return {
    id: r.id as string,
    consultId: r.consult_id as string,
    at: r.at as number,
    senderId: r.sender_id as string,
    senderName: r.sender_name as string,
    senderRole: r.sender_role as string,
    text: r.text as string,
  };
}
