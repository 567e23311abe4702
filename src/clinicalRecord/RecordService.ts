/**
 * Reading the consult record: who may see which view of it, the assembled JSON record with
 * durations and quality summaries, the host's notes, and retention. Every view and export is
 * audited.
 */
import type { AuditLog } from '../audit/AuditLog.js';
import type { AccessClaims } from '../auth/accessTokens.js';
import { GatewayError } from '../errors.js';
import type { ConsultRecord, QualitySummary } from '../protocol/rest.js';
import type {
  Consult,
  ConsultNotes,
  Participation,
  QualitySample,
  Store,
} from '../store/repositories.js';
import { percentile } from '../util/stats.js';

export type { ConsultRecord, QualitySummary };

export interface RecordSettings {
  /** Seconds between quality samples (to turn sample counts into time). */
  sampleSeconds: number;
  /** Records of consults that ended longer ago than this are purged; 0 keeps them forever. */
  retentionDays: number;
}

const iso = (t: number | null | undefined) => (t == null ? null : new Date(t).toISOString());
const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
const round = (n: number | null, d = 1) => (n === null ? null : Math.round(n * 10 ** d) / 10 ** d);

/** A readable browser name from a User-Agent string. */
export function browserName(ua: string | null): string | null {
  if (!ua) return null;
  const pick = (re: RegExp, name: string) => {
    const m = re.exec(ua);
    return m ? `${name} ${m[1]}` : null;
  };
  return (
    pick(/Edg\/(\d+)/, 'Edge') ??
    pick(/(?:HeadlessChrome|Chrome|Chromium)\/(\d+)/, 'Chrome') ??
    pick(/Firefox\/(\d+)/, 'Firefox') ??
    pick(/Version\/(\d+).*Safari/, 'Safari') ??
    ua.slice(0, 40)
  );
}

export function summariseQuality(samples: QualitySample[], sampleSeconds: number): QualitySummary {
  const nums = (f: (s: QualitySample) => number | null) =>
    samples.map(f).filter((x): x is number => x !== null);
  const rtts = nums((s) => s.rttMs);
  return {
    samples: samples.length,
    rttMeanMs: round(mean(rtts)),
    rttP95Ms: rtts.length ? round(percentile(rtts, 95)) : null,
    lossPct: round(mean(nums((s) => s.lossPct)), 2),
    meanSendKbps: round(mean(nums((s) => s.sendKbps))),
    meanRecvKbps: round(mean(nums((s) => s.recvKbps))),
    lowestLayerSeconds: samples.filter((s) => s.videoLayer === 0).length * sampleSeconds,
  };
}

export class RecordService {
  constructor(
    private readonly store: Store,
    private readonly audit: AuditLog,
    private readonly settings: RecordSettings,
    private readonly now: () => number = Date.now,
  ) {}

  /** Waits for the record writes under way (the gateway sets it to its recorder's queue). */
  pendingWrites: () => Promise<void> = async () => undefined;

