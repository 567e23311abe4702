/**
 * The cluster's lobby in a real Redis, as two nodes share it: one entry per identity, an
 * admission seen from the other node, one winner when two hosts admit (or deny) at once, the
 * denied guest's cooldown, and nothing left after the consult ends.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedis, type Redis } from '../../src/cluster/redis.js';
import { RedisLobby } from '../../src/cluster/RedisLobby.js';
import type { LobbyEntry } from '../../src/consults/Lobby.js';
import { createLogger } from '../../src/logger.js';
import { startRedis, type TestRedis } from '../support/cluster.js';

let redis: TestRedis;
const clients: Redis[] = [];
let now = 1_000;

/** A lobby as one node sees it (its own Redis connection). */
async function node(): Promise<RedisLobby> {
  const client = await connectRedis(redis.url, createLogger('silent', 'test'));
  clients.push(client);
  const lobby = new RedisLobby(300_000, () => now);
  lobby.use(client);
  return lobby;
}

const entry = (userId: string, socketId: string, extra: Partial<LobbyEntry> = {}): LobbyEntry => ({
  peerId: `peer-${socketId}`,
  userId,
  displayName: 'Pat Guest',
  role: 'guest',
  socketId,
  since: 0,
  ...extra,
});

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  for (const c of clients) c.destroy();
  await redis?.stop();
});

describe('RedisLobby', () => {
  it('shares one entry per identity between nodes, and an admission', async () => {
    const [a, b] = [await node(), await node()];
    const waiting: string[] = [];
    b.on('waiting', (_c, e) => waiting.push(e.peerId));
    await b.add('c1', entry('guest:1', 's1', { since: 10, redeemedAt: 5 }));
    const { entry: merged, replaced } = await b.add('c1', entry('guest:1', 's2', { since: 20 }));
    expect(replaced?.socketId).toBe('s1');
    expect(merged).toMatchObject({ peerId: 'peer-s1', socketId: 's2', since: 10 });
    expect(await a.list('c1')).toEqual([merged]);
    expect(waiting).toEqual(['peer-s1']);

    expect(await a.admit('c1', 'peer-s1')).toMatchObject({ userId: 'guest:1', socketId: 's2' });
    expect(await b.admittedPeerId('c1', 'guest:1')).toBe('peer-s1');
    expect(await b.list('c1')).toEqual([]);
    await a.revokeAdmission('c1', 'guest:1');
    expect(await b.admittedPeerId('c1', 'guest:1')).toBeUndefined();
  });

  it('lets exactly one of two simultaneous admits or denies take the entry', async () => {
    const [a, b] = [await node(), await node()];
    await a.add('c2', entry('guest:2', 's3'));
    const results = await Promise.all([a.admit('c2', 'peer-s3'), b.deny('c2', 'peer-s3', 'no')]);
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await a.list('c2')).toEqual([]);
  });

  it('keeps a denied guest out for the cooldown, on every node, and forgets the consult at its end', async () => {
    const [a, b] = [await node(), await node()];
    await a.add('c3', entry('guest:3', 's4'));
    await b.deny('c3', 'peer-s4', 'not now');
    expect(await a.deniedFor('c3', 'guest:3')).toBe(300_000);
    now += 300_000;
    expect(await a.deniedFor('c3', 'guest:3')).toBe(0);
    await a.add('c3', entry('guest:4', 's5'));
    await a.clear('c3');
    expect(await b.list('c3')).toEqual([]);
  });
});
