/**
 * The cluster's rate limits and login throttle against a real redis-server: two instances
 * (two nodes) on one Redis share every limit, concurrent checks cannot pass the last token
 * together, and with Redis gone each node falls back to limits of its own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoginLimits } from '../../src/auth/throttle.js';
import { RedisLoginThrottle } from '../../src/cluster/RedisLoginThrottle.js';
import { RedisRateLimits } from '../../src/cluster/RedisRateLimits.js';
import { connectRedis, type Redis } from '../../src/cluster/redis.js';
import { createLogger } from '../../src/logger.js';
import { MemoryRateLimits } from '../../src/signalling/rateLimit.js';
import { startRedis, type TestRedis } from '../support/cluster.js';
import { sleep, timeUntil } from '../support/wait.js';

const logger = createLogger('silent');
let server: TestRedis;
let clients: Redis[];
let seq = 0;
const key = (what: string) => `${what}-${++seq}`;

beforeAll(async () => {
  server = await startRedis();
  clients = await Promise.all([connectRedis(server.url, logger), connectRedis(server.url, logger)]);
}, 20_000);

afterAll(async () => {
  for (const c of clients ?? []) c.destroy();
  await server?.stop();
});

/** Two nodes' limiters: each on its own connection, with its own memory fallback. */
const twoNodes = () =>
  clients.map((c) => new RedisRateLimits(c, new MemoryRateLimits(), logger)) as [
    RedisRateLimits,
    RedisRateLimits,
  ];

describe('RedisRateLimits', () => {
  it('shares one token bucket between nodes: half the takes on each, the burst holds', async () => {
    const [a, b] = twoNodes();
    const k = key('bucket');
    const rate = { perSecond: 0.01, burst: 4 };
    const results = [];
    for (let i = 0; i < 8; i++) results.push(await (i % 2 ? b : a).take(k, rate));
    expect(results.map((r) => r.ok)).toEqual([true, true, true, true, false, false, false, false]);
    // One token back at 0.01/s takes 100 s.
    expect(results[7]!.waitSeconds).toBe(100);
  });

  it('lets no two concurrent takes pass the last token together', async () => {
    const [a, b] = twoNodes();
    const k = key('race');
    const rate = { perSecond: 0.01, burst: 10 };
    const all = await Promise.all(
      Array.from({ length: 60 }, (_, i) => (i % 2 ? b : a).take(k, rate)),
    );
    expect(all.filter((r) => r.ok)).toHaveLength(10);
  });

  it('refills at its rate, up to its burst', async () => {
    const [a, b] = twoNodes();
    const k = key('refill');
    // One token per 500 ms: the takes between two sleeps are far quicker than that.
    const rate = { perSecond: 2, burst: 2 };
    expect((await a.take(k, rate)).ok).toBe(true);
    expect((await b.take(k, rate)).ok).toBe(true);
    expect((await a.take(k, rate)).ok).toBe(false);
    await sleep(1100); // 2.2 tokens' worth, capped at the burst of 2
    const after = [await b.take(k, rate), await a.take(k, rate), await b.take(k, rate)];
    expect(after.map((r) => r.ok)).toEqual([true, true, false]);
  });

  it('counts fixed windows across nodes; a refused request counts nothing', async () => {
    const [a, b] = twoNodes();
    const k = key('window');
    const limits = [3, 1000];
    expect((await a.count(k, 60_000, [1, 400], limits)).ok).toBe(true);
    expect((await b.count(k, 60_000, [1, 400], limits)).ok).toBe(true);
    // A third 400 would pass the bytes: refused, with the window's remaining time.
    const refused = await a.count(k, 60_000, [1, 400], limits);
    expect(refused.ok).toBe(false);
    expect(refused.waitSeconds).toBeGreaterThan(50);
    expect((await b.count(k, 60_000, [1, 200], limits)).ok).toBe(true);
    // Three requests now: the fourth is refused whatever its size.
    expect((await a.count(k, 60_000, [1, 0], limits)).ok).toBe(false);
  });

  it('starts a new window when the old one has passed', async () => {
    const [a, b] = twoNodes();
    const k = key('expire');
    expect((await a.count(k, 200, [1], [1])).ok).toBe(true);
    expect((await b.count(k, 200, [1], [1])).ok).toBe(false);
    await timeUntil(async () => (await b.count(k, 200, [1], [1])).ok, 5000, 'a new window');
  });
});

