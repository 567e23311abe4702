/** One error base class with a stable machine-readable code, shared by HTTP and Socket.IO. */
import type { AckError, ErrorCode } from './protocol/errors.js';
import type { z } from 'zod';

const statusByCode: Record<ErrorCode, number> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  not_joined: 409,
  conflict: 409,
  cannot_consume: 422,
  too_many_requests: 429,
  rate_limited: 429,
  unavailable: 503,
  internal: 500,
  invite_used: 409,
  seat_taken: 409,
  denied_recently: 403,
  node_draining: 503,
};

export class GatewayError extends Error {
  readonly status: number;
  /** Seconds the caller should wait (sent as Retry-After with 429). */
  retryAfter?: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly issues?: AckError['issues'],
    /** `node_draining`: the public URL of a node to go to instead. */
    readonly url?: string,
  ) {
    super(message);
    this.name = 'GatewayError';
    this.status = statusByCode[code];
  }

  /** A bad_request carrying zod's issues, so callers see which field was wrong. */
  static fromZod(error: z.ZodError, what = 'payload'): GatewayError {
    const issues = error.issues.map((i) => ({
      path: i.path.map((p) => (typeof p === 'symbol' ? String(p) : p)),
      message: i.message,
    }));
    const first = issues[0];
    const where = first && first.path.length ? ` at ${first.path.join('.')}` : '';
    return new GatewayError(
      'bad_request',
      `invalid ${what}${where}: ${first?.message ?? ''}`,
      issues,
    );
  }

  toAck(): AckError {
    return this.issues
      ? { code: this.code, message: this.message, issues: this.issues }
      : { code: this.code, message: this.message };
  }
}

/** Maps any thrown value to a GatewayError; unknown errors become `internal` without leaking details. */
export function toGatewayError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  // mediasoup throws TypeError for parameters it rejects (bad RTP/DTLS parameters, unknown ids).
  if (err instanceof TypeError) return new GatewayError('bad_request', err.message);
  if (err instanceof Error && err.name === 'InvalidStateError') {
    return new GatewayError('conflict', err.message);
  }
  // The worker no longer knows the transport, producer or consumer: it closed while the request was on its way.
  if (err instanceof Error && /^Channel request handler with ID \S+ not found/.test(err.message)) {
    return new GatewayError('conflict', 'that media object closed meanwhile; ask again');
  }
  return new GatewayError('internal', 'internal error');
}
