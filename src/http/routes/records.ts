import { z } from 'zod';
import type { AuditLog } from '../../audit/AuditLog.js';
import { toFhirBundle } from '../../clinicalRecord/fhir.js';
import type { RecordService } from '../../clinicalRecord/RecordService.js';
import type { Store } from '../../store/repositories.js';
import type { Api } from '../route.js';
import { auditEntryDto, auditQuery, idParams, notesBody } from '../schemas.js';

export function recordRoutes(
  api: Api,
  records: RecordService,
  audit: AuditLog,
  store: Store,
): void {
  api.route(
    {
      method: 'get',
      path: '/consults/:id/record',
      tag: 'records',
      summary:
        'The consult record: participants and their joins, timeline, quality, chat and (host/admin) notes',
      auth: 'user',
      params: idParams,
      response: z.looseObject({ consultId: z.string(), status: z.string() }),
    },
    ({ params, user, ip }) => records.get(user, params.id, ip),
  );
  api.route(
    {
      method: 'get',
      path: '/consults/:id/record/fhir',
      tag: 'records',
      summary: 'The consult record as a FHIR R4 Bundle (Appointment, Encounter, Communication)',
      auth: 'user',
      params: idParams,
      response: z.looseObject({ resourceType: z.literal('Bundle') }),
    },
    async ({ params, user, ip, res }) => {
      const record = await records.get(user, params.id, ip, 'record.export');
      const consult = (await store.consults.findById(params.id))!;
      const invited: { participantId: string; displayName: string }[] = [];
      for (const id of [consult.hostId, ...consult.specialistIds]) {
        const u = await store.users.findById(id);
        if (u) invited.push({ participantId: u.id, displayName: u.name });
      }
      res.type('application/fhir+json');
      return toFhirBundle(record, invited);
    },
  );
  api.route(
    {
      method: 'post',
      path: '/consults/:id/notes',
      tag: 'records',
      summary: 'Save the host’s private notes and the outcome summary (every save is kept)',
      auth: ['admin', 'doctor'],
      params: idParams,
      body: notesBody,
      response: z.object({ notes: z.string(), outcome: z.string(), updatedAt: z.string() }),
    },
    async ({ params, body, user, ip }) => {
      const saved = await records.saveNotes(user, params.id, ip, body);
      return {
        notes: saved.notes,
        outcome: saved.outcome,
        updatedAt: new Date(saved.at).toISOString(),
      };
    },
  );
  api.route(
    {
      method: 'get',
      path: '/audit',
      tag: 'audit',
      summary: 'Search the append-only audit log',
      auth: ['admin'],
      query: auditQuery,
      response: z.object({
        items: z.array(auditEntryDto),
        total: z.number(),
        limit: z.number(),
        offset: z.number(),
      }),
    },
    async ({ query }) => {
      const page = await audit.search({
        action: query.action,
        actorId: query.actor,
        objectId: query.object,
        outcome: query.outcome,
        from: query.from ? Date.parse(query.from) : undefined,
        to: query.to ? Date.parse(query.to) : undefined,
        limit: query.limit,
        offset: query.offset,
      });
      return {
        items: page.items.map((e) => ({ ...e, at: new Date(e.at).toISOString() })),
        total: page.total,
        limit: query.limit,
        offset: query.offset,
      };
    },
  );
}
