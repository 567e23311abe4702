/** Accounts, scheduling and invites over real HTTP and real sockets, with a real SQLite file. */
import jwt from 'jsonwebtoken';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { API_AUDIENCE } from '../../src/auth/accessTokens.js';
import { TOKEN_ISSUER } from '../../src/auth/tokens.js';
import type { User } from '../../src/store/repositories.js';
import type { WaitingResponse } from '../../src/protocol/index.js';
import { connectClient, type TestClient } from '../support/client.js';
import { joinAdmitted, joinAsHost } from '../support/consult.js';
import {
  startTestGateway,
  TEST_PASSWORD,
  TEST_SECRET,
  type TestGateway,
} from '../support/gateway.js';
import { apiClient } from '../support/http.js';

let gw: TestGateway;
let api: ReturnType<typeof apiClient>;
let admin: User, doctor: User, otherDoctor: User, specialist: User, outsider: User;
let tokens: Record<'admin' | 'doctor' | 'otherDoctor' | 'specialist' | 'outsider', string>;
const clients: TestClient[] = [];

const inOneHour = () => new Date(Date.now() + 3600_000).toISOString();
const inTwoHours = () => new Date(Date.now() + 7200_000).toISOString();

beforeEach(async () => {
  gw = await startTestGateway({
    LOGIN_MAX_FAILURES_PER_ACCOUNT: '3',
    LOGIN_MAX_FAILURES_PER_IP: '6',
  });
  api = apiClient(gw.url);
  admin = await gw.user('admin', 'Ada Admin');
  doctor = await gw.user('doctor', 'Dr. Grey');
  otherDoctor = await gw.user('doctor', 'Dr. Other');
  specialist = await gw.user('specialist', 'Dr. Shepherd');
  outsider = await gw.user('specialist', 'Dr. Outsider');
  tokens = {
    admin: await api.login(admin.email, TEST_PASSWORD),
    doctor: await api.login(doctor.email, TEST_PASSWORD),
    otherDoctor: await api.login(otherDoctor.email, TEST_PASSWORD),
    specialist: await api.login(specialist.email, TEST_PASSWORD),
    outsider: await api.login(outsider.email, TEST_PASSWORD),
  };
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await gw.stop();
});

function newConsult(overrides: Record<string, unknown> = {}) {
  return {
    title: 'Cardiology second opinion',
    patientRef: 'MRN-7f3a',
    scheduledStart: new Date(Date.now() + 5 * 60_000).toISOString(),
    scheduledEnd: inOneHour(),
    hostId: doctor.id,
    specialistIds: [specialist.id],
    guests: [{ name: 'Dr. External', email: 'ext@other-hospital.example' }],
    ...overrides,
  };
}

