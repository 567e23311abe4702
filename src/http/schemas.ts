/** Request and response schemas of the HTTP API (the single source for parsing and OpenAPI). */
import { z } from 'zod';
import { personName } from '../signalling/messages.js';
import type { Consult, Invite, User } from '../store/repositories.js';

const isoDate = z.iso.datetime({
  offset: true,
  error: 'must be an ISO 8601 date-time, e.g. 2026-12-01T09:30:00Z',
});
const id = z.string().min(1).max(128);
export const userRoleSchema = z.enum(['admin', 'doctor', 'specialist']);
export const consultStatusSchema = z.enum(['scheduled', 'open', 'live', 'ended', 'cancelled']);

export const idParams = z.object({ id });
export const inviteParams = z.object({ id, inviteId: id });

export const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).default(0),
});

// --- auth ---
export const loginBody = z.object({
  email: z.email({ error: 'must be an e-mail address' }).max(254),
  password: z.string().min(1).max(1024),
});
export const refreshBody = z.object({ refreshToken: z.string().min(10).max(512) });
export const publicUser = z.object({
  id: z.string(),
  name: z.string(),
  role: userRoleSchema,
  email: z.string(),
});
export const sessionResponse = z.object({
  accessToken: z.string(),
  refreshToken: z.string(),
  expiresIn: z.number(),
  user: publicUser,
});

// --- users ---
export const passwordSchema = z
  .string()
  .min(12, { error: 'must be at least 12 characters' })
  .max(1024);
export const createUserBody = z.object({
  email: z.email({ error: 'must be an e-mail address' }).max(254),
  name: personName,
  role: userRoleSchema,
  password: passwordSchema,
});
export const updateUserBody = z
  .object({ disabled: z.boolean().optional(), role: userRoleSchema.optional() })
  .refine((b) => b.disabled !== undefined || b.role !== undefined, {
    error: 'send disabled, role or both',
  });
export const changePasswordBody = z.object({
  currentPassword: z.string().min(1).max(1024),
  newPassword: passwordSchema,
});
export const resetPasswordBody = z.object({ newPassword: passwordSchema });
export const usersQuery = pageQuery.extend({ role: userRoleSchema.optional() });
export const userDto = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string(),
  role: userRoleSchema,
  disabled: z.boolean(),
  createdAt: z.string(),
});
/** What a doctor sees of a colleague when choosing whom to invite: no e-mail, no account state. */
export const colleagueDto = z.object({
  id: z.string(),
  name: z.string(),
  role: z.enum(['doctor', 'specialist']),
});
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

// --- consults ---
const guestInput = z.object({
  name: personName,
  email: z.email().max(254).nullish(),
});
const consultFields = {
  title: z.string().trim().min(1).max(200),
  /** A pseudonymous reference (e.g. an MRN hash); no patient names are needed. */
  patientRef: z.string().trim().min(1).max(64),
  scheduledStart: isoDate,
  scheduledEnd: isoDate,
  hostId: id,
  specialistIds: z.array(id).max(20),
  guests: z.array(guestInput).max(20),
};
export const createConsultBody = z
  .object({
    ...consultFields,
    specialistIds: consultFields.specialistIds.default([]),
    guests: consultFields.guests.default([]),
  })
  .refine((c) => Date.parse(c.scheduledEnd) > Date.parse(c.scheduledStart), {
    path: ['scheduledEnd'],
    error: 'must be after scheduledStart',
  });
export const updateConsultBody = z
  .object(consultFields)
  .partial()
  .refine((p) => Object.keys(p).length > 0, { error: 'change at least one field' });
export const consultsQuery = pageQuery.extend({
  status: z
    .string()
    .transform((s) => s.split(',').filter(Boolean))
    .pipe(z.array(consultStatusSchema))
    .optional(),
  from: isoDate.optional(),
  to: isoDate.optional(),
  /** By scheduled start: asc (default) or desc (newest first). */
  order: z.enum(['asc', 'desc']).default('asc'),
});
export const consultDto = z.object({
  id: z.string(),
  title: z.string(),
  patientRef: z.string(),
  scheduledStart: z.string(),
  scheduledEnd: z.string(),
  hostId: z.string(),
  specialistIds: z.array(z.string()),
  /** The host's and invited specialists' names, so every participant can see who is invited. */
  host: z.object({ id: z.string(), name: z.string() }),
  specialists: z.array(z.object({ id: z.string(), name: z.string() })),
  guests: z.array(z.object({ id: z.string(), name: z.string(), email: z.string().nullable() })),
  status: consultStatusSchema,
  createdBy: z.string(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  endedAt: z.string().nullable(),
  endReason: z.string().nullable(),
  /** In lists, for the host and admins: how many wait in the waiting room right now. */
  waiting: z.number().int().nonnegative().optional(),
});
/** A consult just scheduled: with the invite link made for each guest entered. */
export const scheduledConsultDto = consultDto.extend({
  invites: z.array(
    z.object({
      guestId: z.string(),
      inviteId: z.string(),
      name: z.string(),
      email: z.string().nullable(),
      /** The link to send the guest (also shown as a QR code for phones). */
      url: z.string(),
      token: z.string(),
      /** Whether the gateway e-mailed it (SMTP_URL), or the host must send it. */
      emailed: z.enum(['sent', 'failed', 'not_configured', 'no_address']),
    }),
  ),
});
const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
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

export const joinGrantResponse = z.object({
  token: z.string(),
  consultId: z.string(),
  role: z.string(),
  grants: z.object({
    publish: z.boolean(),
    subscribe: z.boolean(),
    admit: z.boolean(),
    end: z.boolean(),
  }),
  expiresIn: z.number(),
});

// --- invites ---
export const INVITE_MAX_USES = 20;
export const createInviteBody = z.object({
  guestName: personName,
  email: z.email().max(254).nullish(),
  /** How many people may redeem the link (each waits in the lobby as their own guest). */
  maxUses: z.number().int().min(1).max(INVITE_MAX_USES).default(1),
  expiresInHours: z
    .number()
    .int()
    .min(1)
    .max(24 * 30)
    .optional(),
});
export const redeemInviteBody = z.object({ token: z.string().min(10).max(4096) });
export const inviteDto = z.object({
  id: z.string(),
  consultId: z.string(),
  guestName: z.string(),
  email: z.string().nullable(),
  createdAt: z.string(),
  expiresAt: z.string(),
  revokedAt: z.string().nullable(),
  firstUsedAt: z.string().nullable(),
  /** How many people may redeem it, and how many did. */
  maxUses: z.number(),
  uses: z.number(),
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

export const pageOf = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), total: z.number(), limit: z.number(), offset: z.number() });
