/**
 * The one wrapper every Socket.IO event goes through: it parses the payload with its zod
 * schema, runs the handler, and acks `{ ok: true, data }` or `{ ok: false, error }`.
 * Nothing a client sends can throw out of a listener (which would end the process).
 */
import type { Socket } from 'socket.io';
import type { z } from 'zod';
import { GatewayError, toGatewayError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Ack, ClientToServerEvents } from './messages.js';

type AckData<E extends keyof ClientToServerEvents> =
  Parameters<Parameters<ClientToServerEvents[E]>[1]>[0] extends Ack<infer T> ? T : never;

export function handle<E extends keyof ClientToServerEvents, S extends z.ZodType>(
  socket: Socket,
  logger: Logger,
  event: E,
  schema: S,
  fn: (payload: z.infer<S>) => Promise<AckData<E>> | AckData<E>,
): void {
  socket.on(event as string, async (...args: unknown[]) => {
    const last = args[args.length - 1];
    const ack = typeof last === 'function' ? (args.pop() as (res: unknown) => void) : undefined;
    try {
      if (args.length > 1) throw new GatewayError('bad_request', `${event} takes one payload`);
      const parsed = schema.safeParse(args[0]);
      if (!parsed.success) throw GatewayError.fromZod(parsed.error, `${event} payload`);
      const data = await fn(parsed.data);
      ack?.({ ok: true, data: data ?? {} });
    } catch (err) {
      const error = toGatewayError(err);
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
    }
  });
}
