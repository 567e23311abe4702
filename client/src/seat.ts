/**
 * What the browser keeps so that reopening an invite link is not a new person: the guest
 * grant the link was exchanged for (localStorage, until it expires, so reopening the link in
 * this browser does not use it up again), and the resume secret that lets this tab take its
 * seat back after a reload (sessionStorage: another tab must not take the seat over).
 */
import type { TokenClaims } from './token';
import { decodeToken, isExpired } from './token';

export interface RedeemedGrant {
  token: string;
  consultTitle: string;
}

type Area = 'local' | 'session';
const area = (which: Area): Storage => (which === 'local' ? localStorage : sessionStorage);

function read(which: Area, key: string): string | null {
  try {
    return area(which).getItem(key);
  } catch {
    return null; // Storage disabled: nothing survives a reload.
  }
}

function write(which: Area, key: string, value: string | null): void {
  try {
    if (value === null) area(which).removeItem(key);
    else area(which).setItem(key, value);
  } catch {
    // Storage disabled or full: the seat still works until the page is reloaded.
  }
}

// The signature part identifies a JWT without storing the whole invite token twice.
const inviteKey = (inviteToken: string) => `telemed.invite.${inviteToken.split('.').pop()}`;
const seatKey = (claims: TokenClaims) => `telemed.seat.${claims.consultId}.${claims.sub}`;

/** The grant this browser already got for an invite link, while it has not expired. */
export function redeemedGrant(inviteToken: string): RedeemedGrant | null {
  const raw = read('local', inviteKey(inviteToken));
  if (!raw) return null;
  try {
    const grant = JSON.parse(raw) as RedeemedGrant;
    if (typeof grant.token === 'string' && !isExpired(decodeToken(grant.token))) return grant;
  } catch {
    // Unreadable: redeem again.
  }
  write('local', inviteKey(inviteToken), null);
  return null;
}

export function keepRedeemedGrant(inviteToken: string, grant: RedeemedGrant): void {
  write(
    'local',
    inviteKey(inviteToken),
    JSON.stringify({ token: grant.token, consultTitle: grant.consultTitle }),
  );
}

/** The resume secret of this tab's seat in a consult, if it has one. */
export function storedResumeSecret(claims: TokenClaims): string | undefined {
  return read('session', seatKey(claims)) ?? undefined;
}

/** Keeps (or, with undefined, forgets) the resume secret of this tab's seat. */
export function keepResumeSecret(claims: TokenClaims, secret: string | undefined): void {
  write('session', seatKey(claims), secret ?? null);
}
