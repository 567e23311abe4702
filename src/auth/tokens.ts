/**
 * Consult join tokens: HS256 JWTs naming who the bearer is and the one consult they may join,
 * with LiveKit-style grants saying what they may do there. Checked once at the socket edge.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { grantsSchema, personName, roleSchema, type Grants } from '../protocol/vocabulary.js';
import { signToken, verifyToken } from './jwt.js';

export { TOKEN_ISSUER } from './jwt.js';
export const JOIN_AUDIENCE = 'telemed-gateway:join';

export { grantsSchema, type Grants };

export const joinClaimsSchema = z.object({
  sub: z.string().min(1).max(128),
  name: personName,
  role: roleSchema,
  consultId: z.string().min(1).max(128),
  grants: grantsSchema,
  /** Set on guests' grants: the invite they came with (revoking it disconnects them). */
  inviteId: z.string().optional(),
  /** Accounts' grants: the user's token version when minted (absent reads as 0). */
  tv: z.number().int().min(0).optional(),
  /** Grants minted from a login: its refresh family, so logging out ends the socket too. */
  sid: z.string().max(128).optional(),
  /** Set on guests' grants: when they redeemed the invite (ms since the epoch), shown to the host. */
  redeemedAt: z.number().int().optional(),
});
export type JoinClaims = z.infer<typeof joinClaimsSchema>;

/** The grants of a join grant: everyone may publish and subscribe; hosts may also admit and end. */
export function grantsFor(host: boolean): Grants {
  return { publish: true, subscribe: true, admit: host, end: host };
}

/** Grants a role gets by default: hosts (doctors) and admins may admit and end. */
export function defaultGrants(role: JoinClaims['role']): Grants {
  return grantsFor(role === 'doctor' || role === 'admin');
}

export interface MintOptions {
  consultId: string;
  role: JoinClaims['role'];
  name: string;
  userId?: string;
  /** The user's token version (see SessionRevocations); 0 when omitted. */
  tokenVersion?: number;
  grants?: Grants;
  ttlSeconds: number;
}

export function mintJoinToken(secret: string, opts: MintOptions): string {
  const claims: JoinClaims = {
    sub: opts.userId ?? `anon-${randomUUID()}`,
    name: opts.name,
    role: opts.role,
    consultId: opts.consultId,
    grants: opts.grants ?? defaultGrants(opts.role),
    ...(opts.tokenVersion === undefined ? {} : { tv: opts.tokenVersion }),
  };
  return signToken(secret, claims, JOIN_AUDIENCE, opts.ttlSeconds);
}

/** Verifies signature (HS256 only), issuer, audience and expiry; returns the parsed claims. */
export function verifyJoinToken(secret: string, token: unknown): JoinClaims {
  return verifyToken(secret, token, JOIN_AUDIENCE, joinClaimsSchema, 'join token');
}
