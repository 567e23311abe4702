/**
 * Two gateway nodes (separate processes) on one Redis and one database: what an admin or host
 * does through one node's API reaches the people connected to the other (an invite revoked, a
 * consult ended, an account disabled, a logout), and per-person limits (failed logins, network
 * checks) count the requests of both nodes together.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from 'redis';
import { NETCHECK_REQUESTS_PER_MINUTE } from '../../src/http/routes/netcheck.js';
import { TEST_PASSWORD } from '../support/gateway.js';
import { apiClient } from '../support/http.js';
import { disconnected, startTwoNodes, type TwoNodes } from '../support/twoNodes.js';

const LOGIN_FAILURES = 4;
let cluster: TwoNodes;

beforeAll(async () => {
  cluster = await startTwoNodes({ LOGIN_MAX_FAILURES_PER_ACCOUNT: String(LOGIN_FAILURES) });
}, 120_000);

afterAll(() => cluster?.stop(), 60_000);

describe('what one node decides reaches sockets on the other', () => {
  it("revoking an invite through node A's API tells and disconnects its guest on node B", async () => {
    const host = await cluster.user('doctor', 'Dr. Revoker');
    const consultId = await cluster.consultHostedBy(host);
    await cluster.join(cluster.a, consultId, host);
    const apiA = apiClient(cluster.a.url);
    const hostToken = await apiA.login(host.email, TEST_PASSWORD);
    const invite = await apiA.post(
      `/consults/${consultId}/invites`,
      { guestName: 'Pat Guest' },
      hostToken,
    );
    expect(invite.status).toBe(201);
    const redeemed = await apiClient(cluster.b.url).post('/invites/redeem', {
      token: invite.body.token,
    });
    expect(redeemed.status).toBe(200);
    const guest = await cluster.connect(cluster.b, redeemed.body.token);
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
    const host = await cluster.user('doctor', 'Dr. Ender');
    const admin = await cluster.user('admin', 'Admin Onb');
    const consultId = await cluster.consultHostedBy(host);
    await cluster.join(cluster.a, consultId, host);
    const onB = await cluster.join(cluster.b, consultId, admin);
    const ended = onB.next<{ reason: string }>('consultEnded');
    const gone = disconnected(onB);
    const res = await apiClient(cluster.a.url).post(
      `/consults/${consultId}/end`,
      undefined,
      await apiClient(cluster.a.url).login(host.email, TEST_PASSWORD),
    );
    expect(res.status).toBe(200);
    expect((await ended).reason).toBe('ended_by_host');
    await gone;
  });

  it('disabling an account on node A disconnects its socket on node B', async () => {
    const host = await cluster.user('doctor', 'Dr. Host');
    const admin = await cluster.user('admin', 'Admin Boss');
    const target = await cluster.user('admin', 'Admin Target');
    const consultId = await cluster.consultHostedBy(host);
    await cluster.join(cluster.a, consultId, host);
    const onB = await cluster.join(cluster.b, consultId, target);
    const ended = onB.next<{ reason: string }>('consultEnded');
    const gone = disconnected(onB);
    const apiA = apiClient(cluster.a.url);
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
    const host = await cluster.user('doctor', 'Dr. Leaver');
    const consultId = await cluster.consultHostedBy(host);
    const apiA = apiClient(cluster.a.url);
    const apiB = apiClient(cluster.b.url);
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
    const onB = await cluster.connect(cluster.b, grant.body.token);
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

describe('what arrives over the bus', () => {
  it("removing a specialist through node A's API ends their waiting connection on node B", async () => {
    const host = await cluster.user('doctor', 'Dr. Remover');
    const specialist = await cluster.user('doctor', 'Dr. Removed');
    const consultId = await cluster.consultHostedBy(host, [specialist]);
    // Before the consult is live (a live one cannot be changed): the specialist waits on B.
    const onB = await cluster.join(cluster.b, consultId, specialist);
    const ended = onB.next<{ reason: string }>('consultEnded');
    const gone = disconnected(onB);
    const apiA = apiClient(cluster.a.url);
    const res = await apiA.patch(
      `/consults/${consultId}`,
      { specialistIds: [] },
      await apiA.login(host.email, TEST_PASSWORD),
    );
    expect(res.status).toBe(200);
    expect((await ended).reason).toBe('access_revoked');
    await gone;
  });

  it('is parsed: malformed or unknown notes are dropped, the node and its consults go on', async () => {
    const host = await cluster.user('doctor', 'Dr. Steady');
    const admin = await cluster.user('admin', 'Admin Steady');
    const consultId = await cluster.consultHostedBy(host);
    const hostOnA = await cluster.join(cluster.a, consultId, host);
    const onB = await cluster.join(cluster.b, consultId, admin);
    const redis = createClient({ url: cluster.redis.url });
    await redis.connect();
    try {
      const note = (type: string, payload: unknown) =>
        JSON.stringify({ kind: 'note', from: 'a', type, payload });
      for (const message of [
        'not json',
        note('consult.closed', { consultId }), // no reason
        note('consult.closed', { consultId: 42, reason: 'ended_by_host' }),
        note('sessions.revoked', { userId: admin.id, reason: 'because' }),
        note('consults.carried', { ids: 'all' }),
        note('no.such.type', {}),
      ])
        await redis.publish('telemed:bus:b', message);
    } finally {
      redis.destroy();
    }
    // Node B still serves the consult: a chat from A reaches the admin on B, who was not ended.
    const heard = onB.next<{ text: string }>('chatMessage');
    await hostOnA.call('chatMessage', { text: 'still on' });
    expect((await heard).text).toBe('still on');
    expect(onB.received('consultEnded')).toEqual([]);
    expect(onB.socket.connected).toBe(true);
  });
});

describe('limits shared by the nodes', () => {
  it('counts failed logins on both nodes: half the guesses on each, the limit holds', async () => {
    const target = await cluster.user('doctor', 'Dr. Guessed');
    const statuses = [];
    for (let i = 0; i < LOGIN_FAILURES + 2; i++) {
      const res = await apiClient((i % 2 ? cluster.b : cluster.a).url).post('/auth/login', {
        email: target.email,
        password: `wrong guess ${i}`,
      });
      statuses.push(res.status);
    }
    expect(statuses).toEqual([...Array<number>(LOGIN_FAILURES).fill(401), 429, 429]);
  });

  it("counts a grant's network checks on both nodes against one budget", async () => {
    const host = await cluster.user('doctor', 'Dr. Checker');
    const consultId = await cluster.consultHostedBy(host);
    const { token } = await cluster.services.consults.mintOperatorGrant(consultId, host.id);
    const statuses = [];
    for (let i = 0; i < NETCHECK_REQUESTS_PER_MINUTE + 2; i++) {
      const res = await fetch(`${(i % 2 ? cluster.b : cluster.a).url}/api/v1/netcheck/ping`, {
        headers: { authorization: `Bearer ${token}` },
      });
      statuses.push(res.status);
    }
    expect(statuses.filter((s) => s === 200)).toHaveLength(NETCHECK_REQUESTS_PER_MINUTE);
    expect(statuses.slice(-2)).toEqual([429, 429]);
  });
});
