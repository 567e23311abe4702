/**
 * Revocation that bites at once: disabling a user, changing their role, logging out and a
 * reused refresh token end the live socket (within 1 s, peer closed with no grace) and the
 * access token (next request), and a grant minted before cannot connect. Real gateway, real
 * sockets, real SQLite.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SessionRevocations } from '../../src/auth/SessionRevocations.js';
import { verifyAccessToken } from '../../src/auth/accessTokens.js';
import type { ConsumeResponse, TransportResponse } from '../../src/protocol/index.js';
import type { Consult, User } from '../../src/store/repositories.js';
import { audioRtpParameters, connectClient, type TestClient } from '../support/client.js';
import { joinAdmitted, joinAsHost } from '../support/consult.js';
import {
  startTestGateway,
  TEST_PASSWORD,
  TEST_SECRET,
  type TestGateway,
} from '../support/gateway.js';
import { apiClient } from '../support/http.js';

/** The promise: a revoked socket hears of it and is closed within this. */
const REVOCATION_BOUND_MS = 1000;

let gw: TestGateway;
let api: ReturnType<typeof apiClient>;
let admin: User, host: User, specialist: User;
let adminToken: string;
let consult: Consult;
const clients: TestClient[] = [];

interface Login {
  accessToken: string;
  refreshToken: string;
}

async function login(user: User): Promise<Login> {
  const res = await api.post<Login>('/auth/login', { email: user.email, password: TEST_PASSWORD });
  expect(res.status).toBe(200);
  return res.body;
}

/** A join grant as the browser gets it: from the API, with the caller's access token. */
async function apiGrant(accessToken: string): Promise<string> {
  const res = await api.post<{ token: string }>(`/consults/${consult.id}/join`, {}, accessToken);
  expect(res.status).toBe(200);
  return res.body.token;
}

/** The host publishes a microphone; the specialist joins through the lobby and consumes it. */
async function consultWithSpecialistReceiving(specialistGrant: string) {
  const hostJoined = await joinAsHost(gw, consult.id, await gw.grant(consult.id, host));
  clients.push(hostJoined.client);
  const send = await hostJoined.client.call<TransportResponse>('createTransport', {
    direction: 'send',
  });
  const { producerId } = await hostJoined.client.call<{ producerId: string }>('produce', {
    transportId: send.id,
    kind: 'audio',
    rtpParameters: audioRtpParameters(4242),
    appData: { source: 'mic' },
  });
  const spec = await joinAdmitted(gw, consult.id, specialistGrant, hostJoined.client);
  clients.push(spec.client);
  const recv = await spec.client.call<TransportResponse>('createTransport', { direction: 'recv' });
  const consumer = await spec.client.call<ConsumeResponse>('consume', {
    transportId: recv.id,
    producerId,
    rtpCapabilities: spec.join.routerRtpCapabilities,
  });
  expect(consumer.producerId).toBe(producerId);
  return { host: hostJoined, spec };
}

/** Resolves with ms from now until the client has both heard `access_revoked` and been disconnected. */
function revocationSeen(client: TestClient): () => Promise<number> {
  const ended = client.next<{ reason: string }>('consultEnded', 5000);
  const disconnected = new Promise<void>((resolve) =>
    client.socket.once('disconnect', () => resolve()),
  );
  return async () => {
    const start = Date.now();
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error('not revoked in time')), REVOCATION_BOUND_MS),
    );
    const [{ reason }] = await Promise.race([Promise.all([ended, disconnected]), timeout]);
    expect(reason).toBe('access_revoked');
    return Date.now() - start;
  };
}

const seatsOf = (user: User) =>
  [...(gw.rooms.rooms.get(consult.id)?.peers.values() ?? [])].filter(
    (p) => p.identity.userId === user.id && !p.closed,
  ).length;

beforeEach(async () => {
  // A long grace period: a revoked peer must go at once, not when the grace runs out.
  gw = await startTestGateway({ RECONNECT_GRACE_SECONDS: '30' });
  api = apiClient(gw.url);
  admin = await gw.user('admin', 'Ada Admin');
  host = await gw.user('doctor', 'Dr. Grey');
  specialist = await gw.user('specialist', 'Dr. Shepherd');
  consult = await gw.consult(host, [specialist]);
  adminToken = (await login(admin)).accessToken;
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await gw.stop();
});