describe('login and sessions', () => {
  it('returns access and refresh tokens and the user; wrong passwords get 401', async () => {
    const res = await api.post('/auth/login', {
      email: doctor.email.toUpperCase(),
      password: TEST_PASSWORD,
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      accessToken: expect.any(String),
      refreshToken: expect.any(String),
      user: { id: doctor.id, name: 'Dr. Grey', role: 'doctor' },
    });
    const claims = jwt.decode(res.body.accessToken) as jwt.JwtPayload;
    expect(claims).toMatchObject({
      iss: TOKEN_ISSUER,
      aud: API_AUDIENCE,
      sub: doctor.id,
      role: 'doctor',
    });
    expect(claims.exp! - claims.iat!).toBe(15 * 60);
    expect(
      (await api.post('/auth/login', { email: doctor.email, password: 'wrong password' })).status,
    ).toBe(401);
    expect(
      (await api.post('/auth/login', { email: 'nobody@x.example', password: 'whatever' })).status,
    ).toBe(401);
  });

  it('throttles failed logins per account and per IP with 429 and Retry-After', async () => {
    for (let i = 0; i < 3; i++) {
      expect(
        (await api.post('/auth/login', { email: doctor.email, password: 'nope' })).status,
      ).toBe(401);
    }
    const blocked = await api.post('/auth/login', { email: doctor.email, password: TEST_PASSWORD });
    expect(blocked.status).toBe(429);
    expect(blocked.body.error.code).toBe('too_many_requests');
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    // Other accounts from this IP still work until the per-IP limit (6 failures) is reached.
    expect(
      (await api.post('/auth/login', { email: specialist.email, password: TEST_PASSWORD })).status,
    ).toBe(200);
    for (let i = 0; i < 3; i++)
      await api.post('/auth/login', { email: `ghost${i}@x.example`, password: 'nope' });
    expect(
      (await api.post('/auth/login', { email: specialist.email, password: TEST_PASSWORD })).status,
    ).toBe(429);
  });

  it('rotates refresh tokens; reusing an old one revokes the whole session', async () => {
    const login = await api.post('/auth/login', { email: doctor.email, password: TEST_PASSWORD });
    const first = login.body.refreshToken;
    const rotated = await api.post('/auth/refresh', { refreshToken: first });
    expect(rotated.status).toBe(200);
    expect(rotated.body.refreshToken).not.toBe(first);
    // The stolen old token is replayed: refused, and the legitimate new one dies with it.
    expect((await api.post('/auth/refresh', { refreshToken: first })).status).toBe(401);
    expect(
      (await api.post('/auth/refresh', { refreshToken: rotated.body.refreshToken })).status,
    ).toBe(401);
  });

  it('logout revokes the refresh token', async () => {
    const login = await api.post('/auth/login', { email: doctor.email, password: TEST_PASSWORD });
    expect((await api.post('/auth/logout', { refreshToken: login.body.refreshToken })).status).toBe(
      204,
    );
    expect(
      (await api.post('/auth/refresh', { refreshToken: login.body.refreshToken })).status,
    ).toBe(401);
  });

  it('refuses forged, mis-addressed and expired access tokens', async () => {
    const claims = { sub: admin.id, role: 'admin', name: 'Ada Admin' };
    const opts = { issuer: TOKEN_ISSUER, audience: API_AUDIENCE };
    const attacks = {
      'alg none': jwt.sign(claims, '', { ...opts, algorithm: 'none' }),
      HS512: jwt.sign(claims, TEST_SECRET, { ...opts, algorithm: 'HS512' }),
      'bad signature': jwt.sign(claims, 'not-the-secret-at-all', opts),
      'join grant as access token': await gw.grant((await gw.consult(doctor)).id, doctor),
      expired: jwt.sign(claims, TEST_SECRET, { ...opts, expiresIn: -60 }),
      garbage: 'abc.def.ghi',
    };
    for (const [what, token] of Object.entries(attacks)) {
      const res = await api.get('/users', token);
      expect(res.status, what).toBe(401);
      expect(res.body.error.code, what).toBe('unauthorized');
    }
    expect((await api.get('/users')).status).toBe(401);
    expect((await api.get('/users', tokens.admin)).status).toBe(200);
  });
});

describe('users', () => {
  it('admins create, list and disable users; a disabled user is locked out at once', async () => {
    const created = await api.post(
      '/users',
      { email: 'new.doc@h.example', name: 'Dr. New', role: 'doctor', password: 'twelve chars!' },
      tokens.admin,
    );
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      email: 'new.doc@h.example',
      role: 'doctor',
      disabled: false,
    });
    expect(created.body).not.toHaveProperty('passwordHash');
    const dup = await api.post(
      '/users',
      { email: 'NEW.doc@h.example', name: 'X', role: 'doctor', password: 'twelve chars!' },
      tokens.admin,
    );
    expect(dup.status).toBe(409);
    const list = await api.get('/users?role=doctor&limit=2', tokens.admin);
    expect(list.body).toMatchObject({ total: 3, limit: 2, offset: 0 });
    expect(list.body.items).toHaveLength(2);

    const newToken = await api.login('new.doc@h.example', 'twelve chars!');
    expect(
      (await api.patch(`/users/${created.body.id}`, { disabled: true }, tokens.admin)).status,
    ).toBe(200);
    expect((await api.get('/consults', newToken)).status).toBe(401);
    expect(
      (await api.post('/auth/login', { email: 'new.doc@h.example', password: 'twelve chars!' }))
        .status,
    ).toBe(401);
  });

  it('only admins manage users', async () => {
    const body = { email: 'x@h.example', name: 'X', role: 'admin', password: 'twelve chars!' };
    expect((await api.post('/users', body, tokens.doctor)).status).toBe(403);
    expect((await api.post('/users', body, tokens.specialist)).status).toBe(403);
    expect((await api.get('/users', tokens.specialist)).status).toBe(403);
    expect((await api.patch(`/users/${doctor.id}`, { disabled: true }, tokens.doctor)).status).toBe(
      403,
    );
  });
});

