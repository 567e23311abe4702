/** The node registry on a real Redis: events a failover would act on, and entries it cannot trust. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeRegistry, type NodeInfo } from '../../src/cluster/NodeRegistry.js';
import { connectRedis, type Redis } from '../../src/cluster/redis.js';
import { createLogger } from '../../src/logger.js';
import { startRedis, type TestRedis } from '../support/cluster.js';
import { timeUntil } from '../support/wait.js';

const logger = createLogger('silent');
const DEAD_AFTER_MS = 600;
let redis: TestRedis;
let conn: Redis;

beforeAll(async () => {
  redis = await startRedis();
  conn = await connectRedis(redis.url, logger);
});

afterAll(async () => {
  conn?.destroy();
  await redis?.stop();
});

const info = (id: string): NodeInfo => ({
  id,
  url: `http://${id}.test`,
  startedAt: 0,
  state: 'up',
  media: {
    rtcIp: '127.0.0.1',
    rtcPorts: [40000, 40000],
    pipeIp: '127.0.0.1',
    pipePorts: [42000, 42999],
  },
  load: { workers: 1, consults: 0, peers: 0, producers: 0, consumers: 0 },
});

describe('the node registry', () => {
  it('tells a watcher when a node comes up, goes silent (down) and when one leaves cleanly', async () => {
    const events: string[] = [];
    const watcher = new NodeRegistry({
      redis: conn,
      deadAfterMs: DEAD_AFTER_MS,
      logger,
      self: () => info('w'),
    });
    watcher.on('nodeUp', (n) => events.push(`up ${n.id}`));
    watcher.on('nodeDown', (id) => events.push(`down ${id}`));
    watcher.on('nodeLeft', (id) => events.push(`left ${id}`));
    const silent = new NodeRegistry({
      redis: conn,
      deadAfterMs: DEAD_AFTER_MS,
      logger,
      self: () => info('s'),
    });
    const leaving = new NodeRegistry({
      redis: conn,
      deadAfterMs: DEAD_AFTER_MS,
      logger,
      self: () => info('l'),
    });
    await silent.start();
    await leaving.start();
    await watcher.start();
    await timeUntil(() => events.includes('up s') && events.includes('up l'), 5000, 'both seen up');

    await silent.stop(false); // stops beating without leaving: as if it died
    await leaving.stop(true);
    await timeUntil(
      () => events.includes('down s') && events.includes('left l'),
      5000,
      'down and left',
    );
    expect(events).not.toContain('down l');
    const listed = await watcher.list();
    expect(listed.map((n) => [n.id, n.alive])).toEqual([
      ['s', false],
      ['w', true],
    ]);
    await watcher.stop(true);
  });

  it('ignores an entry it cannot parse instead of failing the listing', async () => {
    const reader = new NodeRegistry({ redis: conn, deadAfterMs: DEAD_AFTER_MS, logger });
    const good = new NodeRegistry({
      redis: conn,
      deadAfterMs: DEAD_AFTER_MS,
      logger,
      self: () => info('g'),
    });
    await good.start();
    await conn.zAdd('telemed:nodes', { score: Date.now(), value: 'evil' });
    await conn.set('telemed:node:evil', '{"id": 5, "url": []}');
    await conn.zAdd('telemed:nodes', { score: Date.now(), value: 'junk' });
    await conn.set('telemed:node:junk', 'not json');
    const ids = (await reader.list()).map((n) => n.id);
    expect(ids).toContain('g');
    expect(ids).not.toContain('evil');
    expect(ids).not.toContain('junk');
    await good.stop(true);
  });
});
