/** A consult row as scheduling would store it: running now for an hour, nobody joined yet. */
import type { Consult } from '../../src/store/repositories.js';

/** The row of a consult `hostId` hosts, scheduled from a minute ago; `fields` override. */
export function scheduledConsult(
  id: string,
  hostId: string,
  fields: Partial<Consult> = {},
): Consult {
  const now = Date.now();
  return {
    id,
    title: 'Test consult',
    patientRef: 'P-TEST',
    scheduledStart: now - 60_000,
    scheduledEnd: now + 3600_000,
    hostId,
    specialistIds: [],
    guests: [],
    status: 'scheduled',
    createdBy: hostId,
    createdAt: now,
    updatedAt: now,
    startedAt: null,
    endedAt: null,
    endReason: null,
    ...fields,
  };
}
