/** The request bus between nodes, on a real Redis: answers, refusals, timeouts and garbage. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ClusterBus } from '../../src/cluster/ClusterBus.js';
import { connectRedis, type Redis } from '../../src/cluster/redis.js';
import { createLogger } from '../../src/logger.js';
import { GatewayError } from '../../src/errors.js';
import { startRedis, type TestRedis } from '../support/cluster.js';

const logger = createLogger('silent');
let redis: TestRedis;
let conn: Redis[] = [];
let x: ClusterBus;
let y: ClusterBus;

beforeAll(async () => {
  redis = await startRedis();
  conn = [await connectRedis(redis.url, logger), await connectRedis(redis.url, logger)];
  x = await ClusterBus.create(conn[0]!, 'x', logger);
  y = await ClusterBus.create(conn[1]!, 'y', logger);
  y.handle('add', z.object({ a: z.number(), b: z.number() }), ({ a, b }, from) => ({
    sum: a + b,
    from,
  }));
  y.handle('boom', z.object({}), () => {
    throw new Error('secret internals');
  });
  y.handle('refuse', z.object({}), () => {
    throw new GatewayError('forbidden', 'not for you');
  });
});

afterAll(async () => {
  await x?.close();
  await y?.close();
  for (const c of conn) c.destroy();
  await redis?.stop();
});

const sum = z.object({ sum: z.number(), from: z.string() });

describe('the cluster bus', () => {
  it('answers a request with the handler result and who asked', async () => {
    expect(await x.request('y', 'add', { a: 2, b: 3 }, sum)).toEqual({ sum: 5, from: 'x' });
  });

  it('refuses unknown types, bad payloads and failing handlers with a code, never their internals', async () => {
    await expect(x.request('y', 'nope', {}, sum)).rejects.toMatchObject({ code: 'not_found' });
    await expect(x.request('y', 'add', { a: 'two' }, sum)).rejects.toMatchObject({
      code: 'bad_request',
    });
    await expect(x.request('y', 'refuse', {}, sum)).rejects.toMatchObject({ code: 'forbidden' });
    const err = await x.request('y', 'boom', {}, sum).catch((e: GatewayError) => e);
    expect(err).toMatchObject({ code: 'internal' });
    expect(String((err as Error).message)).not.toContain('secret');
  });

  it('fails a request to a node nobody listens for with unavailable, after its timeout', async () => {
    const started = Date.now();
    await expect(x.request('gone', 'add', { a: 1, b: 1 }, sum, 300)).rejects.toMatchObject({
      code: 'unavailable',
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });

  it('ignores garbage and forged answers on its channel and keeps answering', async () => {
    const raw = conn[0]!;
    for (const junk of [
      'not json',
      '{"kind":"request"}',
      JSON.stringify({ kind: 'response', id: 'made-up', from: 'z', ok: true, data: 1 }),
      JSON.stringify({
        kind: 'response',
        id: 'made-up',
        from: 'z',
        ok: false,
        error: { code: 'pwned', message: '' },
      }),
      'x'.repeat(100_000),
    ]) {
      await raw.publish('telemed:bus:y', junk);
      await raw.publish('telemed:bus:x', junk);
    }
    expect(await x.request('y', 'add', { a: 1, b: 1 }, sum)).toEqual({ sum: 2, from: 'x' });
  });

  it('fails a request with its refusal when the answer comes before Redis acknowledged the request', async () => {
    // Redis acknowledges a publish on one connection and delivers the answer on another: under
    // load the answer can come first. A refusal then was an unhandled rejection that ended the
    // node (a test cluster's node crashed so, mid-consult).
    const seen = await connectRedis(redis.url, logger);
    const answered = new Promise<void>((resolve) => {
      void seen.subscribe('telemed:bus:z', (m) => {
        if (m.includes('"response"')) resolve();
      });
    });
    const raw = await connectRedis(redis.url, logger);
    // z's publishes are acknowledged only once its answer is on z's channel, and a beat later.
    const late = new Proxy(raw, {
      get(target, prop) {
        if (prop === 'publish') {
          return async (...args: Parameters<Redis['publish']>) => {
            const n = await target.publish(...args);
            await answered;
            await new Promise((r) => setTimeout(r, 50));
            return n;
          };
        }
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const z3 = await ClusterBus.create(late, 'z', logger);
    try {
      await expect(z3.request('y', 'refuse', {}, sum)).rejects.toMatchObject({
        code: 'forbidden',
      });
    } finally {
      await z3.close();
      seen.destroy();
      raw.destroy();
    }
  });

  it('answers a burst of 200 concurrent requests, each with its own answer', async () => {
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) => x.request('y', 'add', { a: i, b: 1 }, sum)),
    );
    expect(answers.map((a) => a.sum)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
  });
});
