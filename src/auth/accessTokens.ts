/** API access tokens: short-lived HS256 JWTs with iss/aud/exp/sub/role/tv/sid claims. */
import { z } from 'zod';
import { userRoleSchema } from '../protocol/vocabulary.js';
import { signToken, verifyToken } from './jwt.js';

export const API_AUDIENCE = 'telemed-gateway:api';

export const accessClaimsSchema = z.object({
  sub: z.string().min(1),
  role: userRoleSchema,
  name: z.string(),
  /** The user's token version when issued (absent reads as 0); one from before a bump is refused. */
  tv: z.number().int().min(0).optional(),
  /** The login (refresh family) it belongs to, so logging out ends it. */
  sid: z.string().max(128).optional(),
});
export type AccessClaims = z.infer<typeof accessClaimsSchema>;

export function signAccessToken(secret: string, claims: AccessClaims, ttlSeconds: number): string {
  return signToken(secret, claims, API_AUDIENCE, ttlSeconds);
}

/** Refuses alg none, other algorithms, bad signatures, other audiences/issuers and expired tokens. */
export function verifyAccessToken(secret: string, token: string): AccessClaims {
  return verifyToken(secret, token, API_AUDIENCE, accessClaimsSchema, 'access token');
}
