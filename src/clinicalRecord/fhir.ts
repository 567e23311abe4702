/**
 * The consult record as a FHIR R4 Bundle (type `collection`) for a hospital's EHR: the
 * Appointment it came from, an Encounter with its participants and period, Communication
 * resources for the chat, a consult-note Composition (the host's notes and the outcome,
 * linked to the Encounter), and the Patient and Practitioners they reference. References are
 * `urn:uuid:` fullUrls that resolve inside the bundle.
 */
import { createHash } from 'node:crypto';
import type { ConsultRecord } from './RecordService.js';

type Resource = { resourceType: string; id: string } & Record<string, unknown>;
export interface FhirBundle {
  resourceType: 'Bundle';
  id: string;
  type: 'collection';
  timestamp: string;
  entry: { fullUrl: string; resource: Resource }[];
}

export const SYSTEMS = {
  patientRef: 'urn:telemed-gateway:patient-ref',
  participant: 'urn:telemed-gateway:participant',
  consult: 'urn:telemed-gateway:consult',
  actCode: 'http://terminology.hl7.org/CodeSystem/v3-ActCode',
  participationType: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType',
  ucum: 'http://unitsofmeasure.org',
  loinc: 'http://loinc.org',
};

/** Plain text as a FHIR Narrative (XHTML, escaped, one paragraph per line). */
function narrative(text: string): { status: 'additional'; div: string } {
  const esc = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const lines = text.split(/\r?\n/).filter((l) => l.trim());
  const body = lines.length ? lines.map((l) => `<p>${esc(l)}</p>`).join('') : '<p>(none)</p>';
  return { status: 'additional', div: `<div xmlns="http://www.w3.org/1999/xhtml">${body}</div>` };
}

/** A stable UUID for a resource, so re-exports of the same consult name the same resources. */
function uuidFor(...parts: string[]): string {
  const h = createHash('sha256').update(parts.join('\u0000')).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const appointmentStatus: Record<ConsultRecord['status'], string> = {
  scheduled: 'booked',
  open: 'arrived',
  live: 'arrived',
  ended: 'fulfilled',
  interrupted: 'fulfilled',
  cancelled: 'cancelled',
};
const encounterStatus: Record<ConsultRecord['status'], string> = {
  scheduled: 'planned',
  open: 'arrived',
  live: 'in-progress',
  ended: 'finished',
  interrupted: 'finished',
  cancelled: 'cancelled',
};

export function toFhirBundle(
  record: ConsultRecord,
  invited: { participantId: string; displayName: string }[],
): FhirBundle {
  const entry: FhirBundle['entry'] = [];
  const add = (resource: Resource) => {
    entry.push({ fullUrl: `urn:uuid:${resource.id}`, resource });
    return { reference: `urn:uuid:${resource.id}` };
  };

  const patient = add({
    resourceType: 'Patient',
    id: uuidFor(record.consultId, 'patient', record.patientRef),
    identifier: [{ system: SYSTEMS.patientRef, value: record.patientRef }],
  });

  const practitioners = new Map<string, { reference: string }>();
  const practitioner = (participantId: string, displayName: string) => {
    let ref = practitioners.get(participantId);
    if (!ref) {
      ref = add({
        resourceType: 'Practitioner',
        id: uuidFor(record.consultId, 'practitioner', participantId),
        identifier: [{ system: SYSTEMS.participant, value: participantId }],
        name: [{ text: displayName }],
      });
      practitioners.set(participantId, ref);
    }
    return ref;
  };
  for (const p of invited) practitioner(p.participantId, p.displayName);
  for (const p of record.participants) practitioner(p.participantId, p.displayName);

  const appointment = add({
    resourceType: 'Appointment',
    id: uuidFor(record.consultId, 'appointment'),
    identifier: [{ system: SYSTEMS.consult, value: record.consultId }],
    status: appointmentStatus[record.status],
    description: record.title,
    start: record.scheduledStart,
    end: record.scheduledEnd,
    participant: [
      { actor: patient, status: 'accepted' },
      ...invited.map((p) => ({ actor: practitioners.get(p.participantId)!, status: 'accepted' })),
    ],
  });

  const period = (start: string | null, end: string | null) => ({
    ...(start ? { start } : {}),
    ...(end ? { end } : {}),
  });
  const encounter = add({
    resourceType: 'Encounter',
    id: uuidFor(record.consultId, 'encounter'),
    identifier: [{ system: SYSTEMS.consult, value: record.consultId }],
    status: encounterStatus[record.status],
    class: { system: SYSTEMS.actCode, code: 'VR', display: 'virtual' },
    subject: patient,
    appointment: [appointment],
    period: period(record.startedAt, record.endedAt),
    ...(record.durationSeconds !== null
      ? {
          length: {
            value: Math.round((record.durationSeconds / 60) * 10) / 10,
            unit: 'min',
            system: SYSTEMS.ucum,
            code: 'min',
          },
        }
      : {}),
    participant: record.participants.flatMap((p) =>
      p.joins.map((j) => ({
        type: [
          {
            coding: [{ system: SYSTEMS.participationType, code: 'PART', display: 'participation' }],
          },
        ],
        individual: practitioners.get(p.participantId)!,
        period: period(j.joinedAt, j.leftAt),
      })),
    ),
  });

  for (const m of record.chat) {
    add({
      resourceType: 'Communication',
      id: uuidFor(record.consultId, 'chat', m.id),
      status: 'completed',
      subject: patient,
      encounter,
      sender: practitioner(m.senderId, m.senderName),
      sent: m.at,
      payload: [{ contentString: m.text }],
    });
  }

  // The host's notes and outcome (present in the full view only) as a consult note.
  if (record.notes) {
    const n = record.notes;
    const authorName =
      record.participants.find((p) => p.participantId === n.updatedBy)?.displayName ??
      invited.find((p) => p.participantId === n.updatedBy)?.displayName ??
      'Host';
    const over = record.status === 'ended' || record.status === 'interrupted';
    add({
      resourceType: 'Composition',
      id: uuidFor(record.consultId, 'notes'),
      identifier: { system: SYSTEMS.consult, value: `${record.consultId}/notes` },
      status: over ? 'final' : 'preliminary',
      type: { coding: [{ system: SYSTEMS.loinc, code: '11488-4', display: 'Consult note' }] },
      subject: patient,
      encounter,
      date: n.updatedAt,
      author: [practitioner(n.updatedBy, authorName)],
      title: `Consult note: ${record.title}`,
      section: [
        { title: 'Notes', text: narrative(n.notes) },
        { title: 'Outcome', text: narrative(n.outcome) },
      ],
    });
  }

  return {
    resourceType: 'Bundle',
    id: uuidFor(record.consultId, 'bundle', new Date().toISOString()),
    type: 'collection',
    timestamp: new Date().toISOString(),
    entry,
  };
}
