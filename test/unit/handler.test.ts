/** The parse-catch-ack wrapper, on a fake socket (the wrapper is what is under test). */
import { EventEmitter } from 'node:events';
import type { Socket } from 'socket.io';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { GatewayError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import type { EventEntry } from '../../src/protocol/index.js';
import { handle, limitEvents } from '../../src/signalling/handler.js';

/** A protocol entry for the test: any name, any schema, an ack of any data. */
const entry = <S extends z.ZodType>(name: string, request: S): EventEntry<string, S, unknown> => ({
  name,
  request,
  errors: ['not_joined'],
});

function fakeSocket() {
  const emitter = new EventEmitter();
  const state = { disconnected: false };
  const socket = Object.assign(emitter, {
    id: 'fake',
    disconnect: () => {
      state.disconnected = true;
    },
  }) as unknown as Socket;
  const send = (event: string, ...args: unknown[]) =>
    new Promise<unknown>((resolve) => emitter.emit(event, ...args, resolve));
  return { socket, send, state };
}

const logger = createLogger('silent');

describe('handle()', () => {
  it('acks ok with the data, or bad_request with the failing field', async () => {
    const { socket, send } = fakeSocket();
    handle(
      socket,
      logger,
      entry('restartIce', z.object({ transportId: z.string() })),
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
    handle(socket, logger, entry('leave', z.any()), () => {
      throw new GatewayError('not_joined', 'join first');
    });
    handle(socket, logger, entry('getStats', z.any()), async () => {
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
    handle(socket, logger, entry('leave', z.object({})), () => {
      calls++;
      return {};
    });
    socket.emit('leave', {});
    socket.emit('leave', 'garbage');
    await new Promise((r) => setTimeout(r, 10));
    expect(calls).toBe(1);
  });

  it('counts every event against the socket: past the limit rate_limited, far past it disconnected', async () => {
    const { socket, send, state } = fakeSocket();
    let now = 0;
    limitEvents(socket, { perSecond: 2, burst: 3, floodFactor: 10, floodSeconds: 5 }, () => now);
    let calls = 0;
    handle(socket, logger, entry('leave', z.any()), () => ({ n: ++calls }));
    handle(socket, logger, entry('getStats', z.any()), () => ({ n: ++calls }));
    const acks = [];
    for (let i = 0; i < 2; i++) acks.push(await send('leave', {}), await send('getStats', {}));
    expect(acks.filter((a) => (a as { ok: boolean }).ok)).toHaveLength(3);
    expect(acks[3]).toMatchObject({ ok: false, error: { code: 'rate_limited' } });
    expect(calls).toBe(3);
    now += 1000;
    expect(await send('leave', {})).toMatchObject({ ok: true });
    // 10x the rate for 5 s is 100 events in the window (5 so far); the 101st cuts the socket off.
    let acked = 0;
    for (let i = 0; i < 95; i++) socket.emit('leave', {}, () => acked++);
    expect(state.disconnected).toBe(false);
    socket.emit('leave', {}, () => acked++);
    expect(state.disconnected).toBe(true);
    await new Promise((r) => setTimeout(r, 10));
    expect(acked).toBe(95);
    expect(calls).toBe(5); // the one token left after the pause; the rest were refused
  });
});