describe('consult scheduling', () => {
  it('admins and host doctors schedule; each role sees only what it should', async () => {
    const byAdmin = await api.post('/consults', newConsult(), tokens.admin);
    expect(byAdmin.status).toBe(201);
    expect(byAdmin.body).toMatchObject({
      id: expect.any(String),
      status: 'open',
      hostId: doctor.id,
    });
    const later = await api.post(
      '/consults',
      newConsult({ scheduledStart: inOneHour(), scheduledEnd: inTwoHours(), specialistIds: [] }),
      tokens.doctor,
    );
    expect(later.status).toBe(201);
    expect(later.body.status).toBe('scheduled');
    const otherHost = await api.post(
      '/consults',
      newConsult({ hostId: otherDoctor.id }),
      tokens.doctor,
    );
    expect(otherHost.status).toBe(403);
    expect((await api.post('/consults', newConsult(), tokens.specialist)).status).toBe(403);

    expect((await api.get('/consults', tokens.admin)).body.total).toBe(2);
    expect((await api.get('/consults', tokens.doctor)).body.total).toBe(2);
    expect((await api.get('/consults', tokens.otherDoctor)).body.total).toBe(0);
    expect((await api.get(`/consults/${byAdmin.body.id}`, tokens.otherDoctor)).status).toBe(404);
    const mine = await api.get('/consults', tokens.specialist);
    expect(mine.body.items.map((c: { id: string }) => c.id)).toEqual([byAdmin.body.id]);
    expect((await api.get('/consults', tokens.outsider)).body.total).toBe(0);

    // Filters and pagination.
    expect((await api.get('/consults?status=scheduled', tokens.doctor)).body.total).toBe(1);
    const page = await api.get('/consults?limit=1&offset=1', tokens.doctor);
    expect(page.body).toMatchObject({ total: 2, limit: 1, offset: 1 });
    expect(page.body.items[0].id).toBe(later.body.id);
    const newestFirst = await api.get('/consults?order=desc', tokens.doctor);
    expect(newestFirst.body.items.map((c: { id: string }) => c.id)).toEqual([
      later.body.id,
      byAdmin.body.id,
    ]);
    const window = await api.get(
      `/consults?from=${encodeURIComponent(inOneHour())}`,
      tokens.doctor,
    );
    expect(window.body.items.map((c: { id: string }) => c.id)).toEqual([later.body.id]);
  });

  it('validates bodies and queries with field-level errors', async () => {
    const bad = await api.post(
      '/consults',
      newConsult({ scheduledEnd: 'tomorrow', specialistIds: 'all' }),
      tokens.admin,
    );
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('bad_request');
    const paths = bad.body.error.issues.map((i: { path: string[] }) => i.path.join('.'));
    expect(paths).toEqual(expect.arrayContaining(['scheduledEnd', 'specialistIds']));
    const backwards = await api.post(
      '/consults',
      newConsult({ scheduledEnd: new Date(Date.now() - 1000).toISOString() }),
      tokens.admin,
    );
    expect(backwards.status).toBe(400);
    const notADoctor = await api.post(
      '/consults',
      newConsult({ hostId: specialist.id }),
      tokens.admin,
    );
    expect(notADoctor.status).toBe(400);
    expect((await api.get('/consults?limit=0', tokens.admin)).status).toBe(400);
    expect((await api.get('/consults?status=partying', tokens.admin)).status).toBe(400);
    const raw = await api.request('POST', '/consults', { token: tokens.admin, raw: '{"title": ' });
    expect(raw.status).toBe(400);
    expect(raw.body.error.message).toMatch(/JSON/);
    expect((await api.get('/nothing-here', tokens.admin)).status).toBe(404);
  });

  it('reschedules and cancels; illegal transitions get 409', async () => {
    const c = (await api.post('/consults', newConsult(), tokens.admin)).body;
    const moved = await api.patch(
      `/consults/${c.id}`,
      { scheduledStart: inOneHour(), scheduledEnd: inTwoHours() },
      tokens.doctor,
    );
    expect(moved.status).toBe(200);
    expect(moved.body.status).toBe('scheduled');
    expect((await api.patch(`/consults/${c.id}`, { title: 'x' }, tokens.otherDoctor)).status).toBe(
      404,
    );
    expect((await api.patch(`/consults/${c.id}`, { title: 'x' }, tokens.specialist)).status).toBe(
      403,
    );
    expect((await api.post(`/consults/${c.id}/end`, {}, tokens.doctor)).status).toBe(409);
    const cancelled = await api.post(`/consults/${c.id}/cancel`, {}, tokens.doctor);
    expect(cancelled.body.status).toBe('cancelled');
    expect((await api.post(`/consults/${c.id}/cancel`, {}, tokens.doctor)).status).toBe(409);
    expect((await api.patch(`/consults/${c.id}`, { title: 'again' }, tokens.admin)).status).toBe(
      409,
    );
    expect((await api.post(`/consults/${c.id}/join`, {}, tokens.doctor)).status).toBe(409);
  });
});

