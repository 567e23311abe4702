/**
 * `join` with `recvTransport: true`: the answer brings the joiner's receive transport, so its
 * consume requests follow the join directly. Someone put in the lobby gets none, a malformed
 * flag is refused without a seat, and a second join does not leave a second transport behind.
 * `sendTransport: true` (a failover's takeover join) brings the send transport the same way.
 *
 * With the Device's `rtpCapabilities` too, the answer brings the joiner's consumers of every
 * producer already in the consult, resumed, so its first frame needs no `consume` or
 * `resumeConsumer` round trip. The fold consumes only what the joiner could consume itself:
 * refused without the subscribe grant or a receive transport (before any seat), nothing for
 * someone put in the lobby, a producer its capabilities cannot receive left to `consume`
 * (which says why), and a later `consume` of a folded producer answers the same consumer. A
 * replayed or flooded join seats the connection once with one consumer per producer, and
 * another consult's producers are never consumed.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type {
  ConsumeResponse,
  JoinResponse,
  TransportResponse,
  WaitingResponse,
} from '../../src/protocol/index.js';
import {
  audioRtpParameters,
  connectClient,
  simulcastVideoRtpParameters,
  type TestClient,
} from '../support/client.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import type { Consult, User } from '../../src/store/repositories.js';

let gw: TestGateway;
let host: User;
let specialist: User;
let consult: Consult;
const clients: TestClient[] = [];

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

async function connect(user: User): Promise<TestClient> {
  const client = await connectClient(gw.url, await gw.grant(consult.id, user));
  clients.push(client);
  return client;
}

/** The server's transports of a joined peer, by direction. */
function seatTransports(peerId: string): string[] {
  const peer = gw.rooms.rooms.get(consult.id)?.peers.get(peerId);
  return [...(peer?.transports.values() ?? [])].map((t) => t.direction);
}