const loginLimits: LoginLimits = {
  failuresPerAccountAddress: 3,
  failuresPerAddress: 5,
  accountSlowdownFailures: 50,
  windowMs: 60_000,
  maxConcurrentChecks: 2,
  maxConcurrentChecksPerAccount: 1,
};

const throttles = (limits = loginLimits) =>
  clients.map((c) => new RedisLoginThrottle(c, limits, logger)) as [
    RedisLoginThrottle,
    RedisLoginThrottle,
  ];

/** One failed login on `node`: its refusal reason, or 'checked'. */
async function fail(node: RedisLoginThrottle, account: string, ip: string) {
  const attempt = await node.reserve(account, ip);
  if (!attempt.ok) return attempt.reason;
  attempt.finish(false);
  return 'checked';
}

describe('RedisLoginThrottle', () => {
  it('counts an address’s failures on an account on every node', async () => {
    const [a, b] = throttles();
    const account = `${key('acct')}@test.local`;
    const tries = [];
    for (let i = 0; i < 4; i++) tries.push(await fail(i % 2 ? b : a, account, '203.0.113.7'));
    expect(tries).toEqual(['checked', 'checked', 'checked', 'account']);
    // Another address still gets its own tries on the account.
    expect(await fail(b, account, '203.0.113.8')).toBe('checked');
  });

  it('blocks an address that failed on many accounts, across nodes', async () => {
    const [a, b] = throttles();
    const ip = '198.51.100.9';
    const seen = [];
    for (let i = 0; i < 6; i++) seen.push(await fail(i % 2 ? b : a, `${key('many')}@x`, ip));
    expect(seen).toEqual(['checked', 'checked', 'checked', 'checked', 'checked', 'address']);
    const refused = await a.reserve(`${key('other')}@x`, ip);
    expect(refused).toMatchObject({ ok: false, reason: 'address' });
    expect((refused as { retryAfter: number }).retryAfter).toBeGreaterThan(50);
  });

  it('forgives an address its failures on an account once it logs in there', async () => {
    const [a, b] = throttles({ ...loginLimits, failuresPerAddress: 20 });
    const account = `${key('forgive')}@test.local`;
    const ip = '192.0.2.44';
    expect([await fail(a, account, ip), await fail(b, account, ip)]).toEqual([
      'checked',
      'checked',
    ]);
    const ok = await a.reserve(account, ip);
    expect(ok.ok).toBe(true);
    if (ok.ok) ok.finish(true);
    // The refund is one script away: the next attempts see it.
    await timeUntil(
      async () => {
        const probe = await b.reserve(account, ip);
        if (!probe.ok) return false;
        probe.finish(true);
        return true;
      },
      2000,
      'refund',
    );
    const again = [];
    for (let i = 0; i < 4; i++) again.push(await fail(i % 2 ? a : b, account, ip));
    expect(again).toEqual(['checked', 'checked', 'checked', 'account']);
  });

  it('keeps the running password checks per node', async () => {
    const [a, b] = throttles();
    const first = await a.reserve(`${key('busy')}@x`, '192.0.2.1');
    const second = await a.reserve(`${key('busy')}@x`, '192.0.2.2');
    expect([first.ok, second.ok]).toEqual([true, true]);
    expect(await a.reserve(`${key('busy')}@x`, '192.0.2.3')).toMatchObject({ reason: 'busy' });
    // The other node's threads are its own.
    const elsewhere = await b.reserve(`${key('busy')}@x`, '192.0.2.3');
    expect(elsewhere.ok).toBe(true);
    for (const x of [first, second, elsewhere]) if (x.ok) x.finish(true);
    expect(a.running).toBe(0);
  });
});

describe('with Redis gone', () => {
  it('each node falls back to limits of its own: nobody locked out, nothing unbounded', async () => {
    const [a] = twoNodes();
    const [la] = throttles();
    await server.stop();
    await timeUntil(() => !clients[0]!.isReady, 5000, 'the client sees Redis gone');
    const rate = { perSecond: 0.01, burst: 2 };
    const k = key('down');
    const taken = [await a.take(k, rate), await a.take(k, rate), await a.take(k, rate)];
    expect(taken.map((t) => t.ok)).toEqual([true, true, false]);
    const account = `${key('down')}@test.local`;
    const tries = [];
    for (let i = 0; i < 4; i++) tries.push(await fail(la, account, '203.0.113.99'));
    expect(tries).toEqual(['checked', 'checked', 'checked', 'account']);
  });
});
