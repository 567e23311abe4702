/**
 * What this tab keeps across a page reload (sessionStorage, so other tabs and later visits do
 * not share it): the guest grant an invite link was exchanged for, so reopening the link does
 * not use it up again, and the resume secret that lets this tab take its seat back.
 */
import type { TokenClaims } from './token';
import { decodeToken, isExpired } from './token';

export interface RedeemedGrant {
  token: string;
  consultTitle: string;
}

function read(key: string): string | null {
  try {
    return sessionStorage.getItem(key);
  } catch {
    return null; // Storage disabled: nothing survives a reload.
  }
}

function write(key: string, value: string | null): void {
  try {
    if (value === null) sessionStorage.removeItem(key);
    else sessionStorage.setItem(key, value);
  } catch {
    // Storage disabled or full: the seat still works until the page is reloaded.
  }
}

// The signature part identifies a JWT without storing the whole invite token twice.
const inviteKey = (inviteToken: string) => `telemed.invite.${inviteToken.split('.').pop()}`;
const seatKey = (claims: TokenClaims) => `telemed.seat.${claims.consultId}.${claims.sub}`;

/** The grant this tab already got for an invite link, while it has not expired. */
export function redeemedGrant(inviteToken: string): RedeemedGrant | null {
  const raw = read(inviteKey(inviteToken));
  if (!raw) return null;
  try {
    const grant = JSON.parse(raw) as RedeemedGrant;
    if (typeof grant.token === 'string' && !isExpired(decodeToken(grant.token))) return grant;
  } catch {
    // Unreadable: redeem again.
  }
  write(inviteKey(inviteToken), null);
  return null;
}

export function keepRedeemedGrant(inviteToken: string, grant: RedeemedGrant): void {
  write(
    inviteKey(inviteToken),
    JSON.stringify({ token: grant.token, consultTitle: grant.consultTitle }),
  );
}

/** The resume secret of this tab's seat in a consult, if it has one. */
export function storedResumeSecret(claims: TokenClaims): string | undefined {
  return read(seatKey(claims)) ?? undefined;
}

/** Keeps (or, with undefined, forgets) the resume secret of this tab's seat. */
export function keepResumeSecret(claims: TokenClaims, secret: string | undefined): void {
  write(seatKey(claims), secret ?? null);
}
