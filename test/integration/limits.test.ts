/**
 * Resource limits under abuse, on a real gateway: media objects per participant under
 * concurrency, per-socket event rates, chat rate and history, ending a consult, oversized
 * messages and the client address in audit rows.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/http/metrics.js';
import type {
  Ack,
  ChatEntry,
  ConsumeResponse,
  TransportResponse,
} from '../../src/protocol/index.js';
import { connectClient, simulcastVideoRtpParameters, type TestClient } from '../support/client.js';
import { joinAdmitted, joinAsHost } from '../support/consult.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

let gw: TestGateway | undefined;
const clients: TestClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await gw?.stop();
  gw = undefined;
});

/** A gateway with one consult: a host and one invited specialist. */
async function setup(env: Record<string, string> = {}) {
  const g = await startTestGateway(env);
  gw = g;
  const host = await g.user('doctor', 'Dr. Grey');
  const specialist = await g.user('specialist', 'Dr. Shepherd');
  const second = await g.user('specialist', 'Dr. Bailey');
  const consultId = (await g.consult(host, [specialist, second])).id;
  const hostJoins = async () => {
    const joined = await joinAsHost(g, consultId, await g.grant(consultId, host));
    clients.push(joined.client);
    return joined;
  };
  const specialistJoins = async (hostClient: TestClient) => {
    const joined = await joinAdmitted(
      g,
      consultId,
      await g.grant(consultId, specialist),
      hostClient,
    );
    clients.push(joined.client);
    return joined;
  };
  return { g, host, specialist, second, consultId, hostJoins, specialistJoins };
}

/** Socket limits high enough that only the media limits are under test. */
const UNTHROTTLED = { SOCKET_EVENTS_PER_SECOND: '10000', SOCKET_EVENT_BURST: '100000' };

