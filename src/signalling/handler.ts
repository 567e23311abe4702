/**
 * The one wrapper every Socket.IO event goes through: it parses the payload with the schema of
 * the event's protocol entry, runs the handler, and acks `{ ok: true, data }` or `{ ok: false, error }`.
 * Nothing a client sends can throw out of a listener (which would end the process).
 * Every event also counts against the socket's rate limit (see `limitEvents`).
 */
import type { Socket } from 'socket.io';
import type { z } from 'zod';
import { GatewayError, toGatewayError } from '../errors.js';
import type { Logger } from '../logger.js';
import { COMMON_ERRORS, type EventEntry, type ResponseOf } from '../protocol/events.js';
import { EventLimiter, type Clock, type EventLimits } from './rateLimit.js';

const limiters = new WeakMap<Socket, EventLimiter>();

/** Sets a socket's event rate limit (before its handlers run; the default is `defaultEventLimits`). */
export function limitEvents(socket: Socket, limits: EventLimits, clock?: Clock): void {
  limiters.set(socket, new EventLimiter(limits, clock));
}

function limiterOf(socket: Socket): EventLimiter {
  let limiter = limiters.get(socket);
  if (!limiter) {
    limiter = new EventLimiter();
    limiters.set(socket, limiter);
  }
  return limiter;
}

/** Events of each socket still being handled (their acks not yet sent), and who waits for none. */
const inFlight = new WeakMap<Socket, { count: number; idle: (() => void)[] }>();

function track(socket: Socket): () => void {
  let state = inFlight.get(socket);
  if (!state) {
    state = { count: 0, idle: [] };
    inFlight.set(socket, state);
  }
  const s = state;
  s.count++;
  return () => {
    if (--s.count > 0) return;
    for (const resolve of s.idle.splice(0)) resolve();
  };
}

/**
 * Resolves once no event of the socket is being handled (or after `maxMs`), so a connection
 * ended by someone else (a newer tab, the host) still gets the answer to what it asked first.
 */
export function whenIdle(socket: Socket, maxMs: number): Promise<void> {
  const state = inFlight.get(socket);
  if (!state || state.count === 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, maxMs);
    state.idle.push(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Each protocol entry's error codes, made once (not per connection and event). */
const declaredByEntry = new WeakMap<EventEntry, ReadonlySet<string>>();

function declaredErrors(entry: EventEntry): ReadonlySet<string> {
  let declared = declaredByEntry.get(entry);
  if (!declared) {
    declared = new Set<string>([...COMMON_ERRORS, ...entry.errors]);
    declaredByEntry.set(entry, declared);
  }
  return declared;
}

/** Runs `fn` for every `entry.name` event on the socket, with the payload parsed by `entry.request`. */
export function handle<E extends EventEntry>(
  socket: Socket,
  logger: Logger,
  entry: E,
  fn: (payload: z.output<E['request']>) => Promise<ResponseOf<E>> | ResponseOf<E>,
): void {
  const event = entry.name;
  const declared = declaredErrors(entry);
  socket.on(event, async (...args: unknown[]) => {
    const last = args[args.length - 1];
    const ack = typeof last === 'function' ? (args.pop() as (res: unknown) => void) : undefined;
    const done = track(socket);
    try {
      const verdict = limiterOf(socket).check();
      if (verdict === 'flood') {
        logger.warn({ event, socketId: socket.id }, 'socket flooded far past its event limit');
        socket.disconnect(true);
        return;
      }
      if (verdict === 'limited') {
        throw new GatewayError(
          'rate_limited',
          `too many requests from this connection; wait ${limiterOf(socket).waitSeconds()} s and retry`,
        );
      }
      if (args.length > 1) throw new GatewayError('bad_request', `${event} takes one payload`);
      const parsed = entry.request.safeParse(args[0]);
      if (!parsed.success) throw GatewayError.fromZod(parsed.error, `${event} payload`);
      const data = await fn(parsed.data as z.output<E['request']>);
      ack?.({ ok: true, data: data ?? {} });
    } catch (err) {
      const error = toGatewayError(err);
      if (!declared.has(error.code)) {
        logger.warn({ event, code: error.code }, 'error code not declared in the protocol entry');
      }
      if (error.code === 'internal') {
        logger.error({ event, socketId: socket.id, err }, 'signalling handler failed');
      } else {
        logger.debug(
          { event, socketId: socket.id, code: error.code, msg: error.message },
          'refused',
        );
      }
      try {
        ack?.({ ok: false, error: error.toAck() });
      } catch (ackErr) {
        logger.warn({ event, err: ackErr }, 'could not ack');
      }
    } finally {
      done();
    }
  });
}
