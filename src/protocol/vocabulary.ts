/**
 * The words client and server share: roles, grants, names, media sources, and the reason
 * codes of leaving and ending. Each is declared here once; both sides import it.
 */
import { z } from 'zod';
import { ROLES, USER_ROLES } from './roles.js';

/** Roles an account can have. */
export const userRoleSchema = z.enum(USER_ROLES);
export type UserRole = z.infer<typeof userRoleSchema>;

/** Roles in a consult: an account's role, or `guest` for someone who came with an invite. */
export const roleSchema = z.enum(ROLES);
export type Role = z.infer<typeof roleSchema>;

export const consultStatusSchema = z.enum(['scheduled', 'open', 'live', 'ended', 'cancelled']);
export type ConsultStatus = z.infer<typeof consultStatusSchema>;

/** What a join grant lets its bearer do in the consult (LiveKit-style grants). */
export const grantsSchema = z.object({
  /** May send audio, video and screen share. */
  publish: z.boolean(),
  /** May receive others' media. */
  subscribe: z.boolean(),
  /** May admit or deny people waiting in the lobby, and remove participants. */
  admit: z.boolean(),
  /** May end the consult for everyone. */
  end: z.boolean(),
});
export type Grants = z.infer<typeof grantsSchema>;
export type Grant = keyof Grants;

export const PERSON_NAME_MAX_CHARS = 80;
/** A person's name, wherever one is given: accounts, guests, invites, join grants, `join`. */
export const personName = z
  .string()
  .trim()
  .min(1, { error: 'a name cannot be empty' })
  .max(PERSON_NAME_MAX_CHARS, { error: `a name is at most ${PERSON_NAME_MAX_CHARS} characters` });

export const mediaSourceSchema = z.enum(['mic', 'camera', 'screen']);
export type MediaSource = z.infer<typeof mediaSourceSchema>;

export const mediaKindSchema = z.enum(['audio', 'video']);
export type MediaKind = z.infer<typeof mediaKindSchema>;

/** The appData a client gives a producer (and sees on producers and consumers). */
export type SourceAppData = { source: MediaSource };
/** The appData the server keeps on every producer and consumer: its source and whose it is. */
export type ProducerAppData = SourceAppData & { peerId: string };

/** Why a consult's room closed (every peer in it closes with the same reason). */
export type RoomCloseReason =
  'empty' | 'consult_ended' | 'media_server_restarted' | 'gateway_shutdown';

/** Why a participant's seat closed: the consult record's leave reason. */
export type LeaveReason =
  | 'left'
  | 'disconnected'
  | 'removed'
  | 'access_revoked'
  /** Taken over through another node with its resume secret (failover, a network split). */
  | 'moved'
  | RoomCloseReason;

/** Reasons in `rejoinRequired`: the media path is gone, join again. */
export const rejoinReasons = ['media_server_restarted', 'gateway_shutdown'] as const;
export type RejoinReason = (typeof rejoinReasons)[number];

/** How a consult ended (the stored `endReason`). */
export type ConsultEndReason = 'ended_by_host' | 'cancelled' | 'everyone_left' | 'interrupted';

/**
 * Reasons in `consultEnded`: the consult ended, or this participant is out of it. A host's
 * own words (removePeer's `reason`) travel in `message`, never here.
 */
export type EndReason =
  | ConsultEndReason
  | 'removed_by_host'
  | 'invite_revoked'
  | 'access_revoked'
  | 'joined_from_another_connection';