/** /metrics as a loopback scraper sees it (or, if it needs credentials, the same registry in-process). */
async function metrics(g: TestGateway): Promise<(name: string) => number> {
  const res = await fetch(`${g.url}/metrics`);
  const text = res.ok ? await res.text() : await createMetrics(g.rooms, g.pool).metrics();
  return (name) => {
    const escaped = name.replace(/[{}"]/g, (c) => `\\${c}`);
    const match = new RegExp(`^${escaped} (\\S+)$`, 'm').exec(text);
    if (!match) throw new Error(`${name} not in /metrics`);
    return Number(match[1]);
  };
}

/** What a VP8-only receiver would send as its RTP capabilities (small: 3,000 of them are sent). */
const VP8_RECEIVER = {
  codecs: [
    {
      kind: 'video',
      mimeType: 'video/VP8',
      clockRate: 90000,
      preferredPayloadType: 96,
      rtcpFeedback: [
        { type: 'nack' },
        { type: 'nack', parameter: 'pli' },
        { type: 'transport-cc' },
      ],
    },
    {
      kind: 'video',
      mimeType: 'video/rtx',
      clockRate: 90000,
      preferredPayloadType: 97,
      parameters: { apt: 96 },
    },
  ],
  headerExtensions: [],
};

/**
 * Emits every payload at once and resolves with all the acks, in order. The wait is bounded
 * by the acks themselves (and a generous overall timeout), not per request: a loaded machine
 * answers thousands of requests slowly, and a lost ack is still caught.
 */
function burst<T>(client: TestClient, event: string, payloads: unknown[]): Promise<Ack<T>[]> {
  return new Promise((resolve, reject) => {
    const acks: Ack<T>[] = new Array(payloads.length);
    let pending = payloads.length;
    const timer = setTimeout(
      () => reject(new Error(`${pending} of ${payloads.length} ${event} acks missing after 60 s`)),
      60_000,
    );
    const emit = client.socket.emit as unknown as (...args: unknown[]) => void;
    payloads.forEach((payload, i) =>
      emit.call(client.socket, event, payload, (ack: Ack<T>) => {
        acks[i] = ack;
        if (--pending === 0) {
          clearTimeout(timer);
          resolve(acks);
        }
      }),
    );
  });
}

const codes = (acks: Ack<unknown>[]) => {
  const counts: Record<string, number> = {};
  for (const a of acks) {
    const key = a.ok ? 'ok' : a.error.code;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
};

describe('media limits per participant, under concurrency', () => {
  it('2,000 concurrent createTransport and 40 pipelined produce leave 2 transports and 1 camera producer', async () => {
    const { g, consultId, hostJoins, specialistJoins } = await setup(UNTHROTTLED);
    const host = await hostJoins();
    const specialist = await specialistJoins(host.client);

    const created = await burst<TransportResponse>(
      host.client,
      'createTransport',
      Array.from({ length: 2000 }, (_, i) => ({ direction: i % 2 ? 'recv' : 'send' })),
    );
    const createdCodes = codes(created);
    expect(Object.keys(createdCodes).sort()).toEqual(['conflict', 'ok']);
    const router = g.rooms.rooms.get(consultId)!.router;
    const hostPeer = g.rooms.rooms.get(consultId)!.peers.get(host.join.peerId)!;
    expect(hostPeer.transports.size).toBe(2);

    const send = await host.client.call<TransportResponse>('createTransport', {
      direction: 'send',
    });
    const produced = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        host.client.request<{ producerId: string }>('produce', {
          transportId: send.id,
          kind: 'video',
          rtpParameters: simulcastVideoRtpParameters(10_000 + i * 10),
          appData: { source: 'camera' },
        }),
      ),
    );
    expect(codes(produced)).toEqual({ ok: 1, conflict: 39 });

    const value = await metrics(g);
    expect(value('gateway_transports')).toBe(2);
    expect(value('gateway_peer_transports_max')).toBe(2);
    expect(value('gateway_producers_by_source{source="camera"}')).toBe(1);
    expect(value('gateway_peer_producers_max{source="camera"}')).toBe(1);
    // The worker itself holds no stray transports, and the others were told of one camera.
    expect((await router.dump()).transportIds).toHaveLength(2);
    await specialist.client.call('getStats', {});
    expect(specialist.client.received('newProducer')).toHaveLength(1);
  });

  // 1,000 in flight at once are plenty to race the check; each costs a grant re-check in SQLite.
  it('1,000 concurrent consume of the same producer make one consumer, and every ack names it', async () => {
    const { g, consultId, hostJoins, specialistJoins } = await setup(UNTHROTTLED);
    const host = await hostJoins();
    const send = await host.client.call<TransportResponse>('createTransport', {
      direction: 'send',
    });
    const { producerId } = await host.client.call<{ producerId: string }>('produce', {
      transportId: send.id,
      kind: 'video',
      rtpParameters: simulcastVideoRtpParameters(20_000),
      appData: { source: 'camera' },
    });
    const specialist = await specialistJoins(host.client);
    await specialist.client.call('createTransport', { direction: 'recv' });

    const consumed = await burst<ConsumeResponse>(
      specialist.client,
      'consume',
      Array.from({ length: 1000 }, () => ({ producerId, rtpCapabilities: VP8_RECEIVER })),
    );
    expect(codes(consumed)).toEqual({ ok: 1000 });
    const ids = new Set(consumed.map((a) => (a.ok ? a.data.consumerId : '')));
    expect(ids.size).toBe(1);
    const peer = g.rooms.rooms.get(consultId)!.peers.get(specialist.join.peerId)!;
    expect(peer.consumers.size).toBe(1);
    const value = await metrics(g);
    expect(value('gateway_consumers')).toBe(1);
    expect(value('gateway_peer_consumers_of_one_producer_max')).toBe(1);
  }, 120_000);
});

describe('per-socket event rate limit', () => {
  it('answers rate_limited past the burst, serves the socket again later, and others throughout', async () => {
    const { hostJoins, specialistJoins } = await setup({
      SOCKET_EVENTS_PER_SECOND: '20',
      SOCKET_EVENT_BURST: '40',
    });
    const host = await hostJoins();
    const specialist = await specialistJoins(host.client);
    // Let the bucket refill from the join's own events (40 at 20/s is 2 s).
    await new Promise((r) => setTimeout(r, 2100));
    const burst = await Promise.all(
      Array.from({ length: 120 }, () => specialist.client.request('getStats', {})),
    );
    const counts = codes(burst);
    // The whole burst (40) passes; what refills while 120 events are read (20/s) may too; the
    // rest is refused. The bucket's arithmetic is unit-tested with a fake clock.
    expect(counts.ok).toBeGreaterThanOrEqual(40);
    expect(counts.ok).toBeLessThan(100);
    expect(counts.rate_limited).toBe(120 - counts.ok!);
    const refused = burst.find((a) => !a.ok);
    expect(refused).toMatchObject({ error: { message: expect.stringMatching(/wait \d+ s/) } });
    expect(await host.client.request('getStats', {})).toMatchObject({ ok: true });
    await new Promise((r) => setTimeout(r, 1000));
    expect(await specialist.client.request('getStats', {})).toMatchObject({ ok: true });
  });

  it('disconnects a socket that floods far past its limit; the consult goes on', async () => {
    const { hostJoins, specialistJoins } = await setup({
      SOCKET_EVENTS_PER_SECOND: '20',
      SOCKET_EVENT_BURST: '40',
    });
    const host = await hostJoins();
    const specialist = await specialistJoins(host.client);
    const disconnected = new Promise<string>((resolve) =>
      specialist.client.socket.once('disconnect', resolve),
    );
    // 10x the rate for the 5 s window is 1,000 events.
    for (let i = 0; i < 1100; i++) specialist.client.socket.emit('getStats', {}, () => undefined);
    expect(await disconnected).toBe('io server disconnect');
    expect(await host.client.request('getStats', {})).toMatchObject({ ok: true });
  });
});

describe('chat limits', () => {
  it('rate-limits one participant with a plain message; the others can still write', async () => {
    // A burst of 10 that refills at one message an hour: the 15 sends take as long as a loaded
    // machine makes them (over 2 s once, refilling two messages at the default rate), and
    // exactly the burst still goes through.
    const { hostJoins, specialistJoins } = await setup({
      CHAT_MESSAGES_PER_WINDOW: '1',
      CHAT_WINDOW_SECONDS: '3600',
    });
    const host = await hostJoins();
    const specialist = await specialistJoins(host.client);
    const sent = [];
    for (let i = 0; i < 15; i++)
      sent.push(await specialist.client.request('chatMessage', { text: `message ${i}` }));
    expect(codes(sent)).toEqual({ ok: 10, rate_limited: 5 });
    expect(sent[14]).toMatchObject({
      error: { message: expect.stringMatching(/too fast; wait \d+ s/) },
    });
    expect(await host.client.request('chatMessage', { text: 'still here' })).toMatchObject({
      ok: true,
    });
  });

  it('a late joiner gets the last 50 messages and pages older ones with chatHistory', async () => {
    const { g, consultId, hostJoins, specialistJoins } = await setup({
      CHAT_MAX_PER_CONSULT: '130',
    });
    const base = Date.now() - 3600_000;
    const stored = Array.from({ length: 130 }, (_, i) => ({
      id: randomUUID(),
      consultId,
      // Pairs share a millisecond: paging by id must keep their order.
      at: base + Math.floor(i / 2),
      senderId: 'u1',
      senderName: 'Dr. Grey',
      senderRole: 'doctor',
      text: `m${i} ${'x'.repeat(1990)}`,
    }));
    await g.store.transaction(async (tx) => {
      for (const m of stored) await tx.records.appendChat(m);
    });
    const host = await hostJoins();
    const specialist = await specialistJoins(host.client);
    const texts = (entries: ChatEntry[]) => entries.map((m) => m.text.split(' ')[0]);
    const expected = (from: number, to: number) =>
      stored.slice(from, to).map((m) => m.text.split(' ')[0]);

    expect(texts(specialist.join.chat)).toEqual(expected(80, 130));
    expect(specialist.join.chatHasMore).toBe(true);
    expect(JSON.stringify(specialist.join).length).toBeLessThan(150_000);

    type Page = { messages: ChatEntry[]; hasMore: boolean };
    const page1 = await specialist.client.call<Page>('chatHistory', {
      before: specialist.join.chat[0]!.id,
      limit: 60,
    });
    expect(texts(page1.messages)).toEqual(expected(20, 80));
    expect(page1.hasMore).toBe(true);
    const page2 = await specialist.client.call<Page>('chatHistory', {
      before: page1.messages[0]!.id,
    });
    expect(texts(page2.messages)).toEqual(expected(0, 20));
    expect(page2.hasMore).toBe(false);
    const byTime = await specialist.client.call<Page>('chatHistory', {
      before: new Date(base + 10).toISOString(),
      limit: 100,
    });
    expect(texts(byTime.messages)).toEqual(expected(0, 20));

    // Abuse: pages past the bound, other consults' ids, and a full chat.
    expect(
      await specialist.client.request('chatHistory', { before: stored[5]!.id, limit: 101 }),
    ).toMatchObject({ ok: false, error: { code: 'bad_request' } });
    expect(await specialist.client.request('chatHistory', { before: randomUUID() })).toMatchObject({
      ok: false,
      error: { code: 'not_found' },
    });
    expect(await host.client.request('chatMessage', { text: 'one more' })).toMatchObject({
      ok: false,
      error: { code: 'conflict', message: expect.stringMatching(/full \(130 messages\)/) },
    });
  });

  it('someone waiting in the lobby cannot read the chat', async () => {
    const { g, consultId, hostJoins, specialist } = await setup();
    const host = await hostJoins();
    await host.client.call('chatMessage', { text: 'patient history follows' });
    const waiting = await connectClient(g.url, await g.grant(consultId, specialist));
    clients.push(waiting);
    await waiting.call('join', { consultId });
    expect(
      await waiting.request('chatHistory', { before: new Date().toISOString() }),
    ).toMatchObject({ ok: false, error: { code: 'not_joined' } });
  });
});

describe('ending a consult', () => {
  it('disconnects every socket of the consult: joined, waiting and not yet joined', async () => {
    const { g, consultId, host: hostUser, second, hostJoins, specialistJoins } = await setup();
    const host = await hostJoins();
    const specialist = await specialistJoins(host.client);
    const waiting = await connectClient(g.url, await g.grant(consultId, second));
    clients.push(waiting);
    expect(await waiting.call('join', { consultId })).toMatchObject({ waiting: true });
    const idle = await connectClient(g.url, await g.grant(consultId, hostUser));
    clients.push(idle);
    const others = [specialist.client, waiting, idle];
    const gone = others.map(
      (c) => new Promise<string>((resolve) => c.socket.once('disconnect', resolve)),
    );
    const told = others.map((c) => c.next<{ reason: string }>('consultEnded'));
    await host.client.call('endConsult', {});
    expect((await Promise.all(told)).map((m) => m.reason)).toEqual(Array(3).fill('ended_by_host'));
    expect(await Promise.all(gone)).toEqual(Array(3).fill('io server disconnect'));
    await new Promise((r) => setTimeout(r, 50));
    expect(g.io.of('/').sockets.size).toBe(0);
  });
});

describe('message size', () => {
  it('an oversized message closes only its own socket; the others are still served', async () => {
    const { hostJoins, specialistJoins } = await setup();
    const host = await hostJoins();
    const specialist = await specialistJoins(host.client);
    // Just under the limit: an ordinary refusal.
    expect(
      await specialist.client.request('chatMessage', { text: 'x'.repeat(200 * 1024) }),
    ).toMatchObject({ ok: false, error: { code: 'bad_request' } });
    const gone = new Promise<string>((resolve) =>
      specialist.client.socket.once('disconnect', resolve),
    );
    specialist.client.socket.emit('chatMessage', { text: 'x'.repeat(300 * 1024) }, () => {
      throw new Error('an oversized message must not be answered');
    });
    expect(await gone).toBe('transport close');
    expect(await host.client.request('chatMessage', { text: 'still here' })).toMatchObject({
      ok: true,
    });
  });
});

describe('client address in socket audit rows', () => {
  async function joinThroughProxy(env: Record<string, string>) {
    const { g, host, consultId } = await setup(env);
    const client = await connectClient(g.url, await g.grant(consultId, host), {
      extraHeaders: { 'x-forwarded-for': '198.51.100.23, 203.0.113.7' },
    });
    clients.push(client);
    await client.call('join', { consultId });
    const rows = (await g.audit.search({ action: 'consult.join', limit: 10, offset: 0 })).items;
    expect(rows).toHaveLength(1);
    return rows[0]!.sourceIp;
  }

  it('is the forwarded address when the TCP peer is a trusted proxy, as for HTTP', async () => {
    expect(await joinThroughProxy({})).toBe('203.0.113.7');
  });

  it('is the TCP peer when no proxy is trusted', async () => {
    expect(await joinThroughProxy({ TRUST_PROXY: 'false' })).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
  });
});