  /** The consult and the view this user may have of its record (404 for anyone else). */
  async #access(
    claims: AccessClaims,
    consultId: string,
  ): Promise<{ consult: Consult; view: 'full' | 'participant' }> {
    const consult = await this.store.consults.findById(consultId);
    if (!consult) throw new GatewayError('not_found', `no consult ${consultId}`);
    if (claims.role === 'admin' || consult.hostId === claims.sub) return { consult, view: 'full' };
    const tookPart =
      consult.specialistIds.includes(claims.sub) ||
      (await this.store.records.participations(consultId)).some(
        (p) => p.participantId === claims.sub,
      );
    if (tookPart) return { consult, view: 'participant' };
    throw new GatewayError('not_found', `no consult ${consultId}`);
  }

  /** Assembles the record (audited as record.view, or record.export for the FHIR export). */
  async get(
    claims: AccessClaims,
    consultId: string,
    ip: string | null,
    action = 'record.view',
  ): Promise<ConsultRecord> {
    const { consult, view } = await this.#access(claims, consultId);
    // What happened in the consult up to now is in the record, not still on its way there.
    await this.pendingWrites();
    const record = await this.#assemble(consult, view, claims.sub);
    await this.audit.record({
      action,
      actor: { id: claims.sub, label: claims.name },
      ip,
      object: { type: 'consult', id: consultId },
      details: { view },
    });
    return record;
  }

  async #assemble(
    c: Consult,
    view: 'full' | 'participant',
    viewerId: string,
  ): Promise<ConsultRecord> {
    const now = this.now();
    const [participations, samples, storedNotes, events, chat] = await Promise.all([
      this.store.records.participations(c.id),
      this.store.records.samples(c.id),
      view === 'full' ? this.store.records.latestNotes(c.id) : undefined,
      this.store.records.events(c.id),
      this.store.records.chat(c.id),
    ]);
    const byParticipant = new Map<string, Participation[]>();
    for (const p of participations) {
      byParticipant.set(p.participantId, [...(byParticipant.get(p.participantId) ?? []), p]);
    }
    const prechecks = new Map<string, Record<string, unknown>>();
    for (const e of events) {
      const precheck = e.type === 'participant.joined' ? e.details?.precheck : undefined;
      if (e.participantId && precheck && typeof precheck === 'object')
        prechecks.set(e.participantId, precheck as Record<string, unknown>);
    }
    const participants = [...byParticipant.entries()].map(([participantId, joins]) => {
      const last = joins[joins.length - 1]!;
      const totalMs = joins.reduce(
        (sum, j) => sum + ((j.leftAt ?? (c.status === 'live' ? now : j.lastSeenAt)) - j.joinedAt),
        0,
      );
      return {
        participantId,
        kind: participantId.startsWith('guest:') ? ('guest' as const) : ('user' as const),
        displayName: last.displayName,
        alias: last.alias,
        role: last.role,
        browser: browserName(last.userAgent),
        userAgent: last.userAgent,
        networkType: last.networkType,
        precheck: prechecks.get(participantId) ?? null,
        joins: joins.map((j) => ({
          joinedAt: iso(j.joinedAt)!,
          leftAt: iso(j.leftAt),
          leaveReason: j.leaveReason,
        })),
        totalSeconds: Math.round(totalMs / 1000),
      };
    });
    const quality = participants
      .filter((p) => view === 'full' || p.participantId === viewerId)
      .map((p) => {
        const own = samples.filter((s) => s.participantId === p.participantId);
        return {
          participantId: p.participantId,
          displayName: p.displayName,
          summary: summariseQuality(own, this.settings.sampleSeconds),
          series: own.map(({ consultId: _c, participantId: _p, at, ...figures }) => ({
            at: iso(at)!,
            ...figures,
          })),
        };
      });
    const notes = storedNotes;
    const interrupted = c.status === 'ended' && c.endReason === 'interrupted';
    return {
      consultId: c.id,
      title: c.title,
      patientRef: c.patientRef,
      status: interrupted ? 'interrupted' : c.status,
      scheduledStart: iso(c.scheduledStart)!,
      scheduledEnd: iso(c.scheduledEnd)!,
      startedAt: iso(c.startedAt),
      endedAt: iso(c.endedAt),
      durationSeconds:
        c.startedAt === null ? null : Math.round(((c.endedAt ?? now) - c.startedAt) / 1000),
      endReason: c.endReason,
      participants,
      timeline: events.map((e) => ({
        at: iso(e.at)!,
        type: e.type,
        participantId: e.participantId,
        displayName: e.displayName,
        details: e.details,
      })),
      sampleSeconds: this.settings.sampleSeconds,
      quality,
      chat: chat.map((m) => ({
        id: m.id,
        at: iso(m.at)!,
        senderId: m.senderId,
        senderName: m.senderName,
        senderRole: m.senderRole,
        text: m.text,
      })),
      notes: notes
        ? {
            notes: notes.notes,
            outcome: notes.outcome,
            updatedAt: iso(notes.at)!,
            updatedBy: notes.authorId,
          }
        : null,
      view,
    };
  }

  /** The host (or an admin) saves notes and the outcome, during or after the consult. */
  async saveNotes(
    claims: AccessClaims,
    consultId: string,
    ip: string | null,
    input: { notes: string; outcome: string },
  ): Promise<ConsultNotes> {
    const { consult, view } = await this.#access(claims, consultId);
    if (view !== 'full')
      throw new GatewayError('forbidden', 'only the host or an admin writes the notes');
    if (consult.status === 'cancelled' || consult.status === 'scheduled') {
      throw new GatewayError(
        'conflict',
        `notes are written during or after a consult, not when it is ${consult.status}`,
      );
    }
    const notes: ConsultNotes = { consultId, at: this.now(), authorId: claims.sub, ...input };
    await this.store.transaction(async (tx) => {
      await tx.records.saveNotes(notes);
      await this.audit.record(
        {
          action: 'consult.notes',
          actor: { id: claims.sub, label: claims.name },
          ip,
          object: { type: 'consult', id: consultId },
          details: { notesLength: input.notes.length, outcomeLength: input.outcome.length },
        },
        tx.audit,
      );
    });
    return notes;
  }

  /** Purges records past the retention period (logged in the audit log); returns the purged ids. */
  async purgeExpired(): Promise<string[]> {
    if (this.settings.retentionDays <= 0) return [];
    const before = this.now() - this.settings.retentionDays * 24 * 3600_000;
    const purged = await this.store.transaction(async (tx) => {
      const ids = await tx.records.purgeEndedBefore(before);
      if (ids.length) {
        await this.audit.record(
          {
            action: 'retention.purge',
            actor: { id: null, label: 'retention' },
            ip: null,
            details: {
              consults: ids,
              retentionDays: this.settings.retentionDays,
              endedBefore: iso(before),
            },
          },
          tx.audit,
        );
      }
      return ids;
    });
    return purged;
  }
}
