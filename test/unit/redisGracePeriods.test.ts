/**
 * Grace periods of dropped seats: in memory (one node) and in a real Redis shared by two
 * nodes, where each expired one is ended by exactly one node, a cancelled one by none, and
 * one whose node failed to end it is handed to another.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryGracePeriods, type SeatRef } from '../../src/app/gracePeriods.js';
import { RedisGracePeriods } from '../../src/cluster/RedisGracePeriods.js';
import { connectRedis, type Redis } from '../../src/cluster/redis.js';
import { createLogger } from '../../src/logger.js';
import { startRedis, type TestRedis } from '../support/cluster.js';
import { sleep, timeUntil } from '../support/wait.js';

const logger = createLogger('silent');
let server: TestRedis;
let clients: Redis[];
let seq = 0;
const seat = (): SeatRef => ({ consultId: `consult-${++seq}`, seatId: `seat-${seq}` });

beforeAll(async () => {
  server = await startRedis();
  clients = await Promise.all([connectRedis(server.url, logger), connectRedis(server.url, logger)]);
}, 20_000);

afterAll(async () => {
  for (const c of clients ?? []) c.destroy();
  await server?.stop();
});

/** Two nodes' grace periods; polled by hand only unless `pollMs` is given. */
function twoNodes(opts: { pollMs?: number; leaseMs?: number } = {}) {
  const nodes = clients.map(
    (c) => new RedisGracePeriods(c, logger, { pollMs: opts.pollMs ?? 3600_000, ...opts }),
  ) as [RedisGracePeriods, RedisGracePeriods];
  return nodes;
}

describe('MemoryGracePeriods', () => {
  it('expires a seat once unless it is cancelled in time', async () => {
    const grace = new MemoryGracePeriods();
    const expired: SeatRef[] = [];
    grace.onExpired((s) => void expired.push(s));
    const [kept, left] = [seat(), seat()];
    await grace.start(kept, 50);
    await grace.start(left, 50);
    expect(await grace.cancel(kept)).toBe(true);
    await timeUntil(() => expired.length === 1, 2000, 'expiry');
    expect(expired).toEqual([left]);
    expect(await grace.cancel(left)).toBe(false);
    grace.close();
  });
});

describe('RedisGracePeriods', () => {
  it('ends each expired seat on exactly one of the nodes that poll', async () => {
    const [a, b] = twoNodes({ pollMs: 20 });
    const ended: string[] = [];
    a.onExpired((s) => void ended.push(`a:${s.seatId}`));
    b.onExpired((s) => void ended.push(`b:${s.seatId}`));
    const seats = Array.from({ length: 20 }, seat);
    await Promise.all(seats.map((s, i) => (i % 2 ? b : a).start(s, 100)));
    await timeUntil(() => ended.length >= seats.length, 5000, 'every seat ended');
    await sleep(200); // a few more polls of both: nothing is ended twice
    expect(ended.map((e) => e.slice(2)).sort()).toEqual(seats.map((s) => s.seatId).sort());
    a.close();
    b.close();
  });

  it('does not end a seat taken back on the other node in time', async () => {
    const [a, b] = twoNodes();
    const ended: SeatRef[] = [];
    a.onExpired((s) => void ended.push(s));
    const s = seat();
    await a.start(s, 100);
    expect(await b.cancel(s)).toBe(true);
    await sleep(150);
    await a.poll();
    expect(ended).toEqual([]);
    expect(await b.cancel(s)).toBe(false);
  });

  it('hands a seat to another node when the node that claimed it did not end it', async () => {
    const [a, b] = twoNodes({ leaseMs: 1500 });
    a.onExpired(() => {
      throw new Error('this node failed to end it');
    });
    const s = seat();
    await a.start(s, 50);
    await sleep(80);
    await a.poll();
    const ended: SeatRef[] = [];
    b.onExpired((x) => void ended.push(x));
    await b.poll();
    expect(ended).toEqual([]); // still a's, under its lease
    await timeUntil(
      async () => {
        await b.poll();
        return ended.length > 0;
      },
      5000,
      'the lease ran out',
    );
    expect(ended).toEqual([s]);
    // Once ended, it is gone: nobody gets it again.
    await sleep(1600);
    await b.poll();
    expect(ended).toEqual([s]);
  });

  it('a seat released again restarts its grace period', async () => {
    const [a] = twoNodes();
    const ended: SeatRef[] = [];
    a.onExpired((x) => void ended.push(x));
    const s = seat();
    await a.start(s, 100);
    await a.start(s, 2000);
    await sleep(150);
    await a.poll();
    expect(ended).toEqual([]);
    await timeUntil(
      async () => {
        await a.poll();
        return ended.length > 0;
      },
      5000,
      'the new grace period expired',
    );
    expect(ended).toEqual([s]);
  });
});