describe('join grants, the waiting room and host powers', () => {
  it('only participants get grants; specialists wait, cannot admit or end; the host ends it for all', async () => {
    const c = (await api.post('/consults', newConsult(), tokens.admin)).body;
    expect((await api.post(`/consults/${c.id}/join`, {}, tokens.outsider)).status).toBe(404);
    expect((await api.post(`/consults/${c.id}/join`, {}, tokens.otherDoctor)).status).toBe(404);
    const hostGrant = await api.post(`/consults/${c.id}/join`, {}, tokens.doctor);
    expect(hostGrant.body.grants).toEqual({
      publish: true,
      subscribe: true,
      admit: true,
      end: true,
    });
    const specGrant = await api.post(`/consults/${c.id}/join`, {}, tokens.specialist);
    expect(specGrant.body.grants).toEqual({
      publish: true,
      subscribe: true,
      admit: false,
      end: false,
    });

    const host = await joinAsHost(gw, c.id, hostGrant.body.token);
    clients.push(host.client);
    expect(host.join.lobby).toEqual([]);
    expect((await api.get(`/consults/${c.id}`, tokens.doctor)).body.status).toBe('live');

    const spec = await joinAdmitted(gw, c.id, specGrant.body.token, host.client);
    clients.push(spec.client);
    expect(await spec.client.request('admit', { peerId: host.join.peerId })).toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    });
    expect(await spec.client.request('endConsult', {})).toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    });
    expect(await spec.client.request('removePeer', { peerId: host.join.peerId })).toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    });

    const ended = spec.client.next<{ reason: string }>('consultEnded');
    await host.client.call('endConsult', {});
    expect((await ended).reason).toBe('ended_by_host');
    const after = (await api.get(`/consults/${c.id}`, tokens.doctor)).body;
    expect(after).toMatchObject({ status: 'ended', endReason: 'ended_by_host' });
    expect(after.startedAt).not.toBeNull();
    expect(gw.rooms.counts()).toMatchObject({ consults: 0, transports: 0 });
    await expect(connectClient(gw.url, hostGrant.body.token)).rejects.toMatchObject({
      data: { code: 'forbidden' },
    });
  });

  it('the waiting room opens before start; the host denies and removes', async () => {
    const early = (
      await api.post(
        '/consults',
        newConsult({ scheduledStart: inOneHour(), scheduledEnd: inTwoHours() }),
        tokens.admin,
      )
    ).body;
    const tooEarly = await api.post(`/consults/${early.id}/join`, {}, tokens.specialist);
    expect(tooEarly.status).toBe(409);
    expect(tooEarly.body.error.message).toMatch(/waiting room opens at/);

    const c = (await api.post('/consults', newConsult(), tokens.admin)).body;
    const host = await joinAsHost(
      gw,
      c.id,
      (await api.post(`/consults/${c.id}/join`, {}, tokens.doctor)).body.token,
    );
    clients.push(host.client);
    const specToken = (await api.post(`/consults/${c.id}/join`, {}, tokens.specialist)).body.token;
    const waiter = await connectClient(gw.url, specToken);
    clients.push(waiter);
    const lobby = host.client.next<{ waiting: { peerId: string; displayName: string }[] }>(
      'lobbyChanged',
    );
    const waiting = await waiter.call<WaitingResponse>('join', { consultId: c.id });
    expect(waiting.waiting).toBe(true);
    expect((await lobby).waiting).toEqual([
      expect.objectContaining({ peerId: waiting.peerId, displayName: 'Dr. Shepherd' }),
    ]);
    expect(await waiter.request('createTransport', { direction: 'recv' })).toMatchObject({
      ok: false,
      error: { code: 'not_joined' },
    });
    const denied = waiter.next<{ reason: string }>('denied');
    await host.client.call('deny', { peerId: waiting.peerId, reason: 'wrong patient' });
    expect((await denied).reason).toBe('wrong patient');

    const spec = await joinAdmitted(
      gw,
      c.id,
      (await api.post(`/consults/${c.id}/join`, {}, tokens.specialist)).body.token,
      host.client,
    );
    clients.push(spec.client);
    const removed = spec.client.next<{ reason: string }>('consultEnded');
    const left = host.client.next<{ peerId: string }>('peerLeft');
    await host.client.call('removePeer', { peerId: spec.join.peerId });
    expect((await removed).reason).toBe('removed_by_host');
    expect((await left).peerId).toBe(spec.join.peerId);
  });
});

