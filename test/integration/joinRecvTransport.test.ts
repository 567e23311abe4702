/**
 * `join` with `recvTransport: true`: the answer brings the joiner's receive transport, so its
 * consume requests follow the join directly. Someone put in the lobby gets none, a malformed
 * flag is refused without a seat, and a second join does not leave a second transport behind.
 * `sendTransport: true` (a failover's takeover join) brings the send transport the same way.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type {
  ConsumeResponse,
  JoinResponse,
  TransportResponse,
  WaitingResponse,
} from '../../src/protocol/index.js';
import { audioRtpParameters, connectClient, type TestClient } from '../support/client.js';
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
