/** The parse-catch-ack wrapper, on a fake socket (the wrapper is what is under test). */
import { EventEmitter } from 'node:events';
import type { Socket } from 'socket.io';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { GatewayError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { handle } from '../../src/signalling/handler.js';

function fakeSocket() {
  const emitter = new EventEmitter();
  const socket = Object.assign(emitter, { id: 'fake' }) as unknown as Socket;
  const send = (event: string, ...args: unknown[]) =>
    new Promise<unknown>((resolve) => emitter.emit(event, ...args, resolve));
  return { socket, send };
}

const logger = createLogger('silent');

describe('handle()', () => {
  it('acks ok with the data, or bad_request with the failing field', async () => {
    const { socket, send } = fakeSocket();
    handle(
      socket,
      logger,
      'restartIce',
      z.object({ transportId: z.string() }),
      ({ transportId }) => ({
        iceParameters: transportId,
      }),
    );
    expect(await send('restartIce', { transportId: 't' })).toEqual({
      ok: true,
      data: { iceParameters: 't' },
    });
    expect(await send('restartIce', { transportId: 5 })).toMatchObject({
      ok: false,
      error: { code: 'bad_request', issues: [{ path: ['transportId'] }] },
    });
    expect(await send('restartIce', { transportId: 't' }, 'extra')).toMatchObject({
      ok: false,
      error: { code: 'bad_request' },
    });
  });

  it('turns thrown and rejected errors into error acks, hiding internal details', async () => {
    const { socket, send } = fakeSocket();
    handle(socket, logger, 'leave', z.any(), () => {
      throw new GatewayError('not_joined', 'join first');
    });
    handle(socket, logger, 'getStats', z.any(), async () => {
      throw new Error('secret database path /var/x');
    });
    expect(await send('leave', {})).toEqual({
      ok: false,
      error: { code: 'not_joined', message: 'join first' },
    });
    expect(await send('getStats', {})).toEqual({
      ok: false,
      error: { code: 'internal', message: 'internal error' },
    });
  });

  it('survives an event sent without an ack callback', async () => {
    const { socket } = fakeSocket();
    let calls = 0;
    handle(socket, logger, 'leave', z.object({}), () => {
      calls++;
      return {};
    });
    socket.emit('leave', {});
    socket.emit('leave', 'garbage');
    await new Promise((r) => setTimeout(r, 10));
    expect(calls).toBe(1);
  });
});
