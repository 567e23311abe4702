/** A dropped Socket.IO connection that comes back within the grace period keeps its seat and media. */
import { afterEach, describe, expect, it } from 'vitest';
import type { JoinResponse, TransportResponse } from '../../src/protocol/index.js';
import { audioRtpParameters, connectClient, type TestClient } from '../support/client.js';
import { joinAdmitted, joinAsHost } from '../support/consult.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { timeUntil } from '../support/wait.js';

let gw: TestGateway | undefined;
const clients: TestClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await gw?.stop();
  gw = undefined;
});

async function consultWithTwo(graceSeconds: string) {
  gw = await startTestGateway({ RECONNECT_GRACE_SECONDS: graceSeconds });
  const host = await gw.user('doctor', 'Dr. Grey');
  const specialist = await gw.user('specialist', 'Dr. Shepherd');
  const consult = await gw.consult(host, [specialist]);
  const doctor = await joinAsHost(gw, consult.id, await gw.grant(consult.id, host));
  clients.push(doctor.client);
  const specToken = await gw.grant(consult.id, specialist);
  const spec = await joinAdmitted(gw, consult.id, specToken, doctor.client);
  clients.push(spec.client);
  const send = await spec.client.call<TransportResponse>('createTransport', { direction: 'send' });
  const { producerId } = await spec.client.call<{ producerId: string }>('produce', {
    transportId: send.id,
    kind: 'audio',
    rtpParameters: audioRtpParameters(4242),
    appData: { source: 'mic' },
  });
  return { g: gw, consult, doctor, spec, specToken, send, producerId };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('session resumption', () => {
  it('a participant whose connection drops and returns within the grace period is the same peer, media intact, with no flicker for others', async () => {
    const { g, consult, doctor, spec, specToken, send, producerId } = await consultWithTwo('10');
    spec.client.close(); // the network drops the socket
    await sleep(300);
    expect(g.rooms.counts().peers).toBe(2);

    const back = await connectClient(g.url, specToken);
    clients.push(back);
    const join = await back.call<JoinResponse>('join', {
      consultId: consult.id,
      resumeSecret: spec.join.resumeSecret,
    });
    expect(join.waiting).toBeFalsy(); // admitted once, not sent back to the lobby
    expect(join.peerId).toBe(spec.join.peerId);
    expect(join.resumed).toEqual({
      transports: [{ id: send.id, direction: 'send' }],
      producers: [{ producerId, kind: 'audio', appData: { source: 'mic' }, paused: false }],
      consumers: [],
    });
    // Still producing through the same objects: the host can pause-watch it.
    const paused = doctor.client.next<{ producerId: string }>('producerPaused');
    await back.call('pauseProducer', { producerId });
    expect((await paused).producerId).toBe(producerId);
    expect(doctor.client.received('peerLeft')).toEqual([]);
    expect(doctor.client.received('peerJoined')).toHaveLength(1); // only the original join
  });

  it('after the grace period the peer is removed and the others are told', async () => {
    const { g, doctor, spec } = await consultWithTwo('1');
    const left = doctor.client.next<{ peerId: string }>('peerLeft', 5000);
    const started = Date.now();
    spec.client.close();
    expect((await left).peerId).toBe(spec.join.peerId);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(g.rooms.counts()).toMatchObject({ peers: 1, producers: 0 });
  });

  it('a second connection with the same identity replaces the first cleanly', async () => {
    const { g, consult, doctor, spec, specToken, producerId } = await consultWithTwo('10');
    const ended = spec.client.next<{ reason: string }>('consultEnded');
    const second = await connectClient(g.url, specToken);
    clients.push(second);
    const join = await second.call<JoinResponse>('join', {
      consultId: consult.id,
      resumeSecret: spec.join.resumeSecret,
    });
    expect((await ended).reason).toBe('joined_from_another_connection');
    expect(join.peerId).toBe(spec.join.peerId);
    expect(join.resumed?.producers.map((p) => p.producerId)).toEqual([producerId]);
    await sleep(200);
    expect(spec.client.socket.connected).toBe(false);
    expect(doctor.client.received('peerLeft')).toEqual([]);
    // The old socket's disconnect does not start a grace timer on the seat it lost.
    await sleep(1200);
    expect(g.rooms.counts().peers).toBe(2);
    // The new connection replaces the media too: a new send transport closes the old producer.
    const closed = doctor.client.next<{ producerId: string }>('producerClosed');
    await second.call('createTransport', { direction: 'send' });
    expect((await closed).producerId).toBe(producerId);
  });

  it('a logged-in account’s second connection without the resume secret replaces the first (accounts are their own proof)', async () => {
    const { g, consult, spec, specToken } = await consultWithTwo('10');
    const ended = spec.client.next<{ reason: string }>('consultEnded');
    const second = await connectClient(g.url, specToken);
    clients.push(second);
    const join = await second.call<JoinResponse>('join', { consultId: consult.id });
    expect((await ended).reason).toBe('joined_from_another_connection');
    expect(join.peerId).toBe(spec.join.peerId);
  });

  it('two connections of one person joining at the same moment get one seat; the earlier one is ended', async () => {
    gw = await startTestGateway();
    const host = await gw.user('doctor', 'Dr. Grey');
    const consult = await gw.consult(host, []);
    const token = await gw.grant(consult.id, host);
    const [tab1, tab2] = await Promise.all([
      connectClient(gw.url, token),
      connectClient(gw.url, token),
    ]);
    clients.push(tab1, tab2);
    const ended = Promise.race(
      [tab1, tab2].map((c, i) =>
        c.next<{ reason: string }>('consultEnded').then((m) => ({ i, m })),
      ),
    );
    const joins = await Promise.all(
      [tab1, tab2].map((c) => c.call<JoinResponse>('join', { consultId: consult.id })),
    );
    // One seat, not one per tab: the doctor's tile would show twice to everyone.
    expect(gw.rooms.counts().peers).toBe(1);
    expect(joins[1]!.peerId).toBe(joins[0]!.peerId);
    // The one that joined first was replaced by the other, and told so; the other stays.
    const { i, m } = await ended;
    expect(m).toEqual({ reason: 'joined_from_another_connection' });
    await timeUntil(() => ![tab1, tab2][i]!.socket.connected, 5000, 'the replaced tab closed');
    expect([tab1, tab2][1 - i]!.socket.connected).toBe(true);
  });
});