describe('join with recvTransport', () => {
  it('answers the receive transport, and consuming needs no createTransport', async () => {
    const hostClient = await connect(host);
    const joined = await hostClient.call<JoinResponse>('join', {
      consultId: consult.id,
      recvTransport: true,
    });
    const recv = joined.recvTransport as TransportResponse;
    expect(recv.id).toEqual(expect.any(String));
    expect(recv.iceCandidates.length).toBeGreaterThan(0);
    expect(recv.dtlsParameters.fingerprints.length).toBeGreaterThan(0);
    expect(seatTransports(joined.peerId)).toEqual(['recv']);

    // Someone else publishes; the host consumes on the transport the join gave it.
    const other = await connect(specialist);
    const waiting = await other.call<WaitingResponse>('join', { consultId: consult.id });
    await hostClient.call('admit', { peerId: waiting.peerId });
    await other.call<JoinResponse>('join', { consultId: consult.id });
    const send = await other.call<TransportResponse>('createTransport', { direction: 'send' });
    const { producerId } = await other.call<{ producerId: string }>('produce', {
      transportId: send.id,
      kind: 'audio',
      rtpParameters: audioRtpParameters(4321),
      appData: { source: 'mic' },
    });
    const consumed = await hostClient.call<ConsumeResponse>('consume', {
      producerId,
      rtpCapabilities: joined.routerRtpCapabilities,
    });
    expect(consumed).toMatchObject({ producerId, kind: 'audio' });
    const consumer = gw.rooms.rooms
      .get(consult.id)!
      .peers.get(joined.peerId)!
      .consumer(consumed.consumerId);
    expect(consumer.closed).toBe(false);
  });

  it('gives no transport to someone put in the lobby, and none is created', async () => {
    const hostClient = await connect(host);
    await hostClient.call<JoinResponse>('join', { consultId: consult.id });
    const other = await connect(specialist);
    const res = await other.call<WaitingResponse & { recvTransport?: unknown }>('join', {
      consultId: consult.id,
      recvTransport: true,
    });
    expect(res.waiting).toBe(true);
    expect(res.recvTransport).toBeUndefined();
    expect(seatTransports(res.peerId)).toEqual([]);
  });

  it('refuses a malformed flag with bad_request and gives no seat', async () => {
    const hostClient = await connect(host);
    const res = await hostClient.request('join', { consultId: consult.id, recvTransport: 'yes' });
    expect(res).toMatchObject({ ok: false, error: { code: 'bad_request' } });
    expect(gw.rooms.rooms.get(consult.id)?.peers.size ?? 0).toBe(0);
  });

  it('with sendTransport too, answers both; the send transport takes a produce and a repeat leaves one of each', async () => {
    const hostClient = await connect(host);
    const joined = await hostClient.call<JoinResponse>('join', {
      consultId: consult.id,
      recvTransport: true,
      sendTransport: true,
    });
    const send = joined.sendTransport as TransportResponse;
    expect(send.id).not.toBe(joined.recvTransport?.id);
    expect(seatTransports(joined.peerId).sort()).toEqual(['recv', 'send']);
    const produced = await hostClient.call<{ producerId: string }>('produce', {
      transportId: send.id,
      kind: 'audio',
      rtpParameters: audioRtpParameters(4322),
      appData: { source: 'mic' },
    });
    expect(produced.producerId).toEqual(expect.any(String));
    await hostClient.request('join', {
      consultId: consult.id,
      recvTransport: true,
      sendTransport: true,
    });
    expect(seatTransports(joined.peerId).sort()).toEqual(['recv', 'send']);
    const bad = await hostClient.request('join', { consultId: consult.id, sendTransport: 1 });
    expect(bad).toMatchObject({ ok: false, error: { code: 'bad_request' } });
  });

  it('a repeated join leaves at most one receive transport on the seat', async () => {
    const hostClient = await connect(host);
    const first = await hostClient.call<JoinResponse>('join', {
      consultId: consult.id,
      recvTransport: true,
    });
    const again = await hostClient.request<JoinResponse>('join', {
      consultId: consult.id,
      recvTransport: true,
    });
    const transports = seatTransports(first.peerId);
    expect(transports.filter((d) => d === 'recv').length).toBe(1);
    if (again.ok) expect(again.data.recvTransport?.id).not.toBe(first.recvTransport?.id);
  });
});

async function connectWith(token: string): Promise<TestClient> {
  const client = await connectClient(gw.url, token);
  clients.push(client);
  return client;
}

const seatPeer = (peerId: string) => gw.rooms.rooms.get(consult.id)?.peers.get(peerId);

/** The host joins and publishes a mic and a simulcast camera; returns its producer ids. */
async function hostPublishing(): Promise<{ client: TestClient; producers: string[] }> {
  const client = await connect(host);
  await client.call<JoinResponse>('join', { consultId: consult.id });
  const send = await client.call<TransportResponse>('createTransport', { direction: 'send' });
  const producers: string[] = [];
  for (const [kind, source, rtpParameters] of [
    ['audio', 'mic', audioRtpParameters(1111)],
    ['video', 'camera', simulcastVideoRtpParameters(2220)],
  ] as const) {
    const { producerId } = await client.call<{ producerId: string }>('produce', {
      transportId: send.id,
      kind,
      rtpParameters,
      appData: { source },
    });
    producers.push(producerId);
  }
  return { client, producers };
}

/** The specialist's grant (admit: straight to a seat, no lobby) with `subscribe` as given. */
function specialistToken(subscribe: boolean): string {
  return gw.token({
    consultId: consult.id,
    userId: specialist.id,
    role: 'specialist',
    grants: { publish: false, subscribe, admit: true, end: false },
  });
}

