/**
 * Issue 11, items 3 and 4 over the real gateway: the pre-call network check's echo (who may
 * use it, how much), the check's result kept in the consult record with the join, the host's
 * message to someone waiting (and every way it must be refused), and the dashboard's count
 * of who waits.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LOBBY_MESSAGE_BURST, LOBBY_MESSAGE_INTERVAL_S } from '../../src/app/lobbyMessage.js';
import {
  NETCHECK_BYTES_PER_MINUTE,
  NETCHECK_MAX_BYTES,
  NETCHECK_REQUESTS_PER_MINUTE,
} from '../../src/http/routes/netcheck.js';
import type { Precheck, WaitingResponse } from '../../src/protocol/index.js';
import type { Consult, User } from '../../src/store/repositories.js';
import { connectClient, type TestClient } from '../support/client.js';
import { joinAdmitted, joinAsHost } from '../support/consult.js';
import { TEST_PASSWORD, startTestGateway, type TestGateway } from '../support/gateway.js';
import { apiClient } from '../support/http.js';

let gw: TestGateway;
let host: User;
let specialist: User;
let consult: Consult;
const clients: TestClient[] = [];

const PRECHECK: Precheck = {
  camera: 'ok',
  microphone: 'denied',
  micHeard: false,
  speakerTested: true,
  network: { verdict: 'fair', rttMs: 180, downKbps: 2400, upKbps: 650, path: 'https' },
  at: new Date().toISOString(),
};

beforeEach(async () => {
  gw = await startTestGateway();
  host = await gw.user('doctor', 'Dr. Grey');
  specialist = await gw.user('specialist', 'Dr. Shepherd');
  consult = await gw.consult(host, [specialist]);
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await gw.stop();
});

const net = (path: string, token: string | undefined, init: RequestInit = {}) =>
  fetch(`${gw.url}/api/v1/netcheck${path}`, {
    ...init,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(init.headers as Record<string, string> | undefined),
    },
  });

const upload = (token: string, bytes: number) =>
  net('/upload', token, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: new Uint8Array(bytes),
  });

async function connect(token: string): Promise<TestClient> {
  const c = await connectClient(gw.url, token);
  clients.push(c);
  return c;
}

describe('the network check echo', () => {
  it('answers a join grant: ping, a download of the asked size, an upload counted', async () => {
    const grant = await gw.grant(consult.id, specialist);
    const ping = await net('/ping', grant);
    expect(ping.status).toBe(200);
    expect(ping.headers.get('cache-control')).toBe('no-store');
    const down = await net('/download?bytes=200000', grant);
    expect(down.status).toBe(200);
    expect((await down.arrayBuffer()).byteLength).toBe(200_000);
    const up = await upload(grant, 300_000);
    expect(up.status).toBe(200);
    expect(await up.json()).toEqual({ bytes: 300_000 });
  });

  it('refuses strangers, grants of an ended consult, access tokens, and sizes past the cap', async () => {
    expect((await net('/ping', undefined)).status).toBe(401);
    expect((await net('/ping', 'not.a.jwt')).status).toBe(401);
    // An access token (a login) is not a join grant.
    const access = await apiClient(gw.url).login(host.email, TEST_PASSWORD);
    expect((await net('/ping', access)).status).toBe(401);
    const grant = await gw.grant(consult.id, specialist);
    expect((await net(`/download?bytes=${NETCHECK_MAX_BYTES + 1}`, grant)).status).toBe(400);
    expect((await net('/download?bytes=-5', grant)).status).toBe(400);
    expect((await upload(grant, NETCHECK_MAX_BYTES + 1)).status).toBe(400);
    await gw.consults.end(consult.id, 'ended_by_host', { id: host.id }, null);
    expect((await net('/ping', grant)).status).toBe(403);
  });

  it('limits each participant per minute, in requests and in bytes', async () => {
    const grant = await gw.grant(consult.id, specialist);
    const statuses: number[] = [];
    for (let i = 0; i < NETCHECK_REQUESTS_PER_MINUTE + 1; i++) {
      statuses.push((await net('/ping', grant)).status);
    }
    expect(statuses.slice(0, -1).every((s) => s === 200)).toBe(true);
    expect(statuses.at(-1)).toBe(429);
    // Someone else's budget is their own; bytes run out before requests do.
    const other = await gw.grant(consult.id, host);
    const big = Math.floor(NETCHECK_BYTES_PER_MINUTE / NETCHECK_MAX_BYTES);
    for (let i = 0; i < big; i++) {
      expect((await net(`/download?bytes=${NETCHECK_MAX_BYTES}`, other)).status).toBe(200);
    }
    expect((await net(`/download?bytes=${NETCHECK_MAX_BYTES}`, other)).status).toBe(429);
  });
});

describe('the pre-call check in the record', () => {
  it('is kept with the join and shown per participant', async () => {
    const hostSide = await joinAsHost(gw, consult.id, await gw.grant(consult.id, host));
    clients.push(hostSide.client);
    const guest = await connect(await gw.grant(consult.id, specialist));
    const lobbyChanged = hostSide.client.next('lobbyChanged');
    const waiting = await guest.call<WaitingResponse>('join', {
      consultId: consult.id,
      precheck: PRECHECK,
    });
    await lobbyChanged;
    const admitted = guest.next('admitted');
    await hostSide.client.call('admit', { peerId: waiting.peerId });
    await admitted;
    await guest.call('join', { consultId: consult.id, precheck: PRECHECK });

    const api = apiClient(gw.url);
    const token = await api.login(host.email, TEST_PASSWORD);
    await expect
      .poll(async () => {
        const r = await api.get(`/consults/${consult.id}/record`, token);
        return r.body.participants.find(
          (p: { participantId: string }) => p.participantId === specialist.id,
        )?.precheck;
      })
      .toEqual(PRECHECK);
    const record = (await api.get(`/consults/${consult.id}/record`, token)).body;
    // The host ran none: nothing is made up.
    expect(
      record.participants.find((p: { participantId: string }) => p.participantId === host.id)
        .precheck,
    ).toBeNull();
  });

  it('refuses a malformed check at join, without joining', async () => {
    const hostSide = await joinAsHost(gw, consult.id, await gw.grant(consult.id, host));
    clients.push(hostSide.client);
    const guest = await connect(await gw.grant(consult.id, specialist));
    for (const precheck of [
      { ...PRECHECK, camera: 'perfect' },
      { ...PRECHECK, network: { ...PRECHECK.network, rttMs: 1e12 } },
      { ...PRECHECK, network: { ...PRECHECK.network, path: 'quic' } },
      { ...PRECHECK, network: { ...PRECHECK.network, path: 'udp', https: { rttMs: 1e9 } } },
      { ...PRECHECK, network: { ...PRECHECK.network, media: 'gone' } },
      { ...PRECHECK, extra: 'x'.repeat(100_000) },
    ]) {
      const res = await guest.request('join', { consultId: consult.id, precheck });
      expect(res.ok ? 'ok' : res.error.code).toBe('bad_request');
    }
    expect(await gw.lobby.list(consult.id)).toHaveLength(0);
  });
});

describe("the host's message to the waiting room", () => {
  async function hostAndWaitingGuest() {
    const hostSide = await joinAsHost(gw, consult.id, await gw.grant(consult.id, host));
    clients.push(hostSide.client);
    const guest = await connect(await gw.grant(consult.id, specialist));
    const lobbyChanged = hostSide.client.next('lobbyChanged');
    const waiting = await guest.call<WaitingResponse>('join', { consultId: consult.id });
    await lobbyChanged;
    return { hostClient: hostSide.client, guest, peerId: waiting.peerId };
  }

  it('reaches the waiting guest with the host name, and no one else', async () => {
    const { hostClient, guest, peerId } = await hostAndWaitingGuest();
    const got = guest.next<{ text: string; from: string; at: string }>('hostMessage');
    const ack = await hostClient.call<{ at: string }>('lobbyMessage', {
      peerId,
      text: '  I will be with you in 5 minutes.  ',
    });
    const msg = await got;
    expect(msg).toEqual({ text: 'I will be with you in 5 minutes.', from: 'Dr. Grey', at: ack.at });
    expect(hostClient.received('hostMessage')).toEqual([]);
  });

  it('is refused to the waiting guest, a non-host participant, and for anyone not waiting here', async () => {
    const { hostClient, guest, peerId } = await hostAndWaitingGuest();
    // The waiting guest cannot message anyone (not joined, and no admit grant).
    const fromGuest = await guest.request('lobbyMessage', { peerId, text: 'hello' });
    expect(fromGuest.ok ? 'ok' : fromGuest.error.code).toBe('not_joined');

    // Someone else waiting in another consult of the same host.
    const other = await gw.consult(host, [specialist]);
    const otherHost = await joinAsHost(gw, other.id, await gw.grant(other.id, host));
    clients.push(otherHost.client);
    const stranger = await connect(await gw.grant(other.id, specialist));
    const elsewhere = await stranger.request<WaitingResponse>('join', { consultId: other.id });
    expect(elsewhere.ok).toBe(true);
    const elsewherePeer = (elsewhere as { data: WaitingResponse }).data.peerId;
    const cross = await hostClient.request('lobbyMessage', { peerId: elsewherePeer, text: 'hi' });
    expect(cross.ok ? 'ok' : cross.error.code).toBe('not_found');
    expect(stranger.received('hostMessage')).toEqual([]);

    // A joined participant is not in the waiting room.
    const specialist2 = await gw.user('specialist', 'Dr. Yang');
    const c2 = await gw.consult(host, [specialist2]);
    const h2 = await joinAsHost(gw, c2.id, await gw.grant(c2.id, host));
    clients.push(h2.client);
    const admittedSide = await joinAdmitted(
      gw,
      c2.id,
      await gw.grant(c2.id, specialist2),
      h2.client,
    );
    clients.push(admittedSide.client);
    const toJoined = await h2.client.request('lobbyMessage', {
      peerId: admittedSide.join.peerId,
      text: 'hi',
    });
    expect(toJoined.ok ? 'ok' : toJoined.error.code).toBe('not_found');
    // A joined participant without the admit grant may not send one.
    const fromSpecialist = await admittedSide.client.request('lobbyMessage', {
      peerId: admittedSide.join.peerId,
      text: 'hi',
    });
    expect(fromSpecialist.ok ? 'ok' : fromSpecialist.error.code).toBe('forbidden');

    // Gone from the lobby: nothing to deliver to.
    const changed = hostClient.next('lobbyChanged');
    await guest.call('leave', {});
    await changed;
    const afterLeave = await hostClient.request('lobbyMessage', { peerId, text: 'hi' });
    expect(afterLeave.ok ? 'ok' : afterLeave.error.code).toBe('not_found');
  });

  it('is length-limited and rate-limited', async () => {
    const { hostClient, guest, peerId } = await hostAndWaitingGuest();
    for (const text of ['', '   ', 'x'.repeat(201), 42]) {
      const res = await hostClient.request('lobbyMessage', { peerId, text });
      expect(res.ok ? 'ok' : res.error.code).toBe('bad_request');
    }
    const codes: string[] = [];
    for (let i = 0; i < LOBBY_MESSAGE_BURST + 2; i++) {
      const res = await hostClient.request('lobbyMessage', { peerId, text: `message ${i}` });
      codes.push(res.ok ? 'ok' : res.error.code);
    }
    expect(codes).toEqual([
      ...Array<string>(LOBBY_MESSAGE_BURST).fill('ok'),
      'rate_limited',
      'rate_limited',
    ]);
    expect(LOBBY_MESSAGE_INTERVAL_S).toBeGreaterThanOrEqual(5);
    // Only the accepted ones reached the guest.
    await expect.poll(() => guest.received('hostMessage').length).toBe(LOBBY_MESSAGE_BURST);
  });
});

describe('the dashboard badge', () => {
  it('lists how many wait to the host, not to an invited specialist', async () => {
    const hostSide = await joinAsHost(gw, consult.id, await gw.grant(consult.id, host));
    clients.push(hostSide.client);
    const guestUser = await gw.user('specialist', 'Dr. Karev');
    const waiting = await gw.consult(host, [specialist, guestUser]);
    await connectClient(gw.url, await gw.grant(waiting.id, guestUser)).then(async (c) => {
      clients.push(c);
      await c.call('join', { consultId: waiting.id });
    });
    // The waiting room opened when the guest came (the consult is open, the host not yet in).
    const api = apiClient(gw.url);
    const hostToken = await api.login(host.email, TEST_PASSWORD);
    const mine = (await api.get('/consults?limit=50', hostToken)).body.items as {
      id: string;
      waiting?: number;
    }[];
    expect(mine.find((c) => c.id === waiting.id)?.waiting).toBe(1);
    expect(mine.find((c) => c.id === consult.id)?.waiting).toBe(0);
    const theirs = (
      await api.get('/consults?limit=50', await api.login(specialist.email, TEST_PASSWORD))
    ).body.items as { id: string; waiting?: number }[];
    expect(theirs.find((c) => c.id === waiting.id)).toBeDefined();
    expect(theirs.every((c) => c.waiting === undefined)).toBe(true);
  });
});
