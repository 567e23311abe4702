/**
 * Request and response schemas of the HTTP API the browser client uses: the single source for
 * the server's parsing, its OpenAPI document and the client's types.
 */
import { z } from 'zod';
import type { ChatEntry, QualityEntry } from './payloads.js';
import { dtlsParametersSchema } from './rtp.js';
import type {
  DtlsParameters,
  IceCandidate,
  IceParameters,
  RtpCapabilities,
  SctpParameters,
} from './rtp.js';
import { consultStatusSchema, grantsSchema, personName, userRoleSchema } from './vocabulary.js';
import type { ConsultStatus } from './vocabulary.js';

export { consultStatusSchema, userRoleSchema };

const isoDate = z.iso.datetime({
  offset: true,
  error: 'must be an ISO 8601 date-time, e.g. 2026-12-01T09:30:00Z',
});
const id = z.string().min(1).max(128);

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

export const joinGrantResponse = z.object({
  token: z.string(),
  consultId: z.string(),
  role: z.string(),
  grants: grantsSchema,
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

export const pageOf = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), total: z.number(), limit: z.number(), offset: z.number() });

// --- consult records and audit ---
export const notesBody = z.object({
  notes: z.string().max(20_000, { error: 'notes are at most 20000 characters' }),
  outcome: z.string().max(4_000, { error: 'the outcome is at most 4000 characters' }),
});

export const auditQuery = pageQuery.extend({
  /** An exact action (auth.login) or a prefix (auth). */
  action: z.string().max(64).optional(),
  /** The acting user's id. */
  actor: z.string().max(128).optional(),
  /** The id of the object touched. */
  object: z.string().max(128).optional(),
  outcome: z.enum(['success', 'failure']).optional(),
  from: isoDate.optional(),
  to: isoDate.optional(),
});

export const auditEntryDto = z.object({
  id: z.string(),
  at: z.string(),
  action: z.string(),
  actorId: z.string().nullable(),
  actorLabel: z.string().nullable(),
  sourceIp: z.string().nullable(),
  objectType: z.string().nullable(),
  objectId: z.string().nullable(),
  outcome: z.enum(['success', 'failure']),
  details: z.record(z.string(), z.unknown()).nullable(),
});

export interface QualitySummary {
  samples: number;
  rttMeanMs: number | null;
  rttP95Ms: number | null;
  lossPct: number | null;
  meanSendKbps: number | null;
  meanRecvKbps: number | null;
  /** Seconds spent receiving only the lowest simulcast layer. */
  lowestLayerSeconds: number;
}

export interface ConsultRecord {
  consultId: string;
  title: string;
  patientRef: string;
  /** The consult's status, or `interrupted` when the gateway stopped while it was live. */
  status: ConsultStatus | 'interrupted';
  scheduledStart: string;
  scheduledEnd: string;
  startedAt: string | null;
  endedAt: string | null;
  durationSeconds: number | null;
  endReason: string | null;
  participants: {
    participantId: string;
    kind: 'user' | 'guest';
    /** The name the gateway vouches for: their account's, or their invite's guest name. */
    displayName: string;
    /** A different name they chose to show in the call (never used to identify them). */
    alias: string | null;
    role: string;
    browser: string | null;
    userAgent: string | null;
    networkType: string | null;
    /** The pre-call check of their latest join that sent one (null if they ran none). */
    precheck: Record<string, unknown> | null;
    joins: { joinedAt: string; leftAt: string | null; leaveReason: string | null }[];
    totalSeconds: number;
  }[];
  timeline: {
    at: string;
    type: string;
    participantId: string | null;
    displayName: string | null;
    details: Record<string, unknown> | null;
  }[];
  /** Seconds between quality samples (gaps longer than this mean the participant was away). */
  sampleSeconds: number;
  quality: {
    participantId: string;
    displayName: string;
    summary: QualitySummary;
    /** The stored samples, with ISO times. */
    series: (Omit<QualityEntry, 'peerId'> & { at: string })[];
  }[];
  chat: ChatEntry[];
  /** The host's private notes and outcome: only in the host's and admins' view. */
  notes: { notes: string; outcome: string; updatedAt: string; updatedBy: string } | null;
  /** `full` for the host and admins, `participant` for other participants. */
  view: 'full' | 'participant';
}

/** `POST /netcheck/media`: a short-lived probe transport on the media server, for the network check. */
export interface MediaProbeOffer {
  probeId: string;
  /** For `Device.load` (the probe's router offers the consult codecs). */
  routerRtpCapabilities: RtpCapabilities;
  transport: {
    id: string;
    iceParameters: IceParameters;
    iceCandidates: IceCandidate[];
    dtlsParameters: DtlsParameters;
    sctpParameters: SctpParameters;
  };
  /** The media ports the gateway listens on (UDP and TCP), for the "ask IT" advice. */
  ports: { first: number; last: number };
  /** The probe is closed this long after it was created, whatever the client does. */
  expiresInMs: number;
}
export const mediaProbeConnectRequest = z.object({ dtlsParameters: dtlsParametersSchema });
export const mediaProbeDataRequest = z.object({
  sctpStreamParameters: z.object({
    streamId: z.number().int().min(0).max(65534),
    ordered: z.boolean().optional(),
    maxPacketLifeTime: z.number().int().min(0).max(65535).optional(),
    maxRetransmits: z.number().int().min(0).max(65535).optional(),
  }),
});
/** What the media server counted from the probe's burst; the probe is closed with this answer. */
export interface MediaProbeResult {
  /** The ICE path the browser reached the media port on, null if it never did. */
  path: 'udp' | 'tcp' | null;
  /** Bytes the probe's data channel delivered. */
  bytes: number;
  /** Those bytes over the time between the first and the last arrival, null if none came. */
  upKbps: number | null;
}
