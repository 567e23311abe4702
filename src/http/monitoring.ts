/**
 * Who may read the gateway's internals (worker PIDs, ports, live counts, Prometheus metrics):
 * the bearer of METRICS_TOKEN, or, when none is configured, only a client on this machine that
 * connects directly (not through a reverse proxy, which would make every visitor look local).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import { GatewayError } from '../errors.js';

/** True for 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6 (::ffff:127.x.x.x). */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4) || address === '::1';
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Compares in time independent of where the strings differ (and of their lengths). */
export function sameSecret(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

export type MonitoringAccess = 'granted' | 'anonymous';

/**
 * 'granted' if the request may see monitoring detail, 'anonymous' if it sent no credentials and
 * may not; throws `unauthorized` for a wrong or malformed token (so an operator notices).
 */
export function monitoringAccess(req: Request, token: string | undefined): MonitoringAccess {
  const header = req.get('authorization');
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!token) {
      throw new GatewayError(
        'unauthorized',
        'no METRICS_TOKEN is configured: set METRICS_TOKEN on the gateway to read monitoring data with a token',
      );
    }
    if (!match || !sameSecret(match[1]!, token)) {
      throw new GatewayError(
        'unauthorized',
        'wrong metrics token: send Authorization: Bearer <METRICS_TOKEN>',
      );
    }
    return 'granted';
  }
  if (token) return 'anonymous';
  const forwarded = req.get('x-forwarded-for') !== undefined || req.get('forwarded') !== undefined;
  return !forwarded && isLoopbackAddress(req.socket.remoteAddress) ? 'granted' : 'anonymous';
}

/** The refusal for a monitoring endpoint asked for without access. */
export function monitoringRefusal(token: string | undefined): GatewayError {
  return new GatewayError(
    'unauthorized',
    token
      ? 'send Authorization: Bearer <METRICS_TOKEN>'
      : 'monitoring data is served only to clients on the gateway machine; set METRICS_TOKEN to read it from elsewhere (Authorization: Bearer <token>)',
  );
}
