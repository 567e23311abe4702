/**
 * Two gateway nodes (separate processes, test/support/clusterNode.ts) on one Redis and one
 * database, with this process's services on the same database to make accounts and consults.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config.js';
import { createServices, type Services } from '../../src/gateway.js';
import { createLogger } from '../../src/logger.js';
import type { JoinResponse } from '../../src/protocol/index.js';
import type { User } from '../../src/store/repositories.js';
import { connectClient, type TestClient } from './client.js';
import {
  startClusterNode,
  startRedis,
  type ClusterNodeProcess,
  type TestRedis,
} from './cluster.js';
import { TEST_PASSWORD, TEST_SECRET } from './gateway.js';
import { createTestDatabase } from './postgres.js';
import { scheduledConsult } from './consultRow.js';

export interface TwoNodes {
  a: ClusterNodeProcess;
  b: ClusterNodeProcess;
  redis: TestRedis;
  services: Services;
  /** Starts a node of this cluster (e.g. `a` again after it stopped) with the same settings. */
  startNode(id: string): Promise<ClusterNodeProcess>;
  user(role: 'doctor' | 'admin', name: string): Promise<User>;
  /** A consult whose lobby is open now, hosted by `host`, `specialists` invited; returns its id. */
  consultHostedBy(host: User, specialists?: User[]): Promise<string>;
  connect(node: ClusterNodeProcess, token: string): Promise<TestClient>;
  /** Joins on `node` with an operator grant (the host, or an admin: no lobby). */
  join(node: ClusterNodeProcess, consultId: string, u: User): Promise<TestClient>;
  stop(): Promise<void>;
}

/**
 * Starts Redis, a throw-away PostgreSQL database (as a cluster runs: DATABASE_URL) and nodes
 * `a` and `b` with `env` added to their settings.
 */
export async function startTwoNodes(env: Record<string, string> = {}): Promise<TwoNodes> {
  const redis = await startRedis();
  const sharedDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-two-nodes-'));
  const database = await createTestDatabase();
  const nodeEnv = { DATABASE_URL: database.url, ...env };
  const services = await createServices(
    loadConfig({
      DATA_DIR: sharedDir,
      JWT_SECRET: TEST_SECRET,
      SCRYPT_COST: '1024',
      LOG_LEVEL: 'silent',
      ...nodeEnv,
    }),
    createLogger('silent'),
  );
  const startNode = (id: string) => startClusterNode(id, redis.url, nodeEnv);
  const [a, b] = await Promise.all([startNode('a'), startNode('b')]);
  const clients: TestClient[] = [];
  let seq = 0;
  const cluster: TwoNodes = {
    a,
    b,
    redis,
    services,
    startNode,
    user: (role, name) =>
      services.auth.createUser(
        {
          role,
          name,
          email: `${name.replace(/\W+/g, '.').toLowerCase()}.${++seq}@test.local`,
          password: TEST_PASSWORD,
        },
        null,
        null,
      ),
    async consultHostedBy(host, specialists = []) {
      const now = Date.now();
      const id = `split-${++seq}-${now}`;
      await services.store.consults.insert(
        scheduledConsult(id, host.id, {
          title: 'Split consult',
          patientRef: 'P-SPLIT',
          specialistIds: specialists.map((u) => u.id),
        }),
      );
      return id;
    },
    async connect(node, token) {
      const client = await connectClient(node.url, token);
      clients.push(client);
      return client;
    },
    async join(node, consultId, u) {
      const grant = await services.consults.mintOperatorGrant(consultId, u.id);
      const client = await cluster.connect(node, grant.token);
      await client.call<JoinResponse>('join', { consultId });
      return client;
    },
    async stop() {
      for (const c of clients.splice(0)) c.close();
      await Promise.all([cluster.a.stop(), cluster.b.stop()]);
      await services.store.close();
      await redis.stop();
      await database.drop();
      fs.rmSync(sharedDir, { recursive: true, force: true });
    },
  };
  return cluster;
}

/** Resolves when the client's socket is (or gets) disconnected. */
export const disconnected = (c: TestClient) =>
  new Promise<void>((resolve) => {
    if (c.socket.disconnected) resolve();
    else c.socket.once('disconnect', () => resolve());
  });
