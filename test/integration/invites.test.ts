/**
 * Invite links under attack: a forwarded link never yields the invited guest's seat, each
 * redemption is its own guest in the waiting room, links have a use limit, and a seat is taken
 * over only with the resume secret its socket was given.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { JoinResponse, WaitingResponse } from '../../src/protocol/index.js';
import type { Consult, User } from '../../src/store/repositories.js';
import { connectClient, type TestClient } from '../support/client.js';
import { joinAdmitted, joinAsHost, type Joined } from '../support/consult.js';
import { startTestGateway, TEST_PASSWORD, type TestGateway } from '../support/gateway.js';
import { apiClient } from '../support/http.js';
import { LOBBY_NOTIFY_MS } from '../../src/signalling/server.js';
import { sleep, timeUntil } from '../support/wait.js';

let gw: TestGateway | undefined;
const clients: TestClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await gw?.stop();
  gw = undefined;
});

interface Setup {
  g: TestGateway;
  api: ReturnType<typeof apiClient>;
  hostToken: string;
  hostUser: User;
  consult: Consult;
  host: Joined;
  /** Creates an invite through the API; returns its link token and id. */
  invite(body?: Record<string, unknown>): Promise<{ token: string; id: string }>;
  /** Redeems an invite link through the API, as the invite page does. */
  redeem(token: string): Promise<{ status: number; body: any }>;
}

async function setup(env: Record<string, string> = {}): Promise<Setup> {
  const g = (gw = await startTestGateway({ RECONNECT_GRACE_SECONDS: '10', ...env }));
  const api = apiClient(`${g.url}`);
  const hostUser = await g.user('doctor', 'Dr. Grey');
  const consult = await g.consult(hostUser);
  const hostToken = await api.login(hostUser.email, TEST_PASSWORD);
  const host = await joinAsHost(g, consult.id, await g.grant(consult.id, hostUser));
  clients.push(host.client);
  return {
    g,
    api,
    hostToken,
    hostUser,
    consult,
    host,
    async invite(body = {}) {
      const res = await api.post(
        `/consults/${consult.id}/invites`,
        { guestName: 'Pat Guest', ...body },
        hostToken,
      );
      if (res.status !== 201) throw new Error(`invite: ${res.status} ${JSON.stringify(res.body)}`);
      return { token: res.body.token, id: res.body.invite.id };
    },
    redeem: (token: string) => api.post('/invites/redeem', { token }),
  };
}

async function connect(g: TestGateway, token: string): Promise<TestClient> {
  const c = await connectClient(g.url, token);
  clients.push(c);
  return c;
}

type LobbyMsg = {
  waiting: { peerId: string; displayName: string; verifiedName: string; redeemedAt?: string }[];
  total: number;
};

/** The newest lobbyChanged the host got, once it satisfies `ok` (changes arrive coalesced). */
async function lobbySeen(host: TestClient, ok: (m: LobbyMsg) => boolean): Promise<LobbyMsg> {
  const last = () => host.received('lobbyChanged').at(-1) as LobbyMsg | undefined;
  await timeUntil(() => Boolean(last() && ok(last()!)), 5000, 'lobbyChanged', 20);
  return last()!;
}

