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

const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal']);
const noop = () => undefined;

/**
 * `parent.child(bindings)`, made when first used at an enabled level: a per-connection logger
 * then costs nothing for the many connections that log nothing (pino's child() serialises and
 * redacts its bindings when made).
 */
export function lazyChild(parent: Logger, bindings: pino.Bindings): Logger {
  let child: Logger | undefined;
  const real = () => (child ??= parent.child(bindings));
  return new Proxy(parent, {
    get(target, prop) {
      if (!child && typeof prop === 'string' && LEVELS.has(prop) && !target.isLevelEnabled(prop))
        return noop;
      const c = real();
      const value: unknown = Reflect.get(c, prop, c);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(c) : value;
    },
    set(_target, prop, value) {
      return Reflect.set(real(), prop, value);
    },
  });
}