/** The specialist joins with a receive transport and the router's capabilities as its Device's. */
async function joinWithCapabilities() {
  const rtpCapabilities = gw.rooms.rooms.get(consult.id)!.router.rtpCapabilities;
  const joiner = await connectWith(specialistToken(true));
  const joined = await joiner.call<JoinResponse>('join', {
    consultId: consult.id,
    recvTransport: true,
    rtpCapabilities,
  });
  return { joiner, joined, rtpCapabilities };
}

describe('join with rtpCapabilities', () => {
  it('answers a resumed consumer of every producer on the new receive transport; consume then answers the same one', async () => {
    const { producers } = await hostPublishing();
    const { joiner, joined, rtpCapabilities } = await joinWithCapabilities();
    const consumers = joined.consumers ?? [];
    expect(consumers.map((c) => c.producerId).sort()).toEqual([...producers].sort());
    const seat = seatPeer(joined.peerId)!;
    const recvId = joined.recvTransport!.id;
    for (const c of consumers) {
      expect(c).toMatchObject({ peerId: expect.any(String), producerPaused: false });
      expect(c.rtpParameters.codecs.length).toBeGreaterThan(0);
      const consumer = seat.consumer(c.consumerId);
      expect(consumer.paused).toBe(false); // resumed with the join: no resumeConsumer needed
      expect(seat.transport(recvId).id).toBe(recvId);
    }
    expect(seat.consumers.size).toBe(producers.length);
    // The client's own consume of a folded producer (a retry) gets that same consumer.
    const again = await joiner.call<ConsumeResponse>('consume', {
      producerId: producers[0]!,
      rtpCapabilities,
    });
    expect(again.consumerId).toBe(consumers.find((c) => c.producerId === producers[0])!.consumerId);
    expect(seat.consumers.size).toBe(producers.length);
  });

  it('refuses without the subscribe grant, before any seat is taken', async () => {
    const { producers } = await hostPublishing();
    const rtpCapabilities = gw.rooms.rooms.get(consult.id)!.router.rtpCapabilities;
    const joiner = await connectWith(specialistToken(false));
    const res = await joiner.request('join', {
      consultId: consult.id,
      recvTransport: true,
      rtpCapabilities,
    });
    expect(res).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    expect(gw.rooms.rooms.get(consult.id)!.peers.size).toBe(1); // the host only
    // Joining without consuming is still open to that grant; the producers are not its.
    const joined = await joiner.call<JoinResponse>('join', { consultId: consult.id });
    expect(joined.consumers).toBeUndefined();
    expect(seatPeer(joined.peerId)!.consumers.size).toBe(0);
    expect(producers.length).toBe(2);
  });

  it('refuses capabilities without a receive transport, and malformed ones, with bad_request and no seat', async () => {
    await hostPublishing();
    const rtpCapabilities = gw.rooms.rooms.get(consult.id)!.router.rtpCapabilities;
    const joiner = await connectWith(specialistToken(true));
    for (const payload of [
      { consultId: consult.id, rtpCapabilities },
      { consultId: consult.id, recvTransport: false, rtpCapabilities },
      { consultId: consult.id, recvTransport: true, rtpCapabilities: { codecs: 'all' } },
      { consultId: consult.id, recvTransport: true, rtpCapabilities: 'vp8' },
    ]) {
      const res = await joiner.request('join', payload);
      expect(res).toMatchObject({ ok: false, error: { code: 'bad_request' } });
    }
    expect(gw.rooms.rooms.get(consult.id)!.peers.size).toBe(1);
  });

  it('leaves out what the capabilities cannot receive; consume then says why', async () => {
    const { producers } = await hostPublishing();
    const caps = gw.rooms.rooms.get(consult.id)!.router.rtpCapabilities;
    const audioOnly = { ...caps, codecs: (caps.codecs ?? []).filter((c) => c.kind === 'audio') };
    const joiner = await connectWith(specialistToken(true));
    const joined = await joiner.call<JoinResponse>('join', {
      consultId: consult.id,
      recvTransport: true,
      rtpCapabilities: audioOnly,
    });
    expect((joined.consumers ?? []).map((c) => c.kind)).toEqual(['audio']);
    const video = await joiner.request('consume', {
      producerId: producers[1]!,
      rtpCapabilities: audioOnly,
    });
    expect(video).toMatchObject({ ok: false, error: { code: 'cannot_consume' } });
  });

  it('gives someone put in the lobby no transport and no consumer', async () => {
    await hostPublishing();
    const rtpCapabilities = gw.rooms.rooms.get(consult.id)!.router.rtpCapabilities;
    // The lobby's usual path: a specialist grant without `admit`.
    const joiner = await connect(specialist);
    const res = await joiner.call<WaitingResponse & { consumers?: unknown }>('join', {
      consultId: consult.id,
      recvTransport: true,
      rtpCapabilities,
    });
    expect(res.waiting).toBe(true);
    expect(res.consumers).toBeUndefined();
    expect(seatPeer(res.peerId)).toBeUndefined();
  });

  it('a repeated join with capabilities (a replay) is a conflict and adds no consumer', async () => {
    const { producers } = await hostPublishing();
    const rtpCapabilities = gw.rooms.rooms.get(consult.id)!.router.rtpCapabilities;
    const joiner = await connectWith(specialistToken(true));
    const payload = { consultId: consult.id, recvTransport: true, rtpCapabilities };
    const first = await joiner.call<JoinResponse>('join', payload);
    const again = await joiner.request('join', payload);
    expect(again).toMatchObject({ ok: false, error: { code: 'conflict' } });
    const seat = seatPeer(first.peerId)!;
    expect(seat.consumers.size).toBe(producers.length);
    expect([...seat.transports.values()].filter((t) => t.direction === 'recv').length).toBe(1);
  });

  it('a flood of joins with capabilities on one connection seats it once, with one consumer per producer', async () => {
    const { producers } = await hostPublishing();
    const rtpCapabilities = gw.rooms.rooms.get(consult.id)!.router.rtpCapabilities;
    const joiner = await connectWith(specialistToken(true));
    const payload = { consultId: consult.id, recvTransport: true, rtpCapabilities };
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => joiner.request<JoinResponse>('join', payload)),
    );
    const seated = answers.filter((a) => a.ok);
    expect(seated.length).toBe(1);
    for (const a of answers) {
      if (!a.ok) expect(['conflict', 'rate_limited']).toContain(a.error.code);
    }
    const seat = seatPeer(seated[0]!.ok ? seated[0]!.data.peerId : '')!;
    expect(seat.consumers.size).toBe(producers.length);
    expect([...seat.transports.values()].filter((t) => t.direction === 'recv').length).toBe(1);
  });

  it("consumes only its own consult's producers, never another consult's", async () => {
    const { producers } = await hostPublishing();
    // Another consult with its own publishing host.
    const otherHost = await gw.user('doctor', 'Dr. Bailey');
    const other = await gw.consult(otherHost, []);
    const otherClient = await connectWith(await gw.grant(other.id, otherHost));
    await otherClient.call<JoinResponse>('join', { consultId: other.id });
    const send = await otherClient.call<TransportResponse>('createTransport', {
      direction: 'send',
    });
    const { producerId: elsewhere } = await otherClient.call<{ producerId: string }>('produce', {
      transportId: send.id,
      kind: 'audio',
      rtpParameters: audioRtpParameters(3333),
      appData: { source: 'mic' },
    });
    const { joiner, joined, rtpCapabilities } = await joinWithCapabilities();
    const consumed = (joined.consumers ?? []).map((c) => c.producerId);
    expect(consumed.sort()).toEqual([...producers].sort());
    expect(consumed).not.toContain(elsewhere);
    // Asking for it by id is refused as well: it is not in this consult.
    const res = await joiner.request('consume', { producerId: elsewhere, rtpCapabilities });
    expect(res.ok).toBe(false);
  });
});