describe('a forwarded invite link', () => {
  it('gives a second redeemer their own place in the waiting room, never the first guest’s seat', async () => {
    const { g, consult, host, invite, redeem } = await setup();
    const link = await invite({ maxUses: 2 });
    const first = await redeem(link.token);
    const second = await redeem(link.token);
    expect([first.status, second.status]).toEqual([200, 200]);

    const guest1 = await joinAdmitted(g, consult.id, first.body.token, host.client);
    clients.push(guest1.client);
    const kicked = guest1.client.next<{ reason: string }>('consultEnded', 1500).catch(() => null);

    const intruder = await connect(g, second.body.token);
    const res = await intruder.call<{ waiting?: boolean; peerId: string; resumed?: unknown }>(
      'join',
      {
        consultId: consult.id,
      },
    );
    expect(res.waiting).toBe(true);
    expect(res.peerId).not.toBe(guest1.join.peerId);
    expect(res.resumed).toBeUndefined();
    // The host is told of the second arrival, with when they redeemed the link.
    const seen = await lobbySeen(host.client, (m) =>
      m.waiting.some((e) => e.peerId === res.peerId),
    );
    expect(seen.waiting).toEqual([
      expect.objectContaining({
        peerId: res.peerId,
        verifiedName: 'Pat Guest',
        redeemedAt: expect.any(String),
      }),
    ]);
    expect(seen.total).toBe(1);
    // The first guest keeps their seat and connection.
    expect(await kicked).toBeNull();
    expect(guest1.client.socket.connected).toBe(true);
    expect(g.rooms.rooms.get(consult.id)?.peers.has(guest1.join.peerId)).toBe(true);
    // The intruder cannot act as a participant.
    expect(await intruder.request('createTransport', { direction: 'recv' })).toMatchObject({
      ok: false,
      error: { code: 'not_joined' },
    });
  });

  it('works for one person by default: a second redemption is refused with invite_used', async () => {
    const { api, consult, hostToken, invite, redeem } = await setup();
    const link = await invite();
    expect((await redeem(link.token)).status).toBe(200);
    const again = await redeem(link.token);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('invite_used');
    expect(again.body.error.message).toMatch(/already been used.*new (one|link)/i);
    const listed = await api.get(`/consults/${consult.id}/invites`, hostToken);
    expect(listed.body.items[0]).toMatchObject({ maxUses: 1, uses: 1 });
  });

  it('counts redemptions atomically: 20 parallel redemptions of a 3-use link yield 3 grants', async () => {
    const { invite, redeem } = await setup();
    const link = await invite({ maxUses: 3 });
    const results = await Promise.all(Array.from({ length: 20 }, () => redeem(link.token)));
    const ok = results.filter((r) => r.status === 200);
    expect(ok).toHaveLength(3);
    expect(results.filter((r) => r.status === 409)).toHaveLength(17);
    // Each redemption is a distinct guest identity.
    const subs = ok.map((r) => JSON.parse(atob(r.body.token.split('.')[1])).sub);
    expect(new Set(subs).size).toBe(3);
  });

  it('refuses a use limit outside 1–20', async () => {
    const { api, consult, hostToken } = await setup();
    for (const maxUses of [0, 21, 1.5]) {
      const res = await api.post(
        `/consults/${consult.id}/invites`,
        { guestName: 'Pat Guest', maxUses },
        hostToken,
      );
      expect(res.status, String(maxUses)).toBe(400);
    }
  });

  it('revoking the invite disconnects every guest who redeemed it', async () => {
    const { g, consult, host, invite, redeem, api, hostToken } = await setup();
    const link = await invite({ maxUses: 2 });
    const a = await joinAdmitted(g, consult.id, (await redeem(link.token)).body.token, host.client);
    clients.push(a.client);
    const b = await connect(g, (await redeem(link.token)).body.token);
    await b.call('join', { consultId: consult.id });
    const endedA = a.client.next<{ reason: string }>('consultEnded');
    const endedB = b.next<{ reason: string }>('consultEnded');
    await api.del(`/consults/${consult.id}/invites/${link.id}`, hostToken);
    expect((await endedA).reason).toBe('invite_revoked');
    expect((await endedB).reason).toBe('invite_revoked');
  });
});

