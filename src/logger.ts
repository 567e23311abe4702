/** The process-wide structured logger (pino, JSON lines on stdout). */
import { pino, type DestinationStream } from 'pino';

export type Logger = pino.Logger;

const SECRET_KEYS = [
  'authorization',
  'cookie',
  'password',
  'newPassword',
  'currentPassword',
  'passwordHash',
  'password_hash',
  'token',
  'accessToken',
  'refreshToken',
  'resumeSecret',
  'secret',
  'jwtSecret',
  'JWT_SECRET',
  'METRICS_TOKEN',
  'metricsToken',
];

/**
 * Fields that must never reach a log, at the top level and up to three levels down (an error's
 * `req.headers.authorization`, an audit entry's `details.token`): pino replaces their values.
 */
export const REDACTED_PATHS = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `*.*.*.${k}`]);

/** `destination` is for tests that read what was logged. */
export function createLogger(
  level: string,
  name = 'gateway',
  destination?: DestinationStream,
): Logger {
  const options = {
    name,
    level,
    base: { pid: process.pid },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
  };
  return destination ? pino(options, destination) : pino(options);
}
