/**
 * Three gateway nodes (separate processes) on one Redis: each lists the others, a Socket.IO
 * broadcast on one node reaches sockets on the others, a SIGKILLed node is reported dead
 * after the configured silence and a stopped one leaves the list.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeStatus } from '../../src/cluster/NodeRegistry.js';
import { loadConfig } from '../../src/config.js';
import { createServices, type Services } from '../../src/gateway.js';
import { createLogger } from '../../src/logger.js';
import type { JoinResponse } from '../../src/protocol/index.js';
import { connectClient, type TestClient } from '../support/client.js';
import {
  startClusterNode,
  startRedis,
  type ClusterNodeProcess,
  type TestRedis,
} from '../support/cluster.js';
import { TEST_PASSWORD, TEST_SECRET } from '../support/gateway.js';
import { timeUntil } from '../support/wait.js';
import { scheduledConsult } from '../support/consultRow.js';

const DEAD_AFTER_S = 3;
let redis: TestRedis;
let nodes: ClusterNodeProcess[];
let services: Services;
let sharedDir: string;
const clients: TestClient[] = [];
/** The broadcast test's three participants, one per node, reused after the Redis restart. */
let joined: { onA: TestClient; onB: TestClient; onC: TestClient } | undefined;

beforeAll(async () => {
  redis = await startRedis();
  // One database for the three nodes (SQLite on one machine; PostgreSQL in a real cluster).
  sharedDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-cluster-'));
  const env = {
    DATA_DIR: sharedDir,
    JWT_SECRET: TEST_SECRET,
    SCRYPT_COST: '1024',
    LOG_LEVEL: 'silent',
  };
  services = await createServices(loadConfig(env), createLogger('silent'));
  const nodeEnv = {
    DATABASE_PATH: path.join(sharedDir, 'gateway.db'),
    NODE_DEAD_AFTER_SECONDS: String(DEAD_AFTER_S),
  };
  nodes = await Promise.all(['a', 'b', 'c'].map((id) => startClusterNode(id, redis.url, nodeEnv)));
}, 150_000);

afterAll(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all((nodes ?? []).map((n) => n.stop()));
  await services?.store.close();
  await redis?.stop();
  if (sharedDir) fs.rmSync(sharedDir, { recursive: true, force: true });
}, 60_000);

const listOn = (node: ClusterNodeProcess) => node.call<NodeStatus[]>('nodes');

