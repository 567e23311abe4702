/** API access tokens: short-lived HS256 JWTs with iss/aud/exp/sub/role claims. */
import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { z } from 'zod';
import { GatewayError } from '../errors.js';
import { TOKEN_ISSUER } from './tokens.js';

export const API_AUDIENCE = 'telemed-gateway:api';

export const accessClaimsSchema = z.object({
  sub: z.string().min(1),
  role: z.enum(['admin', 'doctor', 'specialist']),
  name: z.string(),
});
export type AccessClaims = z.infer<typeof accessClaimsSchema>;

export function signAccessToken(secret: string, claims: AccessClaims, ttlSeconds: number): string {
  return jwt.sign(claims, secret, {
    algorithm: 'HS256',
    issuer: TOKEN_ISSUER,
    audience: API_AUDIENCE,
    expiresIn: ttlSeconds,
    jwtid: randomUUID(),
  });
}

/** Refuses alg none, other algorithms, bad signatures, other audiences/issuers and expired tokens. */
export function verifyAccessToken(secret: string, token: string): AccessClaims {
  let payload: unknown;
  try {
    payload = jwt.verify(token, secret, {
      algorithms: ['HS256'],
      issuer: TOKEN_ISSUER,
      audience: API_AUDIENCE,
      clockTolerance: 5,
    });
  } catch (err) {
    throw new GatewayError(
      'unauthorized',
      err instanceof jwt.TokenExpiredError
        ? 'the access token has expired'
        : 'invalid access token',
    );
  }
  const claims = accessClaimsSchema.safeParse(payload);
  if (!claims.success) throw new GatewayError('unauthorized', 'invalid access token');
  return claims.data;
}