describe('taking over a seat', () => {
  it('a guest’s grant on a second socket without the resume secret does not get the seat', async () => {
    const { g, consult, host, invite, redeem } = await setup();
    const grant = (await redeem((await invite()).token)).body.token;
    const guest = await joinAdmitted(g, consult.id, grant, host.client);
    clients.push(guest.client);
    expect(guest.join.resumeSecret).toMatch(/^[A-Za-z0-9_-]{40,}$/);

    const copy = await connect(g, grant);
    const refused = await copy.request('join', { consultId: consult.id });
    expect(refused).toMatchObject({ ok: false, error: { code: 'seat_taken' } });
    const wrong = await copy.request('join', {
      consultId: consult.id,
      resumeSecret: 'x'.repeat(43),
    });
    expect(wrong).toMatchObject({ ok: false, error: { code: 'seat_taken' } });
    await sleep(100);
    expect(guest.client.socket.connected).toBe(true);
    expect(guest.client.received('consultEnded')).toEqual([]);
  });

  it('a guest whose socket dropped takes the seat back with its resume secret', async () => {
    const { g, consult, host, invite, redeem } = await setup();
    const grant = (await redeem((await invite()).token)).body.token;
    const guest = await joinAdmitted(g, consult.id, grant, host.client);
    guest.client.close();
    await sleep(200);
    const back = await connect(g, grant);
    const join = await back.call<JoinResponse>('join', {
      consultId: consult.id,
      resumeSecret: guest.join.resumeSecret,
    });
    expect(join.peerId).toBe(guest.join.peerId);
    expect(join.resumed).toBeDefined();
    // A new secret for the new socket; the old one no longer works.
    expect(join.resumeSecret).not.toBe(guest.join.resumeSecret);
    expect(host.client.received('peerLeft')).toEqual([]);
  });
});

describe('the waiting room under abuse', () => {
  it('300 sockets from one guest grant make one waiting entry and few, small lobbyChanged messages', async () => {
    const { g, consult, host, invite, redeem } = await setup();
    const grant = (await redeem((await invite()).token)).body.token;
    const sockets: TestClient[] = [];
    let peerIds = new Set<string>();
    const started = Date.now();
    for (let batch = 0; batch < 6; batch++) {
      const batchClients = await Promise.all(
        Array.from({ length: 50 }, () => connectClient(g.url, grant)),
      );
      sockets.push(...batchClients);
      clients.push(...batchClients);
      const acks = await Promise.all(
        batchClients.map((c, i) =>
          c.request<WaitingResponse>('join', {
            consultId: consult.id,
            displayName: `Spoof ${batch * 50 + i}`,
          }),
        ),
      );
      peerIds = new Set([...peerIds, ...acks.flatMap((a) => (a.ok ? [a.data.peerId] : []))]);
    }
    const elapsed = Date.now() - started;
    expect(peerIds.size).toBe(1);
    expect(await g.lobby.list(consult.id)).toHaveLength(1);
    // Only the newest socket of that identity still waits.
    await timeUntil(
      () => sockets.filter((c) => c.socket.connected).length === 1,
      5000,
      'replaced sockets disconnected',
    );
    await sleep(2 * LOBBY_NOTIFY_MS);
    const messages = host.client.received('lobbyChanged') as LobbyMsg[];
    expect(messages.at(-1)!.waiting).toHaveLength(1);
    // One message per notify interval at most (plus the first and the trailing one).
    expect(messages.length).toBeLessThanOrEqual(2 + Math.ceil(elapsed / LOBBY_NOTIFY_MS));
    expect(Math.max(...messages.map((m) => JSON.stringify(m).length))).toBeLessThan(1000);
  }, 120_000); // 300 real socket connections on a shared 2-core machine

  it('sends at most 50 waiting entries, with the total', async () => {
    const { g, consult, host, invite, redeem } = await setup();
    const link = await invite({ maxUses: 20 });
    const links = [link, await invite({ maxUses: 20 }), await invite({ maxUses: 20 })];
    const grants: string[] = [];
    for (const l of links) {
      for (let i = 0; i < 20; i++) grants.push((await redeem(l.token)).body.token);
    }
    await Promise.all(
      grants.map(async (t) => (await connect(g, t)).call('join', { consultId: consult.id })),
    );
    const last = await lobbySeen(host.client, (m) => m.total === 60);
    expect(last.waiting).toHaveLength(50);
  });

  it('a denied guest cannot return to the waiting room before the cooldown', async () => {
    const { g, consult, host, invite, redeem } = await setup({
      LOBBY_DENY_COOLDOWN_SECONDS: '600',
    });
    const grant = (await redeem((await invite()).token)).body.token;
    const guest = await connect(g, grant);
    const waiting = await guest.call<WaitingResponse>('join', { consultId: consult.id });
    const denied = guest.next('denied');
    await host.client.call('deny', { peerId: waiting.peerId });
    await denied;
    const again = await connect(g, grant);
    const res = await again.request('join', { consultId: consult.id });
    expect(res).toMatchObject({ ok: false, error: { code: 'denied_recently' } });
    expect(!res.ok && res.error.message).toMatch(/10 minutes/);
    expect(await g.lobby.list(consult.id)).toHaveLength(0);
  });
});

