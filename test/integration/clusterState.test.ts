/**
 * Two gateway nodes (separate processes) on one Redis and one database: what an admin or host
 * does through one node's API reaches the people connected to the other (an invite revoked, a
 * consult ended, an account disabled, a logout), and a node that stops or crashes and restarts
 * ends only the consults nobody else carries on.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createServices, type Services } from '../../src/gateway.js';
import { createLogger } from '../../src/logger.js';
import type { JoinResponse } from '../../src/protocol/index.js';
import type { User } from '../../src/store/repositories.js';
import { connectClient, type TestClient } from '../support/client.js';
import {
  startClusterNode,
  startRedis,
  type ClusterNodeProcess,
  type TestRedis,
} from '../support/cluster.js';
import { TEST_PASSWORD, TEST_SECRET } from '../support/gateway.js';
import { apiClient } from '../support/http.js';
import { createTestDatabase, usePostgres, type TestDatabase } from '../support/postgres.js';
import { timeUntil } from '../support/wait.js';

let redis: TestRedis;
let database: TestDatabase | undefined;
let sharedDir: string;
let dbEnv: Record<string, string>;
let services: Services;
let a: ClusterNodeProcess;
let b: ClusterNodeProcess;
const clients: TestClient[] = [];
let seq = 0;

beforeAll(async () => {
  redis = await startRedis();
  // One database for both nodes and this process: PostgreSQL under test:postgres, else one
  // SQLite file (fine for processes on one machine).
  sharedDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-cluster-state-'));
  database = usePostgres ? await createTestDatabase() : undefined;
  dbEnv = database
    ? { DATABASE_URL: database.url }
    : { DATABASE_PATH: path.join(sharedDir, 'gateway.db') };
  services = await createServices(
    loadConfig({
      DATA_DIR: sharedDir,
      JWT_SECRET: TEST_SECRET,
      SCRYPT_COST: '1024',
      LOG_LEVEL: 'silent',
      ...dbEnv,
    }),
    createLogger('silent'),
  );
  [a, b] = await Promise.all([
    startClusterNode('a', redis.url, dbEnv),
    startClusterNode('b', redis.url, dbEnv),
  ]);
}, 120_000);

afterAll(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all([a?.stop(), b?.stop()]);
  await services?.store.close();
  await redis?.stop();
  await database?.drop();
  if (sharedDir) fs.rmSync(sharedDir, { recursive: true, force: true });
}, 60_000);

const user = (role: 'doctor' | 'admin', name: string) =>
  services.auth.createUser(
    {
      role,
      name,
      email: `${name.replace(/\W+/g, '.').toLowerCase()}.${++seq}@test.local`,
      password: TEST_PASSWORD,
    },
    null,
    null,
  );

async function consultHostedBy(host: User): Promise<string> {
  const now = Date.now();
  const id = `split-${++seq}-${now}`;
  await services.store.consults.insert({
    id,
    title: 'Split consult',
    patientRef: 'P-SPLIT',
    scheduledStart: now - 60_000,
    scheduledEnd: now + 3600_000,
    hostId: host.id,
    specialistIds: [],
    guests: [],
    status: 'scheduled',
    createdBy: host.id,
    createdAt: now,
    updatedAt: now,
    startedAt: null,
    endedAt: null,
    endReason: null,
  });
  return id;
}

async function connect(node: ClusterNodeProcess, token: string): Promise<TestClient> {
  const client = await connectClient(node.url, token);
  clients.push(client);
  return client;
}

/** Joins `consultId` on `node` with an operator grant (the host, or an admin: no lobby). */
async function join(node: ClusterNodeProcess, consultId: string, u: User): Promise<TestClient> {
  const grant = await services.consults.mintOperatorGrant(consultId, u.id);
  const client = await connect(node, grant.token);
  await client.call<JoinResponse>('join', { consultId });
  return client;
}

const disconnected = (c: TestClient) =>
  new Promise<void>((resolve) => {
    if (c.socket.disconnected) resolve();
    else c.socket.once('disconnect', () => resolve());
  });

