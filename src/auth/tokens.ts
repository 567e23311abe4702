/**
 * Consult join tokens: HS256 JWTs naming who the bearer is and the one consult they may join,
 * with LiveKit-style grants saying what they may do there. Checked once at the socket edge.
 */
import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { z } from 'zod';
import { GatewayError } from '../errors.js';
import { roleSchema } from '../signalling/messages.js';

export const TOKEN_ISSUER = 'telemed-gateway';
export const JOIN_AUDIENCE = 'telemed-gateway:join';

export const grantsSchema = z.object({
  /** May send audio, video and screen share. */
  publish: z.boolean(),
  /** May receive others' media. */
  subscribe: z.boolean(),
  /** May admit or deny people waiting in the lobby. */
  admit: z.boolean(),
  /** May end the consult for everyone. */
  end: z.boolean(),
});
export type Grants = z.infer<typeof grantsSchema>;

export const joinClaimsSchema = z.object({
  sub: z.string().min(1).max(128),
  name: z.string().min(1).max(80),
  role: roleSchema,
  consultId: z.string().min(1).max(128),
  grants: grantsSchema,
  /** Set on guests' grants: the invite they came with (revoking it disconnects them). */
  inviteId: z.string().optional(),
});
export type JoinClaims = z.infer<typeof joinClaimsSchema>;

/** Grants a role gets by default: hosts (doctors) and admins may admit and end. */
export function defaultGrants(role: JoinClaims['role']): Grants {
  const host = role === 'doctor' || role === 'admin';
  return { publish: true, subscribe: true, admit: host, end: host };
}

export interface MintOptions {
  consultId: string;
  role: JoinClaims['role'];
  name: string;
  userId?: string;
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
  };
  return jwt.sign(claims, secret, {
    algorithm: 'HS256',
    issuer: TOKEN_ISSUER,
    audience: JOIN_AUDIENCE,
    expiresIn: opts.ttlSeconds,
    jwtid: randomUUID(),
  });
}

/** Verifies signature (HS256 only), issuer, audience and expiry; returns the parsed claims. */
export function verifyJoinToken(secret: string, token: unknown): JoinClaims {
  if (typeof token !== 'string' || token.length === 0) {
    throw new GatewayError('unauthorized', 'a join token is required (auth: { token })');
  }
  let payload: unknown;
  try {
    payload = jwt.verify(token, secret, {
      algorithms: ['HS256'],
      issuer: TOKEN_ISSUER,
      audience: JOIN_AUDIENCE,
      clockTolerance: 5,
    });
  } catch (err) {
    const reason =
      err instanceof jwt.TokenExpiredError ? 'the join token has expired' : 'invalid join token';
    throw new GatewayError('unauthorized', reason);
  }
  const claims = joinClaimsSchema.safeParse(payload);
  if (!claims.success)
    throw new GatewayError('unauthorized', 'the join token lacks required claims');
  return claims.data;
}
