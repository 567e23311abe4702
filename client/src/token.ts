import type { Role } from '../../src/protocol';
import { isRole } from '../../src/protocol/roles';
import { DAMAGED_LINK } from './joinErrors';

/** The claims the client reads from a consult JWT (decoded, never verified, client-side). */
export interface TokenClaims {
  sub: string;
  name: string;
  role: Role;
  consultId: string;
  /** Expiry, seconds since the epoch, if present. */
  exp?: number;
  /**
   * What the bearer may do. Absent publish/subscribe grants count as allowed and absent
   * admit/end as not allowed; either way the server decides, this only shapes the UI.
   */
  grants: { publish: boolean; subscribe: boolean; admit: boolean; end: boolean };
}

function base64UrlDecode(segment: string): string {
  const b64 = segment.replace(/-/g, '+').replace(/_/g, '/');
  const padded = b64 + '='.repeat((4 - (b64.length % 4)) % 4);
  const binary = atob(padded);
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

function grant(grants: unknown, name: string, fallback: boolean): boolean {
  if (typeof grants !== 'object' || grants === null) return fallback;
  const value = (grants as Record<string, unknown>)[name];
  return typeof value === 'boolean' ? value : fallback;
}

/** Decodes a JWT's payload. Throws an Error with a readable message when it is not usable. */
export function decodeToken(token: string): TokenClaims {
  const parts = token.trim().split('.');
  if (parts.length !== 3 || !parts[1]) throw new Error(DAMAGED_LINK.message);
  let payload: unknown;
  try {
    payload = JSON.parse(base64UrlDecode(parts[1]));
  } catch {
    throw new Error(DAMAGED_LINK.message);
  }
  if (typeof payload !== 'object' || payload === null) {
    throw new Error(DAMAGED_LINK.message);
  }
  const p = payload as Record<string, unknown>;
  const { sub, name, role, consultId, exp, grants } = p;
  if (typeof sub !== 'string' || !sub) throw new Error(DAMAGED_LINK.message);
  if (typeof consultId !== 'string' || !consultId) throw new Error(DAMAGED_LINK.message);
  if (typeof role !== 'string' || !isRole(role)) {
    throw new Error(DAMAGED_LINK.message);
  }
  return {
    sub,
    name: typeof name === 'string' && name ? name : sub,
    role,
    consultId,
    ...(typeof exp === 'number' ? { exp } : {}),
    grants: {
      publish: grant(grants, 'publish', true),
      subscribe: grant(grants, 'subscribe', true),
      admit: grant(grants, 'admit', false),
      end: grant(grants, 'end', false),
    },
  };
}

/** True when the token carries an expiry that has passed. */
export function isExpired(claims: TokenClaims, nowMs = Date.now()): boolean {
  return claims.exp !== undefined && claims.exp * 1000 <= nowMs;
}

/** The token in the page URL (`?token=`), if any. */
export function tokenFromUrl(search = window.location.search): string | null {
  const token = new URLSearchParams(search).get('token');
  return token && token.trim() ? token.trim() : null;
}
