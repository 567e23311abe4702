/** The error codes every ack and HTTP error carries, and the ack envelope. */
export const errorCodes = [
  'bad_request',
  'unauthorized',
  'forbidden',
  'not_found',
  'not_joined',
  'conflict',
  'cannot_consume',
  'too_many_requests',
  'rate_limited',
  'unavailable',
  'internal',
  /** An invite link that was redeemed as often as it allows. */
  'invite_used',
  /** Someone else (or this person in another window) holds this seat; no resume secret proved otherwise. */
  'seat_taken',
  /** The host denied this guest a short while ago. */
  'denied_recently',
  /** This cluster node is draining: it takes nobody new; go to the node `migrate` names. */
  'node_draining',
] as const;
export type ErrorCode = (typeof errorCodes)[number];

export interface AckError {
  code: ErrorCode;
  message: string;
  issues?: { path: (string | number)[]; message: string }[];
}

export type Ack<T> = { ok: true; data: T } | { ok: false; error: AckError };
