/**
 * `peerConnection`: the others are told when a participant's socket drops and when it is back,
 * and only then (a participant who leaves, or whose transport is still connecting, is no
 * dropout). The uplink half (media that stops arriving) is shown in test/e2e/dropout.e2e.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type {
  JoinResponse,
  PeerConnectionMessage,
  TransportResponse,
} from '../../src/protocol/index.js';
import { DEFAULT_PEER_LINKS } from '../../src/signalling/peerLinks.js';
import { audioRtpParameters, connectClient, type TestClient } from '../support/client.js';
import { joinAdmitted, joinAsHost } from '../support/consult.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

let gw: TestGateway | undefined;
const clients: TestClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await gw?.stop();
  gw = undefined;
});

/** Two joined participants; `late` is invited too but has not joined. */
async function consultWithTwo() {
  gw = await startTestGateway({ RECONNECT_GRACE_SECONDS: '10' });
  const host = await gw.user('doctor', 'Dr. Grey');
  const specialist = await gw.user('specialist', 'Dr. Shepherd');
  const late = await gw.user('specialist', 'Dr. Yang');
  const consult = await gw.consult(host, [specialist, late]);
  const doctor = await joinAsHost(gw, consult.id, await gw.grant(consult.id, host));
  clients.push(doctor.client);
  const specToken = await gw.grant(consult.id, specialist);
  const spec = await joinAdmitted(gw, consult.id, specToken, doctor.client);
  clients.push(spec.client);
  return { g: gw, consult, doctor, spec, specToken, late };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Long enough for the uplink watch to have judged any sending peer twice over. */
const WATCH_MS = 2 * (DEFAULT_PEER_LINKS.stallMs + DEFAULT_PEER_LINKS.pollMs);

describe('peerConnection', () => {
  it('a dropped socket is "reconnecting" for the others at once, and "connected" once it takes its seat again', async () => {
    const { g, consult, doctor, spec, specToken } = await consultWithTwo();
    const dropped = doctor.client.next<PeerConnectionMessage>('peerConnection', 2000);
    const started = Date.now();
    spec.client.close();
    expect(await dropped).toEqual({ peerId: spec.join.peerId, state: 'reconnecting' });
    const toldMs = Date.now() - started;

    const back = await connectClient(g.url, specToken);
    clients.push(back);
    const returned = doctor.client.next<PeerConnectionMessage>('peerConnection', 2000);
    const join = await back.call<JoinResponse>('join', {
      consultId: consult.id,
      resumeSecret: spec.join.resumeSecret,
    });
    expect(join.peerId).toBe(spec.join.peerId);
    expect(await returned).toEqual({ peerId: spec.join.peerId, state: 'connected' });
    // Told to the others only: never to the participant it is about.
    expect(back.received('peerConnection')).toEqual([]);
    expect(spec.client.received('peerConnection')).toEqual([]);
    console.log(`socket drop: the others told ${toldMs} ms after it`);
  });

  it('someone who joins while a participant is reconnecting is told so in the join data, then told when they are back', async () => {
    const { g, consult, doctor, spec, specToken, late } = await consultWithTwo();
    const dropped = doctor.client.next<PeerConnectionMessage>('peerConnection', 2000);
    spec.client.close();
    await dropped;

    const lateJoin = await joinAdmitted(
      g,
      consult.id,
      await g.grant(consult.id, late),
      doctor.client,
    );
    clients.push(lateJoin.client);
    const byId = new Map(lateJoin.join.peers.map((p) => [p.peerId, p.connection]));
    expect(byId.get(spec.join.peerId)).toBe('reconnecting');
    expect(byId.get(doctor.join.peerId)).toBe('connected');

    const back = await connectClient(g.url, specToken);
    clients.push(back);
    const returned = lateJoin.client.next<PeerConnectionMessage>('peerConnection', 2000);
    await back.call<JoinResponse>('join', {
      consultId: consult.id,
      resumeSecret: spec.join.resumeSecret,
    });
    expect(await returned).toEqual({ peerId: spec.join.peerId, state: 'connected' });
  });

  it('someone who leaves is gone (peerLeft), not reconnecting', async () => {
    const { doctor, spec } = await consultWithTwo();
    const left = doctor.client.next<{ peerId: string }>('peerLeft', 2000);
    await spec.client.call('leave');
    spec.client.close();
    expect((await left).peerId).toBe(spec.join.peerId);
    await sleep(300);
    expect(doctor.client.received('peerConnection')).toEqual([]);
  });

  it('a sender whose transport has not connected yet is not a dropout', async () => {
    const { doctor, spec } = await consultWithTwo();
    const send = await spec.client.call<TransportResponse>('createTransport', {
      direction: 'send',
    });
    // A producer on a transport no browser has connected: nothing can arrive yet.
    await spec.client.call('produce', {
      transportId: send.id,
      kind: 'audio',
      rtpParameters: audioRtpParameters(4343),
      appData: { source: 'mic' },
    });
    await sleep(WATCH_MS);
    expect(doctor.client.received('peerConnection')).toEqual([]);
  });
});
