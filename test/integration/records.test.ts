/** The consult record, chat, notes, FHIR export, audit log and retention, on real sockets and SQLite. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createServices } from '../../src/gateway.js';
import { createLogger } from '../../src/logger.js';
import type { TransportResponse } from '../../src/protocol/index.js';
import type { User } from '../../src/store/repositories.js';
import {
  audioRtpParameters,
  connectClient,
  simulcastVideoRtpParameters,
  type TestClient,
} from '../support/client.js';
import { joinAdmitted, joinAsHost } from '../support/consult.js';
import { validateR4Bundle } from '../support/fhir.js';
import { startTestGateway, TEST_PASSWORD, type TestGateway } from '../support/gateway.js';
import { apiClient } from '../support/http.js';
import { usePostgres } from '../support/postgres.js';
import { startGatewayProcess, type GatewayProcess } from '../support/process.js';

let gw: TestGateway | undefined;
const procs: GatewayProcess[] = [];
const clients: TestClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const p of procs.splice(0)) if (p.child.exitCode === null) await p.crash();
  await gw?.stop();
  gw = undefined;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function publish(client: TestClient) {
  const send = await client.call<TransportResponse>('createTransport', { direction: 'send' });
  const mic = await client.call<{ producerId: string }>('produce', {
    transportId: send.id,
    kind: 'audio',
    rtpParameters: audioRtpParameters(1000 + Math.floor(Math.random() * 1000)),
    appData: { source: 'mic' },
  });
  const cam = await client.call<{ producerId: string }>('produce', {
    transportId: send.id,
    kind: 'video',
    rtpParameters: simulcastVideoRtpParameters(5000 + Math.floor(Math.random() * 1000) * 10),
    appData: { source: 'camera' },
  });
  return { mic: mic.producerId, cam: cam.producerId };
}

async function setup() {
  const g = await startTestGateway({ QUALITY_SAMPLE_SECONDS: '1' });
  const host = await g.user('doctor', 'Dr. Grey');
  const specialist = await g.user('specialist', 'Dr. Shepherd');
  const admin = await g.user('admin', 'Ada Admin');
  const outsider = await g.user('doctor', 'Dr. Other');
  const consult = await g.consult(host, [specialist]);
  const api = apiClient(g.url);
  return { g, host, specialist, admin, outsider, consult, api };
}

describe('the consult record', () => {
  it('records participants, their times, the media and lobby timeline, quality and chat as they happen', async () => {
    const { g, host, specialist, admin, outsider, consult, api } = await setup();
    gw = g;
    const doctor = await joinAsHost(g, consult.id, await g.grant(consult.id, host));
    clients.push(doctor.client);
    const { mic } = await publish(doctor.client);
    const spec = await joinAdmitted(
      g,
      consult.id,
      await g.grant(consult.id, specialist),
      doctor.client,
    );
    clients.push(spec.client);
    await spec.client.call('createTransport', { direction: 'recv' });
    await doctor.client.call('pauseProducer', { producerId: mic });
    await doctor.client.call('resumeProducer', { producerId: mic });

    // Chat is stored, relayed to everyone, and validated.
    const relayed = spec.client.next<{ text: string; senderName: string }>('chatMessage');
    await doctor.client.call('chatMessage', { text: 'BP 128/82, ECG attached' });
    expect(await relayed).toMatchObject({
      text: 'BP 128/82, ECG attached',
      senderName: 'Dr. Grey',
    });
    expect(await spec.client.request('chatMessage', { text: '   ' })).toMatchObject({
      ok: false,
      error: { code: 'bad_request' },
    });
    expect(await spec.client.request('chatMessage', { text: 'x'.repeat(2001) })).toMatchObject({
      ok: false,
      error: { code: 'bad_request' },
    });

    // The live quality feed reaches the clients; samples land in the record.
    const live = spec.client.next<{ samples: { peerId: string }[] }>('quality', 5000);
    await g.sampler.sampleOnce();
    expect((await live).samples.map((s) => s.peerId).sort()).toEqual(
      [doctor.join.peerId, spec.join.peerId].sort(),
    );
    await sleep(1100);
    await g.sampler.sampleOnce();

    await spec.client.call('leave', {});
    await sleep(50);
    const hostToken = await api.login(host.email, TEST_PASSWORD);
    await api.post(
      `/consults/${consult.id}/notes`,
      { notes: 'Suspected AF; specialist agrees.', outcome: 'Start anticoagulation' },
      hostToken,
    );
    await doctor.client.call('endConsult', {});

    const record = (await api.get(`/consults/${consult.id}/record`, hostToken)).body;
    expect(record).toMatchObject({ status: 'ended', endReason: 'ended_by_host', view: 'full' });
    expect(record.durationSeconds).toBeGreaterThanOrEqual(1);
    const byName = Object.fromEntries(record.participants.map((p: any) => [p.displayName, p]));
    expect(Object.keys(byName).sort()).toEqual(['Dr. Grey', 'Dr. Shepherd']);
    expect(byName['Dr. Shepherd']).toMatchObject({
      participantId: specialist.id,
      kind: 'user',
      role: 'specialist',
    });
    expect(byName['Dr. Shepherd'].joins).toHaveLength(1);
    expect(byName['Dr. Shepherd'].joins[0].leaveReason).toBe('left');
    expect(byName['Dr. Grey'].joins[0].leftAt).not.toBeNull();
    expect(byName['Dr. Shepherd'].totalSeconds).toBeGreaterThanOrEqual(1);
    expect(byName['Dr. Grey'].browser).toBeNull(); // a Node client sends no browser User-Agent

    const types = record.timeline.map((e: any) => e.type);
    const order = [
      'participant.joined', // the host's arrival starts the consult
      'consult.started',
      'media.started',
      'lobby.waiting',
      'lobby.admitted',
      'participant.joined',
      'media.paused',
      'media.resumed',
      'participant.left',
      'consult.ended',
      'participant.left', // ending the consult closes the host's participation too
    ];
    let last = -1;
    for (const type of order) {
      const at = types.indexOf(type, last + 1);
      expect(at, `${type} after index ${last} in ${types.join(',')}`).toBeGreaterThan(last);
      last = at;
    }
    const paused = record.timeline.find((e: any) => e.type === 'media.paused');
    expect(paused).toMatchObject({ participantId: host.id, details: { source: 'mic' } });

    expect(record.chat).toEqual([
      expect.objectContaining({ senderId: host.id, text: 'BP 128/82, ECG attached' }),
    ]);
    expect(record.notes).toMatchObject({
      notes: 'Suspected AF; specialist agrees.',
      outcome: 'Start anticoagulation',
    });
    const hostQuality = record.quality.find((q: any) => q.participantId === host.id);
    expect(hostQuality.summary.samples).toBeGreaterThanOrEqual(2);
    expect(hostQuality.series[0]).toHaveProperty('sendKbps');

    // The specialist's own view: no private notes, only their own quality series.
    const specView = (
      await api.get(
        `/consults/${consult.id}/record`,
        await api.login(specialist.email, TEST_PASSWORD),
      )
    ).body;
    expect(specView).toMatchObject({ view: 'participant', notes: null });
    expect(specView.quality.map((q: any) => q.participantId)).toEqual([specialist.id]);
    expect(specView.chat).toHaveLength(1);
    expect(
      (
        await api.get(
          `/consults/${consult.id}/record`,
          await api.login(outsider.email, TEST_PASSWORD),
        )
      ).status,
    ).toBe(404);
    expect(
      (await api.get(`/consults/${consult.id}/record`, await api.login(admin.email, TEST_PASSWORD)))
        .body.view,
    ).toBe('full');
  });

  it('exports a FHIR R4 Bundle whose resources are complete and whose references resolve', async () => {
    const { g, host, specialist, consult, api } = await setup();
    gw = g;
    const doctor = await joinAsHost(g, consult.id, await g.grant(consult.id, host));
    clients.push(doctor.client);
    const spec = await joinAdmitted(
      g,
      consult.id,
      await g.grant(consult.id, specialist),
      doctor.client,
    );
    clients.push(spec.client);
    await doctor.client.call('chatMessage', { text: 'Hello' });
    await spec.client.call('chatMessage', { text: 'Hi, reviewing the echo now' });
    const hostToken = await api.login(host.email, TEST_PASSWORD);
    const notes = 'EF 35%.\nStart <beta> blocker & review in 2 weeks.';
    const outcome = 'Referred to cardiology';
    expect(
      (await api.post(`/consults/${consult.id}/notes`, { notes, outcome }, hostToken)).status,
    ).toBe(200);
    await doctor.client.call('endConsult', {});

    const res = await api.get(`/consults/${consult.id}/record/fhir`, hostToken);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/fhir\+json/);
    const bundle = res.body;
    expect(validateR4Bundle(bundle)).toEqual([]);
    const of = (type: string) =>
      bundle.entry.map((e: any) => e.resource).filter((r: any) => r.resourceType === type);
    expect(of('Encounter')).toHaveLength(1);
    expect(of('Appointment')).toHaveLength(1);
    expect(of('Communication').map((c: any) => c.payload[0].contentString)).toEqual([
      'Hello',
      'Hi, reviewing the echo now',
    ]);
    const encounter = of('Encounter')[0];
    expect(encounter).toMatchObject({ status: 'finished', class: { code: 'VR' } });
    expect(encounter.period.start).toBeDefined();
    expect(encounter.period.end).toBeDefined();
    expect(encounter.participant).toHaveLength(2);
    expect(of('Appointment')[0]).toMatchObject({
      status: 'fulfilled',
      description: 'Test consult',
    });
    expect(of('Patient')[0].identifier[0].value).toBe('P-TEST');

    // The host's notes and the outcome: a final consult note on the Encounter, by the host.
    const [note] = of('Composition');
    expect(note).toMatchObject({
      status: 'final',
      type: { coding: [{ system: 'http://loinc.org', code: '11488-4' }] },
      encounter: { reference: `urn:uuid:${encounter.id}` },
      subject: { reference: `urn:uuid:${of('Patient')[0].id}` },
    });
    const author = bundle.entry.find((e: any) => e.fullUrl === note.author[0].reference).resource;
    expect(author.name[0].text).toBe('Dr. Grey');
    expect(note.section.map((s: any) => s.title)).toEqual(['Notes', 'Outcome']);
    expect(note.section[0].text.div).toBe(
      '<div xmlns="http://www.w3.org/1999/xhtml"><p>EF 35%.</p><p>Start &lt;beta&gt; blocker &amp; review in 2 weeks.</p></div>',
    );
    expect(note.section[1].text.div).toContain('Referred to cardiology');
    const unescaped = structuredClone(bundle);
    unescaped.entry.find(
      (e: any) => e.resource.resourceType === 'Composition',
    ).resource.section[0].text.div = '<p>no namespace</p>';
    expect(validateR4Bundle(unescaped)).toEqual([expect.stringContaining('XHTML narrative')]);

    // The validator is not blind: a dangling reference is caught.
    const broken = structuredClone(bundle);
    broken.entry.find(
      (e: any) => e.resource.resourceType === 'Communication',
    ).resource.sender.reference = 'urn:uuid:nobody';
    expect(validateR4Bundle(broken)).toEqual([expect.stringContaining('does not resolve')]);
  });

  it('only the host or an admin writes notes, within size limits', async () => {
    const { g, host, specialist, consult, api } = await setup();
    gw = g;
    const hostToken = await api.login(host.email, TEST_PASSWORD);
    expect(
      (await api.post(`/consults/${consult.id}/notes`, { notes: 'x', outcome: '' }, hostToken))
        .status,
    ).toBe(200);
    const specToken = await api.login(specialist.email, TEST_PASSWORD);
    expect(
      (await api.post(`/consults/${consult.id}/notes`, { notes: 'x', outcome: '' }, specToken))
        .status,
    ).toBe(403);
    const tooLong = await api.post(
      `/consults/${consult.id}/notes`,
      { notes: 'x'.repeat(20_001), outcome: '' },
      hostToken,
    );
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.error.message).toMatch(/20000/);
  });
});

describe('a gateway killed mid-consult', () => {
  it('leaves the record interrupted, with every event and message before the kill, after the next start', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-crash-'));
    const env = {
      DATA_DIR: dataDir,
      JWT_SECRET: 'crash-test-secret-0123456789',
      SCRYPT_COST: '1024',
      QUALITY_SAMPLE_SECONDS: '1',
    };
    const services = await createServices(loadConfig(env), createLogger('silent'));
    const mk = (role: 'doctor' | 'specialist', name: string) =>
      services.auth.createUser(
        { role, name, email: `${role}@crash.example`, password: TEST_PASSWORD },
        null,
        null,
      );
    const host: User = await mk('doctor', 'Dr. Grey');
    const specialist: User = await mk('specialist', 'Dr. Shepherd');
    const consult = await services.consults.create(
      { claims: { sub: host.id, role: 'doctor', name: host.name }, ip: null },
      {
        title: 'Night consult',
        patientRef: 'P-9',
        scheduledStart: Date.now(),
        scheduledEnd: Date.now() + 3600_000,
        hostId: host.id,
        specialistIds: [specialist.id],
        guests: [],
      },
    );
    const hostGrant = (await services.consults.mintOperatorGrant(consult.id, host.id)).token;
    const specGrant = (await services.consults.mintOperatorGrant(consult.id, specialist.id)).token;
    await services.store.close();

    const first = await startGatewayProcess(env);
    procs.push(first);
    const doctor = await connectClient(first.url, hostGrant);
    clients.push(doctor);
    await doctor.call('join', { consultId: consult.id });
    const { mic } = await publish(doctor);
    const specClient = await connectClient(first.url, specGrant);
    clients.push(specClient);
    const waiting = await specClient.call<{ peerId: string }>('join', { consultId: consult.id });
    await doctor.call('admit', { peerId: waiting.peerId });
    await specClient.call('join', { consultId: consult.id });
    await doctor.call('pauseProducer', { producerId: mic });
    await specClient.call('chatMessage', { text: 'Before the crash' });
    await sleep(2500); // a couple of quality samples and heartbeats
    const killedAt = Date.now();
    await first.crash();

    const second = await startGatewayProcess(env);
    procs.push(second);
    const api = apiClient(second.url);
    const token = await api.login(host.email, TEST_PASSWORD);
    const record = (await api.get(`/consults/${consult.id}/record`, token)).body;
    expect(record.status).toBe('interrupted');
    expect(record.endReason).toBe('interrupted');
    expect(Date.parse(record.endedAt)).toBeLessThanOrEqual(killedAt);
    expect(Date.parse(record.endedAt)).toBeGreaterThan(killedAt - 3000);
    for (const p of record.participants) {
      expect(p.joins.at(-1).leftAt, p.displayName).not.toBeNull();
      expect(p.joins.at(-1).leaveReason).toBe('interrupted');
      expect(p.totalSeconds).toBeGreaterThanOrEqual(1);
    }
    const types = record.timeline.map((e: any) => e.type);
    for (const t of [
      'consult.started',
      'participant.joined',
      'media.started',
      'lobby.waiting',
      'lobby.admitted',
      'media.paused',
      'consult.interrupted',
    ]) {
      expect(types, t).toContain(t);
    }
    // Chat survives the restart, for the record and for participants who come back.
    expect(record.chat.map((m: any) => m.text)).toEqual(['Before the crash']);
    expect(record.quality.some((q: any) => q.summary.samples > 0)).toBe(true);
    expect(second.output()).toMatch(/interrupted/);
  }, 120_000);
});

describe('the audit log', () => {
  it('has a row for each security-relevant action, is searchable by admins only, and cannot be changed', async () => {
    const { g, host, specialist, admin, consult, api } = await setup();
    gw = g;
    const adminToken = await api.login(admin.email, TEST_PASSWORD);
    await api.post('/auth/login', { email: host.email, password: 'wrong password' });
    const login = await api.post('/auth/login', { email: host.email, password: TEST_PASSWORD });
    await api.post('/auth/refresh', { refreshToken: login.body.refreshToken });
    const hostToken = login.body.accessToken;
    const created = await api.post(
      '/users',
      { email: 'temp@h.example', name: 'Temp', role: 'specialist', password: 'twelve chars!' },
      adminToken,
    );
    await api.patch(`/users/${created.body.id}`, { disabled: true }, adminToken);
    const scheduled = await api.post(
      '/consults',
      {
        title: 'Audit',
        patientRef: 'P-A',
        scheduledStart: new Date().toISOString(),
        scheduledEnd: new Date(Date.now() + 3600_000).toISOString(),
        hostId: host.id,
        specialistIds: [],
        guests: [],
      },
      adminToken,
    );
    await api.patch(`/consults/${scheduled.body.id}`, { title: 'Audit 2' }, adminToken);
    await api.post(`/consults/${scheduled.body.id}/cancel`, {}, adminToken);
    const invite = await api.post(
      `/consults/${consult.id}/invites`,
      { guestName: 'Guest' },
      hostToken,
    );
    const redeemed = await api.post('/invites/redeem', { token: invite.body.token });

    const doctor = await joinAsHost(
      g,
      consult.id,
      (await api.post(`/consults/${consult.id}/join`, {}, hostToken)).body.token,
    );
    clients.push(doctor.client);
    const spec = await joinAdmitted(
      g,
      consult.id,
      await g.grant(consult.id, specialist),
      doctor.client,
    );
    clients.push(spec.client);
    const guest = await connectClient(g.url, redeemed.body.token);
    clients.push(guest);
    const waiting = await guest.call<{ peerId: string }>('join', { consultId: consult.id });
    await doctor.client.call('deny', { peerId: waiting.peerId });
    await api.del(`/consults/${consult.id}/invites/${invite.body.invite.id}`, hostToken);
    await doctor.client.call('removePeer', { peerId: spec.join.peerId });
    await doctor.client.call('endConsult', {});
    await api.get(`/consults/${consult.id}/record`, hostToken);
    await api.get(`/consults/${consult.id}/record/fhir`, hostToken);

    const actions = new Set(
      (await api.get('/audit?limit=200', adminToken)).body.items.map(
        (e: any) => `${e.action}:${e.outcome}`,
      ),
    );
    for (const a of [
      'auth.login:success',
      'auth.login:failure',
      'auth.refresh:success',
      'user.create:success',
      'user.disable:success',
      'consult.create:success',
      'consult.update:success',
      'consult.cancel:success',
      'invite.create:success',
      'invite.use:success',
      'invite.revoke:success',
      'consult.join:success',
      'consult.admit:success',
      'consult.deny:success',
      'consult.remove:success',
      'consult.end:success',
      'record.view:success',
      'record.export:success',
    ]) {
      expect(actions, a).toContain(a);
    }
    const failures = (await api.get(`/audit?action=auth.login&actor=${host.id}`, adminToken)).body
      .items;
    expect(failures.every((e: any) => e.action === 'auth.login' && e.actorId === host.id)).toBe(
      true,
    );
    expect(failures.find((e: any) => e.outcome === 'failure')).toMatchObject({
      sourceIp: expect.any(String),
    });
    const onlyFailures = (await api.get('/audit?outcome=failure', adminToken)).body.items;
    expect(onlyFailures.length).toBeGreaterThan(0);
    expect(onlyFailures.every((e: any) => e.outcome === 'failure')).toBe(true);
    const future = encodeURIComponent(new Date(Date.now() + 60_000).toISOString());
    expect((await api.get(`/audit?from=${future}`, adminToken)).body.total).toBe(0);

    expect((await api.get('/audit', hostToken)).status).toBe(403);
    for (const method of ['PUT', 'PATCH', 'DELETE', 'POST']) {
      const res = await api.request(method, '/audit', { token: adminToken, body: {} });
      expect(res.status, method).toBe(404);
    }
    // Even below the API, the database refuses changes to audit rows (PostgreSQL's trigger:
    // test/integration/store.test.ts).
    if (!usePostgres) {
      const db = new Database(path.join(g.dataDir, 'gateway.db'));
      try {
        expect(() => db.prepare("UPDATE audit_log SET action = 'x'").run()).toThrow(/append-only/);
        expect(() => db.prepare('DELETE FROM audit_log').run()).toThrow(/append-only/);
      } finally {
        db.close();
      }
    }
  });
});

describe('retention', () => {
  it('purges records older than RETENTION_DAYS and logs it', async () => {
    const g = await startTestGateway({ RETENTION_DAYS: '30' });
    gw = g;
    const host = await g.user('doctor', 'Dr. Old');
    const admin = await g.user('admin', 'Ada');
    const day = 24 * 3600_000;
    const old = await g.consult(host, [], {
      status: 'ended',
      scheduledStart: Date.now() - 40 * day,
      scheduledEnd: Date.now() - 40 * day + 3600_000,
      startedAt: Date.now() - 40 * day,
      endedAt: Date.now() - 40 * day + 1800_000,
    });
    const recent = await g.consult(host, [], {
      status: 'ended',
      startedAt: Date.now() - day,
      endedAt: Date.now() - day,
    });
    await g.store.records.appendChat({
      id: 'm1',
      consultId: old.id,
      at: old.startedAt!,
      senderId: host.id,
      senderName: 'x',
      senderRole: 'doctor',
      text: 'old',
    });
    expect(await g.records.purgeExpired()).toEqual([old.id]);
    const api = apiClient(g.url);
    const token = await api.login(host.email, TEST_PASSWORD);
    expect((await api.get(`/consults/${old.id}/record`, token)).status).toBe(404);
    expect((await api.get(`/consults/${recent.id}/record`, token)).status).toBe(200);
    const purge = (
      await api.get('/audit?action=retention.purge', await api.login(admin.email, TEST_PASSWORD))
    ).body.items;
    expect(purge[0].details).toMatchObject({ consults: [old.id], retentionDays: 30 });
  });
});