describe('what one node decides reaches sockets on the other', () => {
  it("revoking an invite through node A's API tells and disconnects its guest on node B", async () => {
    const host = await user('doctor', 'Dr. Revoker');
    const consultId = await consultHostedBy(host);
    await join(a, consultId, host);
    const apiA = apiClient(a.url);
    const hostToken = await apiA.login(host.email, TEST_PASSWORD);
    const invite = await apiA.post(
      `/consults/${consultId}/invites`,
      { guestName: 'Pat Guest' },
      hostToken,
    );
    expect(invite.status).toBe(201);
    const redeemed = await apiClient(b.url).post('/invites/redeem', { token: invite.body.token });
    expect(redeemed.status).toBe(200);
    const guest = await connect(b, redeemed.body.token);
    // The guest waits in node B's lobby: connected to the consult, not yet admitted.
    expect(await guest.call<{ waiting?: boolean }>('join', { consultId })).toMatchObject({
      waiting: true,
    });
    const ended = guest.next<{ reason: string }>('consultEnded');
    const gone = disconnected(guest);
    const del = await apiA.del(
      `/consults/${consultId}/invites/${invite.body.invite.id}`,
      hostToken,
    );
    expect(del.status).toBeLessThan(300);
    expect((await ended).reason).toBe('invite_revoked');
    await gone;
  });

  it("ending a consult through node A's API ends it for its participants on node B", async () => {
    const host = await user('doctor', 'Dr. Ender');
    const admin = await user('admin', 'Admin Onb');
    const consultId = await consultHostedBy(host);
    await join(a, consultId, host);
    const onB = await join(b, consultId, admin);
    const ended = onB.next<{ reason: string }>('consultEnded');
    const gone = disconnected(onB);
    const res = await apiClient(a.url).post(
      `/consults/${consultId}/end`,
      undefined,
      await apiClient(a.url).login(host.email, TEST_PASSWORD),
    );
    expect(res.status).toBe(200);
    expect((await ended).reason).toBe('ended_by_host');
    await gone;
  });

  it('disabling an account on node A disconnects its socket on node B', async () => {
    const host = await user('doctor', 'Dr. Host');
    const admin = await user('admin', 'Admin Boss');
    const target = await user('admin', 'Admin Target');
    const consultId = await consultHostedBy(host);
    await join(a, consultId, host);
    const onB = await join(b, consultId, target);
    const ended = onB.next<{ reason: string }>('consultEnded');
    const gone = disconnected(onB);
    const apiA = apiClient(a.url);
    const res = await apiA.patch(
      `/users/${target.id}`,
      { disabled: true },
      await apiA.login(admin.email, TEST_PASSWORD),
    );
    expect(res.status).toBe(200);
    expect((await ended).reason).toBe('access_revoked');
    await gone;
  });

  it('logging out on node A ends that login on node B: its socket closes, its token is refused', async () => {
    const host = await user('doctor', 'Dr. Leaver');
    const consultId = await consultHostedBy(host);
    const apiA = apiClient(a.url);
    const apiB = apiClient(b.url);
    const login = await apiA.request<{ accessToken: string; refreshToken: string }>(
      'POST',
      '/auth/login',
      { body: { email: host.email, password: TEST_PASSWORD } },
    );
    const token = login.body.accessToken;
    const grant = await apiB.post<{ token: string }>(
      `/consults/${consultId}/join`,
      undefined,
      token,
    );
    expect(grant.status).toBe(200);
    const onB = await connect(b, grant.body.token);
    await onB.call('join', { consultId });
    expect((await apiB.get('/auth/me', token)).status).toBe(200);
    const ended = onB.next<{ reason: string }>('consultEnded');
    const out = await apiA.post('/auth/logout', { refreshToken: login.body.refreshToken }, token);
    expect(out.status).toBeLessThan(300);
    expect((await ended).reason).toBe('access_revoked');
    // Node B learnt the ended login itself, not only within its user cache's few seconds.
    expect((await apiB.get('/auth/me', token)).status).toBe(401);
  });
});

describe('a node that stops or crashes', () => {
  it('stopping node A leaves node B’s participants of a shared consult in it, talking', async () => {
    const host = await user('doctor', 'Dr. Stopper');
    const [x, y] = [await user('admin', 'Admin X'), await user('admin', 'Admin Y')];
    const consultId = await consultHostedBy(host);
    await join(a, consultId, host);
    const onB1 = await join(b, consultId, x);
    const onB2 = await join(b, consultId, y);
    await a.stop();
    a = await startClusterNode('a', redis.url, dbEnv);
    // The consult goes on: still live, now node B's, and its room on B still broadcasts.
    const c = await services.consults.find(consultId);
    expect([c?.status, c?.nodeId]).toEqual(['live', 'b']);
    const heard = onB2.next<{ text: string }>('chatMessage');
    await onB1.call('chatMessage', { text: 'still here' });
    expect((await heard).text).toBe('still here');
    expect(onB1.received('consultEnded')).toEqual([]);
    expect(onB2.received('consultEnded')).toEqual([]);
  });

  it('a crashed node A, restarted, interrupts only the consults no other node carries', async () => {
    const host = await user('doctor', 'Dr. Crasher');
    const admin = await user('admin', 'Admin Survivor');
    const shared = await consultHostedBy(host);
    const alone = await consultHostedBy(host);
    await join(a, shared, host);
    await join(a, alone, host);
    const onB = await join(b, shared, admin);
    await timeUntil(
      async () => (await services.consults.find(alone))?.status === 'live',
      5000,
      'consult live',
    );
    await a.crash();
    a = await startClusterNode('a', redis.url, dbEnv);
    const [s, l] = [await services.consults.find(shared), await services.consults.find(alone)];
    expect([s?.status, s?.nodeId]).toEqual(['live', 'b']);
    expect([l?.status, l?.endReason]).toEqual(['ended', 'interrupted']);
    expect(onB.received('consultEnded')).toEqual([]);
    expect(onB.socket.connected).toBe(true);
  });
});