describe('names', () => {
  it('one schema for a person’s name: 100 characters are refused by the API', async () => {
    const { api, consult, hostToken, hostUser } = await setup();
    const long = 'N'.repeat(100);
    const invite = await api.post(
      `/consults/${consult.id}/invites`,
      { guestName: long },
      hostToken,
    );
    expect(invite.status).toBe(400);
    const scheduled = await api.post(
      '/consults',
      {
        title: 'Names',
        patientRef: 'P-N',
        scheduledStart: new Date(Date.now() + 3600_000).toISOString(),
        scheduledEnd: new Date(Date.now() + 7200_000).toISOString(),
        hostId: hostUser.id,
        guests: [{ name: long }],
      },
      hostToken,
    );
    expect(scheduled.status).toBe(400);
    expect(
      (await api.post(`/consults/${consult.id}/invites`, { guestName: 'N'.repeat(80) }, hostToken))
        .status,
    ).toBe(201);
  });

  it('the record and the FHIR export name a guest by the invite, keeping a chosen name as an alias', async () => {
    const { g, api, consult, host, hostToken, invite, redeem } = await setup();
    const grant = (await redeem((await invite()).token)).body.token;
    const client = await connect(g, grant);
    const waiting = await client.call<WaitingResponse>('join', {
      consultId: consult.id,
      displayName: 'Dr. Demo Doctor',
    });
    const lobby = await lobbySeen(host.client, (m) => m.total === 1);
    expect(lobby.waiting[0]).toMatchObject({
      displayName: 'Dr. Demo Doctor',
      verifiedName: 'Pat Guest',
    });
    const joinedMsg = host.client.next<{ displayName: string; verifiedName: string }>('peerJoined');
    const admitted = client.next('admitted');
    await host.client.call('admit', { peerId: waiting.peerId });
    await admitted;
    await client.call('join', { consultId: consult.id, displayName: 'Dr. Demo Doctor' });
    expect(await joinedMsg).toMatchObject({
      displayName: 'Dr. Demo Doctor',
      verifiedName: 'Pat Guest',
    });
    await host.client.call('endConsult', {});
    await g.recorder.queue.flush();

    const record = (await api.get(`/consults/${consult.id}/record`, hostToken)).body;
    const guest = record.participants.find((p: any) => p.kind === 'guest');
    expect(guest).toMatchObject({ displayName: 'Pat Guest', alias: 'Dr. Demo Doctor' });
    expect(JSON.stringify(record.timeline)).not.toContain('Dr. Demo Doctor');
    const fhir = (await api.get(`/consults/${consult.id}/record/fhir`, hostToken)).body;
    const names = fhir.entry
      .filter((e: any) => e.resource.resourceType === 'Practitioner')
      .flatMap((e: any) => e.resource.name.map((n: any) => n.text));
    expect(names).toContain('Pat Guest');
    expect(names).not.toContain('Dr. Demo Doctor');
  });
});