describe('a three-node cluster', () => {
  it('lists every node, alive, with its URL, media addresses and load, on every node', async () => {
    for (const node of nodes) {
      const list = await listOn(node);
      expect(list.map((n) => [n.id, n.alive, n.state])).toEqual([
        ['a', true, 'up'],
        ['b', true, 'up'],
        ['c', true, 'up'],
      ]);
      for (const n of list) {
        const proc = nodes.find((p) => p.nodeId === n.id)!;
        expect(n.url).toBe(proc.url.replace('127.0.0.1', 'localhost'));
        expect(n.media.pipeIp).toBe('127.0.0.1');
        expect(n.media.pipePorts).toEqual([42000, 42999]);
        expect(n.load.workers).toBe(1);
        expect(n.silentMs).toBeLessThanOrEqual(DEAD_AFTER_S * 1000);
      }
    }
  });

  it("shows this node and the cluster's view of every node in the /healthz detail", async () => {
    const res = await fetch(`${nodes[1]!.url}/healthz`);
    const body = (await res.json()) as {
      cluster: { node: string; redis: string; nodes: { id: string; alive: boolean }[] };
    };
    expect(body.cluster).toMatchObject({ node: 'b', state: 'up', redis: 'up' });
    expect(body.cluster.nodes.map((n) => [n.id, n.alive])).toEqual([
      ['a', true],
      ['b', true],
      ['c', true],
    ]);
  });

  it('serves a flood of page loads with every live node in their CSP, reading the registry a few times, not once a page', async () => {
    const stats = createClient({ url: redis.url });
    await stats.connect();
    /** Script calls Redis has run (the registry's reads and heartbeats are scripts). */
    const scripts = async () => {
      const info = await stats.info('commandstats');
      return [...info.matchAll(/cmdstat_(?:eval|evalsha):calls=(\d+)/g)].reduce(
        (sum, m) => sum + Number(m[1]),
        0,
      );
    };
    try {
      const before = await scripts();
      const started = Date.now();
      const pages = await Promise.all(
        Array.from({ length: 400 }, () =>
          fetch(`${nodes[0]!.url}/consult`, { headers: { accept: 'text/html' } }),
        ),
      );
      const tookMs = Date.now() - started;
      const read = (await scripts()) - before;
      for (const page of pages) {
        expect(page.status).toBe(200);
        const csp = page.headers.get('content-security-policy') ?? '';
        // Each node as it registered (localhost here), by its port.
        for (const node of nodes) {
          expect(csp).toMatch(
            new RegExp(`connect-src [^;]*http://[^ ;]+:${new URL(node.url).port}\\b`),
          );
        }
        await page.arrayBuffer();
      }
      console.log(`400 page loads in ${tookMs} ms: ${read} registry scripts run meanwhile`);
      // One read a page would be 400 on top of the nodes' own heartbeats and watches (a few a
      // second); one read a quarter second for the flood, far fewer.
      expect(read).toBeLessThan(pages.length / 2);
    } finally {
      await stats.quit();
    }
  });

  it('delivers a broadcast on one node to sockets connected to the others', async () => {
    const host = await services.auth.createUser(
      { role: 'doctor', name: 'Dr. Host', email: 'host@test.local', password: TEST_PASSWORD },
      null,
      null,
    );
    const admins = await Promise.all(
      ['b', 'c'].map((id) =>
        services.auth.createUser(
          {
            role: 'admin',
            name: `Admin ${id}`,
            email: `admin.${id}@test.local`,
            password: TEST_PASSWORD,
          },
          null,
          null,
        ),
      ),
    );
    const now = Date.now();
    const consultId = `cluster-${now}`;
    await services.store.consults.insert(
      scheduledConsult(consultId, host.id, { title: 'Split consult', patientRef: 'P-CLUSTER' }),
    );
    const grant = async (userId: string) =>
      (await services.consults.mintOperatorGrant(consultId, userId)).token;
    const join = async (node: ClusterNodeProcess, userId: string) => {
      const client = await connectClient(node.url, await grant(userId));
      clients.push(client);
      await client.call<JoinResponse>('join', { consultId });
      return client;
    };
    const onA = await join(nodes[0]!, host.id);
    const peerJoined = onA.next<{ displayName: string }>('peerJoined');
    const onB = await join(nodes[1]!, admins[0]!.id);
    // B's announcement of its new participant reaches the host on A.
    expect((await peerJoined).displayName).toBe('Admin b');
    const onC = await join(nodes[2]!, admins[1]!.id);

    const atB = onB.next<{ text: string }>('chatMessage');
    const atC = onC.next<{ text: string }>('chatMessage');
    await onA.call('chatMessage', { text: 'sent on node a' });
    expect((await atB).text).toBe('sent on node a');
    expect((await atC).text).toBe('sent on node a');
    joined = { onA, onB, onC };
  });

  it("reports the cluster's totals at /metrics?scope=cluster, and each node's own part, without naming a consult", async () => {
    const scrape = async (node: ClusterNodeProcess, query = '') =>
      (await fetch(`${node.url}/metrics${query}`)).text();
    const value = (text: string, series: string) => {
      const escaped = series.replace(/[{}]/g, (c) => `\\${c}`);
      return Number(new RegExp(`^${escaped} (\\S+)$`, 'm').exec(text)?.[1]);
    };
    // Each node reports its load with its heartbeat (every second here): the three joins show.
    let totals = '';
    await timeUntil(
      async () => {
        totals = await scrape(nodes[1]!, '?scope=cluster');
        return value(totals, 'gateway_cluster_peers') === 3;
      },
      DEAD_AFTER_S * 1000 * 3,
      'three peers in the cluster totals',
    );
    expect(value(totals, 'gateway_cluster_registry_up')).toBe(1);
    expect(value(totals, 'gateway_cluster_nodes{state="up"}')).toBe(3);
    expect(value(totals, 'gateway_cluster_nodes{state="dead"}')).toBe(0);
    expect(value(totals, 'gateway_cluster_workers')).toBe(3);
    // One consult, one room on each node it spans.
    expect(value(totals, 'gateway_cluster_consults')).toBe(3);
    for (const id of ['a', 'b', 'c']) {
      expect(value(totals, `gateway_cluster_node_peers{node="${id}"}`)).toBe(1);
      expect(value(totals, `gateway_cluster_node_silent_seconds{node="${id}"}`)).toBeLessThan(
        DEAD_AFTER_S,
      );
    }
    const own = await scrape(nodes[0]!);
    expect(value(own, 'gateway_redis_up{node="a"}')).toBe(1);
    expect(value(own, 'gateway_node_draining{node="a"}')).toBe(0);
    expect(value(own, 'gateway_pipe_links{node="a"}')).toBe(0);
    expect(value(own, 'gateway_peers')).toBe(1);
    // Counts and node names only: no consult id, title, patient reference or person.
    for (const text of [totals, own]) {
      expect(text).not.toMatch(/cluster-\d|Split consult|P-CLUSTER|Dr\. Host|Admin [bc]|@test/);
    }
  });

  it('recovers from a Redis restart that lost everything: nodes listed again, broadcasts cross again', async () => {
    const { onA, onB, onC } = joined!;
    await redis.restart();
    const restartedAt = Date.now();
    const took = await timeUntil(
      // (`unavailable` until a's connection is back)
      async () => (await listOn(nodes[0]!).catch(() => [])).filter((n) => n.alive).length === 3,
      DEAD_AFTER_S * 1000 * 3,
      'all three nodes listed again',
    );
    // The sockets stayed connected to their nodes; the adapter's stream is new.
    const atB = onB.next<{ text: string }>('chatMessage');
    const atC = onC.next<{ text: string }>('chatMessage');
    await onA.call('chatMessage', { text: 'after the restart' });
    expect((await atB).text).toBe('after the restart');
    expect((await atC).text).toBe('after the restart');
    console.log(
      `after a Redis restart: nodes listed again in ${took} ms, a broadcast crossed ${Date.now() - restartedAt} ms after it`,
    );
    for (const c of clients.splice(0)) c.close();
  });

  it('reports a SIGKILLed node dead once it has been silent for NODE_DEAD_AFTER_SECONDS', async () => {
    const [a, , c] = nodes as [ClusterNodeProcess, ClusterNodeProcess, ClusterNodeProcess];
    const before = (await listOn(a)).find((n) => n.id === 'c')!;
    expect(before.alive).toBe(true);
    await c.crash();
    const killedAt = Date.now();
    let dead: NodeStatus | undefined;
    const took = await timeUntil(
      async () => {
        dead = (await listOn(a)).find((n) => n.id === 'c' && !n.alive);
        return dead !== undefined;
      },
      DEAD_AFTER_S * 1000 * 3,
      'node c reported dead',
    );
    // Dead only after a full silence since its last beat, which came before the kill. (Not
    // "at least two thirds of the limit after the kill": a starved node beats late, so its
    // last beat may be older than a third of the limit when it is killed.)
    expect(dead!.silentMs).toBeGreaterThan(DEAD_AFTER_S * 1000);
    expect(dead!.lastSeen).toBeLessThanOrEqual(killedAt + 50);
    expect(dead!.lastSeen).toBeGreaterThanOrEqual(before.lastSeen);
    console.log(`node c reported dead ${took} ms after SIGKILL (limit ${DEAD_AFTER_S} s)`);
    // The survivors are still alive.
    expect((await listOn(a)).filter((n) => n.alive).map((n) => n.id)).toEqual(['a', 'b']);
    const totals = await (await fetch(`${a.url}/metrics?scope=cluster`)).text();
    expect(totals).toMatch(/^gateway_cluster_nodes\{state="dead"\} 1$/m);
    expect(totals).toMatch(/^gateway_cluster_nodes\{state="up"\} 2$/m);
    expect(totals).toMatch(/^gateway_cluster_workers 2$/m);
    expect(totals).not.toMatch(/^gateway_cluster_node_peers\{node="c"\}/m);
  });

  it('drops a cleanly stopped node from the list instead of reporting it dead', async () => {
    const [a, b] = nodes as [ClusterNodeProcess, ClusterNodeProcess];
    await b.stop();
    const list = await listOn(a);
    expect(list.find((n) => n.id === 'b')).toBeUndefined();
  });
});