describe('disabling a user', () => {
  it('ends their live socket and seat within 1 s, and their access token and grants', async () => {
    const session = await login(specialist);
    const grant = await apiGrant(session.accessToken);
    const { host: hostJoined, spec } = await consultWithSpecialistReceiving(grant);
    const seen = revocationSeen(spec.client);
    const hostSeesLeave = hostJoined.client.next<{ peerId: string }>(
      'peerLeft',
      REVOCATION_BOUND_MS * 2,
    );

    const res = await api.patch(`/users/${specialist.id}`, { disabled: true }, adminToken);
    expect(res.status).toBe(200);
    expect(await seen()).toBeLessThan(REVOCATION_BOUND_MS);
    // No reconnect grace: the seat (and the host's media it received) is gone now.
    expect((await hostSeesLeave).peerId).toBe(spec.join.peerId);
    expect(seatsOf(specialist)).toBe(0);

    expect((await api.get('/auth/me', session.accessToken)).status).toBe(401);
    await expect(connectClient(gw.url, grant)).rejects.toMatchObject({
      data: { code: expect.stringMatching(/unauthorized|forbidden/) },
    });
    // The host is untouched.
    expect(hostJoined.client.socket.connected).toBe(true);
  });

  it('a re-enabled user does not get the old tokens back', async () => {
    const session = await login(specialist);
    const grant = await apiGrant(session.accessToken);
    await api.patch(`/users/${specialist.id}`, { disabled: true }, adminToken);
    await api.patch(`/users/${specialist.id}`, { disabled: false }, adminToken);
    expect((await api.get('/auth/me', session.accessToken)).status).toBe(401);
    await expect(connectClient(gw.url, grant)).rejects.toMatchObject({
      data: { code: 'unauthorized' },
    });
    const again = await login(specialist);
    expect((await api.get('/auth/me', again.accessToken)).status).toBe(200);
  });
});

describe('changing a role', () => {
  it('ends the socket and refuses the old token and grant; a refresh gets the new role', async () => {
    const session = await login(specialist);
    const grant = await apiGrant(session.accessToken);
    const { spec } = await consultWithSpecialistReceiving(grant);
    const seen = revocationSeen(spec.client);

    const res = await api.patch(`/users/${specialist.id}`, { role: 'doctor' }, adminToken);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ role: 'doctor', disabled: false });
    expect(await seen()).toBeLessThan(REVOCATION_BOUND_MS);

    expect((await api.get('/auth/me', session.accessToken)).status).toBe(401);
    await expect(connectClient(gw.url, grant)).rejects.toMatchObject({
      data: { code: 'unauthorized' },
    });
    const refreshed = await api.post<Login>('/auth/refresh', {
      refreshToken: session.refreshToken,
    });
    expect(refreshed.status).toBe(200);
    const me = await api.get('/auth/me', refreshed.body.accessToken);
    expect(me.body).toMatchObject({ id: specialist.id, role: 'doctor' });
  });

  it('only admins change roles, not their own, and only to a known role', async () => {
    const doctorToken = (await login(host)).accessToken;
    const patch = (id: string, body: unknown, token: string) =>
      api.patch(`/users/${id}`, body, token);
    expect((await patch(specialist.id, { role: 'admin' }, doctorToken)).status).toBe(403);
    expect((await patch(host.id, { role: 'admin' }, doctorToken)).status).toBe(403);
    expect((await patch(admin.id, { role: 'doctor' }, adminToken)).status).toBe(409);
    expect((await patch(specialist.id, { role: 'root' }, adminToken)).body.error.code).toBe(
      'bad_request',
    );
    expect((await patch(specialist.id, {}, adminToken)).body.error.code).toBe('bad_request');
    expect((await patch('no-such-user', { role: 'doctor' }, adminToken)).status).toBe(404);
    // Nothing changed, and the admin's own token still works.
    expect(await gw.store.users.findById(specialist.id)).toMatchObject({
      role: 'specialist',
      tokenVersion: 0,
    });
    expect((await api.get('/auth/me', adminToken)).status).toBe(200);
  });
});

