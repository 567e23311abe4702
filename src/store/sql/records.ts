import type {
  ChatMessage,
  ConsultEvent,
  ConsultNotes,
  Participation,
  QualitySample,
  RecordRepository,
} from '../repositories.js';
import type { Sql } from './executor.js';

const json = (v: unknown) => (v == null ? null : JSON.stringify(v));

export class SqlRecordRepository implements RecordRepository {
  constructor(private readonly db: Sql) {}

  async openParticipation(p: Participation): Promise<void> {
    await this.db.run(
      `INSERT INTO participations (id, consult_id, participant_id, peer_id, display_name, alias, role,
         user_agent, network_type, joined_at, last_seen_at, left_at, leave_reason)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
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
      ],
    );
  }

  async closeParticipation(id: string, at: number, reason: string): Promise<void> {
    await this.db.run(
      'UPDATE participations SET left_at = ?, last_seen_at = ?, leave_reason = ? WHERE id = ? AND left_at IS NULL',
      [at, at, reason, id],
    );
  }

  async touchParticipations(ids: string[], at: number): Promise<void> {
    await this.db.transaction(async (tx) => {
      for (const id of ids) {
        await tx.run(
          'UPDATE participations SET last_seen_at = ? WHERE id = ? AND left_at IS NULL',
          [at, id],
        );
      }
    });
  }

  async closeOpenParticipations(consultId: string, reason: string): Promise<number> {
    return this.db.run(
      'UPDATE participations SET left_at = last_seen_at, leave_reason = ? WHERE consult_id = ? AND left_at IS NULL',
      [reason, consultId],
    );
  }

  async closeSeatParticipations(
    consultId: string,
    peerId: string,
    before: number,
    reason: string,
  ): Promise<number> {
    return this.db.run(
      'UPDATE participations SET left_at = last_seen_at, leave_reason = ? WHERE consult_id = ? AND peer_id = ? AND joined_at < ? AND left_at IS NULL',
      [reason, consultId, peerId, before],
    );
  }

  async participations(consultId: string): Promise<Participation[]> {
    const rows = await this.db.all<Record<string, unknown>>(
      'SELECT * FROM participations WHERE consult_id = ? ORDER BY joined_at, rowid',
      [consultId],
    );
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

  async appendEvent(e: ConsultEvent): Promise<void> {
    await this.db.run(
      'INSERT INTO consult_events (consult_id, at, type, participant_id, display_name, details) VALUES (?, ?, ?, ?, ?, ?)',
      [e.consultId, e.at, e.type, e.participantId, e.displayName, json(e.details)],
    );
  }

  async events(consultId: string): Promise<ConsultEvent[]> {
    const rows = await this.db.all<Record<string, unknown>>(
      'SELECT * FROM consult_events WHERE consult_id = ? ORDER BY seq',
      [consultId],
    );
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

  async lastActivity(consultId: string): Promise<number | undefined> {
    const r = await this.db.get<{ t: number | null }>(
      `SELECT MAX(t) AS t FROM (
         SELECT MAX(at) AS t FROM consult_events WHERE consult_id = ?
         UNION ALL SELECT MAX(last_seen_at) FROM participations WHERE consult_id = ?
         UNION ALL SELECT MAX(at) FROM quality_samples WHERE consult_id = ?) AS activity`,
      [consultId, consultId, consultId],
    );
    return r?.t ?? undefined;
  }

  async appendSamples(samples: QualitySample[]): Promise<void> {
    await this.db.transaction(async (tx) => {
      for (const s of samples) {
        await tx.run(
          `INSERT INTO quality_samples (consult_id, participant_id, at, send_kbps, recv_kbps, loss_pct, rtt_ms, jitter_ms, video_layer)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          [
            s.consultId,
            s.participantId,
            s.at,
            s.sendKbps,
            s.recvKbps,
            s.lossPct,
            s.rttMs,
            s.jitterMs,
            s.videoLayer,
          ],
        );
      }
    });
  }

  async samples(consultId: string): Promise<QualitySample[]> {
    const rows = await this.db.all<Record<string, number | string | null>>(
      'SELECT * FROM quality_samples WHERE consult_id = ? ORDER BY participant_id, at',
      [consultId],
    );
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

  async appendChat(m: ChatMessage, maxPerConsult = Infinity): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      // A no-op write on the consult row serialises posts to one consult (a row lock in
      // PostgreSQL; SQLite's write transactions are serial anyway), so count and insert are one step.
      await tx.run('UPDATE consults SET updated_at = updated_at WHERE id = ?', [m.consultId]);
      if (Number.isFinite(maxPerConsult)) {
        const { n } = (await tx.get<{ n: number }>(
          'SELECT COUNT(*) AS n FROM chat_messages WHERE consult_id = ?',
          [m.consultId],
        ))!;
        if (n >= maxPerConsult) return false;
      }
      await tx.run(
        'INSERT INTO chat_messages (id, consult_id, at, sender_id, sender_name, sender_role, text) VALUES (?, ?, ?, ?, ?, ?, ?)',
        [m.id, m.consultId, m.at, m.senderId, m.senderName, m.senderRole, m.text],
      );
      return true;
    });
  }

  async chat(consultId: string): Promise<ChatMessage[]> {
    const rows = await this.db.all<Record<string, unknown>>(
      'SELECT * FROM chat_messages WHERE consult_id = ? ORDER BY at, rowid',
      [consultId],
    );
    return rows.map(chatRow);
  }

  async chatPage(
    consultId: string,
    before: { id: string } | { at: number } | undefined,
    limit: number,
  ): Promise<{ messages: ChatMessage[]; hasMore: boolean; anchorFound: boolean }> {
    // Ordered by (at, rowid): messages stored in the same millisecond keep their order.
    let where = 'consult_id = ?';
    const args: unknown[] = [consultId];
    if (before && 'id' in before) {
      const anchor = await this.db.get<{ rowid: number; at: number }>(
        'SELECT rowid, at FROM chat_messages WHERE id = ? AND consult_id = ?',
        [before.id, consultId],
      );
      if (!anchor) return { messages: [], hasMore: false, anchorFound: false };
      where += ' AND (at < ? OR (at = ? AND rowid < ?))';
      args.push(anchor.at, anchor.at, anchor.rowid);
    } else if (before) {
      where += ' AND at < ?';
      args.push(before.at);
    }
    const rows = await this.db.all<Record<string, unknown>>(
      `SELECT * FROM chat_messages WHERE ${where} ORDER BY at DESC, rowid DESC LIMIT ?`,
      [...args, limit + 1],
    );
    const hasMore = rows.length > limit;
    return {
      messages: rows.slice(0, limit).reverse().map(chatRow),
      hasMore,
      anchorFound: true,
    };
  }

  async chatCount(consultId: string): Promise<number> {
    const row = await this.db.get<{ n: number }>(
      'SELECT COUNT(*) AS n FROM chat_messages WHERE consult_id = ?',
      [consultId],
    );
    return row!.n;
  }

  async saveNotes(n: ConsultNotes): Promise<void> {
    await this.db.run(
      'INSERT INTO consult_notes (consult_id, at, author_id, notes, outcome) VALUES (?, ?, ?, ?, ?)',
      [n.consultId, n.at, n.authorId, n.notes, n.outcome],
    );
  }

  async latestNotes(consultId: string): Promise<ConsultNotes | undefined> {
    const r = await this.db.get<Record<string, unknown>>(
      'SELECT * FROM consult_notes WHERE consult_id = ? ORDER BY seq DESC LIMIT 1',
      [consultId],
    );
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

  async purgeEndedBefore(before: number): Promise<string[]> {
    return this.db.transaction(async (tx) => {
      const ids = (
        await tx.all<{ id: string }>(
          `SELECT id FROM consults WHERE status IN ('ended', 'cancelled') AND COALESCE(ended_at, updated_at) < ?`,
          [before],
        )
      ).map((r) => r.id);
      // Foreign keys cascade from the consult to its participations, timeline, samples, chat, notes and invites.
      for (const id of ids) await tx.run('DELETE FROM consults WHERE id = ?', [id]);
      return ids;
    });
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
