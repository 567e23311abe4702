/** The HTTP API's schemas (declared in src/protocol/rest.ts) and the mappers from stored rows to them. */
import type { z } from 'zod';
import type { colleagueDto, consultDto, inviteDto, userDto } from '../protocol/rest.js';
import type { Consult, Invite, User } from '../store/repositories.js';

export * from '../protocol/rest.js';

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
export const toColleagueDto = (u: User): z.infer<typeof colleagueDto> => ({
  id: u.id,
  name: u.name,
  role: u.role as z.infer<typeof colleagueDto>['role'],
});

export const toUserDto = (u: User): z.infer<typeof userDto> => ({
  id: u.id,
  email: u.email,
  name: u.name,
  role: u.role,
  disabled: u.disabled,
  createdAt: new Date(u.createdAt).toISOString(),
});

/** `nameOf` resolves user ids to display names (unknown ids show as the id). */
export const toConsultDto = (
  c: Consult,
  nameOf: (id: string) => string,
): z.infer<typeof consultDto> => ({
  id: c.id,
  host: { id: c.hostId, name: nameOf(c.hostId) },
  specialists: c.specialistIds.map((id) => ({ id, name: nameOf(id) })),
  title: c.title,
  patientRef: c.patientRef,
  scheduledStart: iso(c.scheduledStart)!,
  scheduledEnd: iso(c.scheduledEnd)!,
  hostId: c.hostId,
  specialistIds: c.specialistIds,
  guests: c.guests,
  status: c.status,
  createdBy: c.createdBy,
  createdAt: iso(c.createdAt)!,
  startedAt: iso(c.startedAt),
  endedAt: iso(c.endedAt),
  endReason: c.endReason,
});

export const toInviteDto = (i: Invite): z.infer<typeof inviteDto> => ({
  id: i.id,
  consultId: i.consultId,
  guestName: i.guestName,
  email: i.email,
  createdAt: iso(i.createdAt)!,
  expiresAt: iso(i.expiresAt)!,
  revokedAt: iso(i.revokedAt),
  firstUsedAt: iso(i.firstUsedAt),
  maxUses: i.maxUses,
  uses: i.uses,
});