describe('logging out', () => {
  it("ends that login's access token, grants and socket; another device stays logged in", async () => {
    const phone = await login(specialist);
    const laptop = await login(specialist);
    const grant = await apiGrant(phone.accessToken);
    const { spec } = await consultWithSpecialistReceiving(grant);
    const seen = revocationSeen(spec.client);

    const res = await api.post('/auth/logout', { refreshToken: phone.refreshToken });
    expect(res.status).toBe(204);
    expect(await seen()).toBeLessThan(REVOCATION_BOUND_MS);
    expect(seatsOf(specialist)).toBe(0);

    expect((await api.get('/auth/me', phone.accessToken)).status).toBe(401);
    await expect(connectClient(gw.url, grant)).rejects.toMatchObject({
      data: { code: 'unauthorized' },
    });
    // The other login is a different family: untouched, and it can join again.
    expect((await api.get('/auth/me', laptop.accessToken)).status).toBe(200);
    const back = await connectClient(gw.url, await apiGrant(laptop.accessToken));
    clients.push(back);
    expect(back.socket.connected).toBe(true);
  });

  it('a restart still refuses the access token of a login that was logged out', async () => {
    const session = await login(specialist);
    await api.post('/auth/logout', { refreshToken: session.refreshToken });
    // A fresh instance over the same database, as after a restart.
    const fresh = new SessionRevocations(gw.store, { familyMemoryMs: 3600_000 });
    const claims = verifyAccessToken(TEST_SECRET, session.accessToken);
    await expect(fresh.assertAccess(claims)).rejects.toThrow(/ended/);
    const other = verifyAccessToken(TEST_SECRET, (await login(specialist)).accessToken);
    await expect(fresh.assertAccess(other)).resolves.toBeUndefined();
  });
});

describe('a reused refresh token', () => {
  it('revokes its family: the socket ends and every access token of that login is refused', async () => {
    const first = await login(specialist);
    const rotated = await api.post<Login>('/auth/refresh', { refreshToken: first.refreshToken });
    expect(rotated.status).toBe(200);
    const grant = await apiGrant(rotated.body.accessToken);
    const { spec } = await consultWithSpecialistReceiving(grant);
    const seen = revocationSeen(spec.client);

    // Someone replays the used refresh token (it was stolen, or a copy leaked).
    expect((await api.post('/auth/refresh', { refreshToken: first.refreshToken })).status).toBe(
      401,
    );
    expect(await seen()).toBeLessThan(REVOCATION_BOUND_MS);
    expect((await api.get('/auth/me', first.accessToken)).status).toBe(401);
    expect((await api.get('/auth/me', rotated.body.accessToken)).status).toBe(401);
    await expect(connectClient(gw.url, grant)).rejects.toMatchObject({
      data: { code: 'unauthorized' },
    });
  });
});

describe('revokeSessions (the hook for password changes)', () => {
  it('logs the user out everywhere: sockets, access and refresh tokens', async () => {
    const session = await login(specialist);
    const { spec } = await consultWithSpecialistReceiving(await apiGrant(session.accessToken));
    const seen = revocationSeen(spec.client);
    expect(await gw.auth.revokeSessions(specialist.id, 'password_changed')).toBe(true);
    expect(await seen()).toBeLessThan(REVOCATION_BOUND_MS);
    expect((await api.get('/auth/me', session.accessToken)).status).toBe(401);
    expect((await api.post('/auth/refresh', { refreshToken: session.refreshToken })).status).toBe(
      401,
    );
    expect(await gw.auth.revokeSessions('no-such-user', 'revoked')).toBe(false);
  });

  it('a privileged event is refused once the version moved, even before any socket was closed', async () => {
    const hostJoined = await joinAsHost(gw, consult.id, await gw.grant(consult.id, host));
    clients.push(hostJoined.client);
    const send = await hostJoined.client.call<TransportResponse>('createTransport', {
      direction: 'send',
    });
    // Another process (an operator tool) bumped the version; this one only sees it on reading.
    await gw.store.users.bumpTokenVersion(host.id, Date.now());
    gw.auth.sessions.forget(host.id);
    const res = await hostJoined.client.request('produce', {
      transportId: send.id,
      kind: 'audio',
      rtpParameters: audioRtpParameters(77),
      appData: { source: 'mic' },
    });
    expect(res).toMatchObject({ ok: false, error: { code: 'unauthorized' } });
  });
});
