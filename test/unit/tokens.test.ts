import jwt from 'jsonwebtoken';
import { describe, expect, it } from 'vitest';
import {
  JOIN_AUDIENCE,
  TOKEN_ISSUER,
  defaultGrants,
  mintJoinToken,
  verifyJoinToken,
} from '../../src/auth/tokens.js';

const SECRET = 'unit-secret-0123456789';
const claims = {
  sub: 'u1',
  name: 'Dr. Who',
  role: 'doctor',
  consultId: 'c1',
  grants: defaultGrants('doctor'),
};

describe('join tokens', () => {
  it('round-trips identity, consult and grants', () => {
    const token = mintJoinToken(SECRET, {
      consultId: 'c1',
      role: 'specialist',
      name: 'Dr. Strange',
      userId: 'u2',
      ttlSeconds: 60,
    });
    expect(verifyJoinToken(SECRET, token)).toEqual({
      sub: 'u2',
      name: 'Dr. Strange',
      role: 'specialist',
      consultId: 'c1',
      grants: { publish: true, subscribe: true, admit: false, end: false },
    });
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    [
      'unsigned (alg none)',
      jwt.sign(claims, '', { algorithm: 'none', issuer: TOKEN_ISSUER, audience: JOIN_AUDIENCE }),
    ],
    [
      'signed with another secret',
      jwt.sign(claims, 'another-secret-xyz', { issuer: TOKEN_ISSUER, audience: JOIN_AUDIENCE }),
    ],
    [
      'signed with HS512',
      jwt.sign(claims, SECRET, {
        algorithm: 'HS512',
        issuer: TOKEN_ISSUER,
        audience: JOIN_AUDIENCE,
      }),
    ],
    [
      'for another audience',
      jwt.sign(claims, SECRET, { issuer: TOKEN_ISSUER, audience: 'elsewhere' }),
    ],
    [
      'from another issuer',
      jwt.sign(claims, SECRET, { issuer: 'someone', audience: JOIN_AUDIENCE }),
    ],
    [
      'expired',
      jwt.sign(claims, SECRET, { issuer: TOKEN_ISSUER, audience: JOIN_AUDIENCE, expiresIn: -60 }),
    ],
    [
      'without a consult',
      jwt.sign({ ...claims, consultId: undefined }, SECRET, {
        issuer: TOKEN_ISSUER,
        audience: JOIN_AUDIENCE,
      }),
    ],
  ])('refuses a token that is %s', (_what, token) => {
    expect(() => verifyJoinToken(SECRET, token)).toThrow(
      expect.objectContaining({ code: 'unauthorized' }),
    );
  });

  it('verifies with a cached key object what a plain string secret signed, and tells secrets apart', () => {
    // Tokens signed before the key object (or by `npm run token`) stay valid.
    const token = jwt.sign(claims, SECRET, { issuer: TOKEN_ISSUER, audience: JOIN_AUDIENCE });
    expect(verifyJoinToken(SECRET, token).sub).toBe('u1');
    const minted = mintJoinToken(SECRET, {
      consultId: 'c1',
      role: 'doctor',
      name: 'Dr. Who',
      ttlSeconds: 600,
    });
    expect(jwt.verify(minted, SECRET, { algorithms: ['HS256'] })).toMatchObject({
      consultId: 'c1',
    });
    // The cache is per secret: a token of one secret never verifies under another.
    expect(() => verifyJoinToken('another-secret-xyz', minted)).toThrow(
      expect.objectContaining({ code: 'unauthorized' }),
    );
  });
});
