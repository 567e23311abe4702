/**
 * Our tokens, all HS256 JWTs from one issuer, told apart by audience: API access tokens, join
 * grants and invite links. One place signs and verifies them, so every kind refuses the same
 * attacks (alg none or another algorithm, a bad signature, another audience or issuer, expiry).
 */
import { createSecretKey, randomUUID, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { z } from 'zod';
import { GatewayError } from '../errors.js';

export const TOKEN_ISSUER = 'telemed-gateway';

/** Secrets seen so far; a gateway has one, tests a few. */
const keys = new Map<string, KeyObject>();
const MAX_KEYS = 16;

/**
 * The secret as a KeyObject, made once: given a string, jsonwebtoken first tries to parse it
 * as a public (or private) key on every call, fails, and only then makes a secret key.
 */
function keyOf(secret: string): KeyObject {
  let key = keys.get(secret);
  if (!key) {
    if (keys.size >= MAX_KEYS) keys.clear();
    key = createSecretKey(Buffer.from(secret, 'utf8'));
    keys.set(secret, key);
  }
  return key;
}

export function signToken(
  secret: string,
  claims: object,
  audience: string,
  ttlSeconds: number,
): string {
  return jwt.sign(claims, keyOf(secret), {
    algorithm: 'HS256',
    issuer: TOKEN_ISSUER,
    audience,
    expiresIn: ttlSeconds,
    jwtid: randomUUID(),
  });
}

/** Verifies a token for one audience and parses its claims; `what` names it in errors ("join token"). */
export function verifyToken<S extends z.ZodType>(
  secret: string,
  token: unknown,
  audience: string,
  schema: S,
  what: string,
): z.infer<S> {
  if (typeof token !== 'string' || token.length === 0) {
    throw new GatewayError('unauthorized', `a ${what} is required`);
  }
  let payload: unknown;
  try {
    payload = jwt.verify(token, keyOf(secret), {
      algorithms: ['HS256'],
      issuer: TOKEN_ISSUER,
      audience,
      clockTolerance: 5,
    });
  } catch (err) {
    throw new GatewayError(
      'unauthorized',
      err instanceof jwt.TokenExpiredError ? `the ${what} has expired` : `invalid ${what}`,
    );
  }
  const claims = schema.safeParse(payload);
  if (!claims.success) throw new GatewayError('unauthorized', `the ${what} lacks required claims`);
  return claims.data;
}