describe('invitations', () => {
  it('an invite link lets a guest into the lobby; revoking it disconnects the guest', async () => {
    const c = (await api.post('/consults', newConsult(), tokens.admin)).body;
    expect(
      (await api.post(`/consults/${c.id}/invites`, { guestName: 'Dr. Ext' }, tokens.specialist))
        .status,
    ).toBe(403);
    const created = await api.post(
      `/consults/${c.id}/invites`,
      { guestName: 'Dr. Ext', email: 'ext@h2.example' },
      tokens.doctor,
    );
    expect(created.status).toBe(201);
    expect(created.body.url).toBe(`${gw.url}/?invite=${created.body.token}`);

    const redeemed = await api.post('/invites/redeem', { token: created.body.token });
    expect(redeemed.status).toBe(200);
    expect(redeemed.body).toMatchObject({
      role: 'guest',
      guestName: 'Dr. Ext',
      consultTitle: c.title,
      grants: { admit: false, end: false },
    });

    const host = await joinAsHost(
      gw,
      c.id,
      (await api.post(`/consults/${c.id}/join`, {}, tokens.doctor)).body.token,
    );
    clients.push(host.client);
    const guest = await joinAdmitted(gw, c.id, redeemed.body.token, host.client);
    clients.push(guest.client);
    expect(guest.join.peers.map((p) => p.displayName)).toEqual(['Dr. Grey']);

    const listed = await api.get(`/consults/${c.id}/invites`, tokens.doctor);
    // The guest entered at scheduling has a link of its own too (issue 11): find this one.
    const mine = listed.body.items.find((i: { id: string }) => i.id === created.body.invite.id);
    expect(mine).toMatchObject({
      id: created.body.invite.id,
      firstUsedAt: expect.any(String),
      revokedAt: null,
    });

    const kicked = guest.client.next<{ reason: string }>('consultEnded');
    const gone = host.client.next<{ peerId: string }>('peerLeft');
    const revoked = await api.del(
      `/consults/${c.id}/invites/${created.body.invite.id}`,
      tokens.doctor,
    );
    expect(revoked.body.revokedAt).not.toBeNull();
    expect((await kicked).reason).toBe('invite_revoked');
    expect((await gone).peerId).toBe(guest.join.peerId);
    expect((await api.post('/invites/redeem', { token: created.body.token })).status).toBe(401);
    await expect(connectClient(gw.url, redeemed.body.token)).rejects.toMatchObject({
      data: { code: 'forbidden' },
    });
  });
});

describe('API hygiene', () => {
  it('sends security headers and serves an OpenAPI 3.1 document of every route', async () => {
    const res = await fetch(`${gw.url}/api/v1/openapi.json`);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
    const doc = (await res.json()) as {
      openapi: string;
      paths: Record<string, Record<string, any>>;
    };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/auth/login',
        '/api/v1/users',
        '/api/v1/consults',
        '/api/v1/consults/{id}',
        '/api/v1/consults/{id}/join',
        '/api/v1/consults/{id}/invites/{inviteId}',
        '/api/v1/invites/redeem',
      ]),
    );
    const create = doc.paths['/api/v1/consults']!.post;
    expect(create.requestBody.content['application/json'].schema.required).toEqual(
      expect.arrayContaining(['title', 'patientRef', 'scheduledStart', 'scheduledEnd', 'hostId']),
    );
    expect(create.responses['201']).toBeDefined();
  });
});
