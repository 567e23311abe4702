/** Two real Socket.IO clients against the real gateway and a real mediasoup worker. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ConsumeResponse, TransportResponse } from '../../src/protocol/index.js';
import type { Consult, User } from '../../src/store/repositories.js';
import {
  audioRtpParameters,
  connectClient,
  simulcastVideoRtpParameters,
  type TestClient,
} from '../support/client.js';
import { joinAdmitted, joinAsHost } from '../support/consult.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

let gw: TestGateway;
let host: User;
let specialist: User;
let consult: Consult;
let CONSULT: string;
const clients: TestClient[] = [];

async function hostJoins() {
  const joined = await joinAsHost(gw, CONSULT, await gw.grant(CONSULT, host));
  clients.push(joined.client);
  return joined;
}

async function specialistJoins(hostClient: TestClient, who: User = specialist) {
  const joined = await joinAdmitted(gw, CONSULT, await gw.grant(CONSULT, who), hostClient);
  clients.push(joined.client);
  return joined;
}

async function publishAudio(client: TestClient, ssrc = 1111) {
  const send = await client.call<TransportResponse>('createTransport', { direction: 'send' });
  const { producerId } = await client.call<{ producerId: string }>('produce', {
    transportId: send.id,
    kind: 'audio',
    rtpParameters: audioRtpParameters(ssrc),
    appData: { source: 'mic' },
  });
  return { send, producerId };
}

beforeEach(async () => {
  gw = await startTestGateway();
  host = await gw.user('doctor', 'Dr. Grey');
  specialist = await gw.user('specialist', 'Dr. Shepherd');
  consult = await gw.consult(host, [specialist]);
  CONSULT = consult.id;
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await gw.stop();
});

describe('a two-party consult over real sockets', () => {
  it('joins, produces, consumes and cleans up when a peer leaves', async () => {
    const doctor = await hostJoins();
    expect(doctor.join.peers).toEqual([]);
    expect(doctor.join.routerRtpCapabilities).toMatchObject({ codecs: expect.any(Array) });
    const mimeTypes = (
      doctor.join.routerRtpCapabilities as { codecs: { mimeType: string }[] }
    ).codecs.map((c) => c.mimeType.toLowerCase());
    expect(mimeTypes).toEqual(
      expect.arrayContaining(['audio/opus', 'video/vp8', 'video/vp9', 'video/h264']),
    );

    const specialistJoined = doctor.client.next<{ peerId: string; displayName: string }>(
      'peerJoined',
    );
    const specialist = await specialistJoins(doctor.client);
    expect((await specialistJoined).displayName).toBe('Dr. Shepherd');

    const send = await doctor.client.call<TransportResponse>('createTransport', {
      direction: 'send',
    });
    expect(send.iceCandidates).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ protocol: 'udp', ip: '127.0.0.1' }),
        expect.objectContaining({ protocol: 'tcp', ip: '127.0.0.1' }),
      ]),
    );
    const newProducer = specialist.client.next<{ producerId: string; peerId: string }>(
      'newProducer',
    );
    const { producerId: micId } = await doctor.client.call<{ producerId: string }>('produce', {
      transportId: send.id,
      kind: 'audio',
      rtpParameters: audioRtpParameters(1111),
      appData: { source: 'mic' },
    });
    const { producerId: camId } = await doctor.client.call<{ producerId: string }>('produce', {
      transportId: send.id,
      kind: 'video',
      rtpParameters: simulcastVideoRtpParameters(2000),
      appData: { source: 'camera' },
    });
    expect((await newProducer).peerId).toBe(doctor.join.peerId);

    await specialist.client.call('createTransport', { direction: 'recv' });
    const caps = doctor.join.routerRtpCapabilities;
    const audio = await specialist.client.call<ConsumeResponse>('consume', {
      producerId: micId,
      rtpCapabilities: caps,
    });
    expect(audio).toMatchObject({ producerId: micId, kind: 'audio', peerId: doctor.join.peerId });
    const video = await specialist.client.call<ConsumeResponse>('consume', {
      producerId: camId,
      rtpCapabilities: caps,
    });
    expect(video.appData).toEqual({ source: 'camera' });
    await specialist.client.call('resumeConsumer', { consumerId: video.consumerId });
    await specialist.client.call('setPreferredLayers', {
      consumerId: video.consumerId,
      spatialLayer: 0,
      temporalLayer: 1,
    });

    // Mute is visible to the other side.
    const paused = specialist.client.next<{ producerId: string }>('producerPaused');
    await doctor.client.call('pauseProducer', { producerId: micId });
    expect((await paused).producerId).toBe(micId);

    const stats = await specialist.client.call<{ consumers: { id: string }[] }>('getStats', {});
    expect(stats.consumers.map((c) => c.id).sort()).toEqual(
      [audio.consumerId, video.consumerId].sort(),
    );
    expect(gw.rooms.counts()).toMatchObject({ consults: 1, peers: 2, producers: 2, consumers: 2 });

    // The doctor leaves: the specialist hears about it and loses both consumers.
    const left = specialist.client.next<{ peerId: string }>('peerLeft');
    const consumerClosed = specialist.client.next<{ consumerId: string }>('consumerClosed');
    await doctor.client.call('leave', {});
    expect((await left).peerId).toBe(doctor.join.peerId);
    await consumerClosed;
    expect(gw.rooms.counts()).toMatchObject({ peers: 1, producers: 0, consumers: 0 });

    // A late joiner sees nothing of the departed doctor; the last one out closes the room.
    specialist.client.close();
    await waitFor(() => gw.rooms.counts().consults === 0);
  });

  it('lists existing peers and their producers to a late joiner', async () => {
    const doctor = await hostJoins();
    const { producerId } = await publishAudio(doctor.client);
    const late = await specialistJoins(doctor.client);
    expect(late.join.peers).toEqual([
      {
        peerId: doctor.join.peerId,
        displayName: 'Dr. Grey',
        verifiedName: 'Dr. Grey',
        role: 'doctor',
        producers: [{ producerId, kind: 'audio', appData: { source: 'mic' }, paused: false }],
        connection: 'connected',
      },
    ]);
  });

  it('refuses to consume with capabilities that do not fit', async () => {
    const doctor = await hostJoins();
    const { producerId } = await publishAudio(doctor.client);
    const specialist = await specialistJoins(doctor.client);
    await specialist.client.call('createTransport', { direction: 'recv' });
    const res = await specialist.client.request('consume', {
      producerId,
      rtpCapabilities: { codecs: [{ kind: 'video', mimeType: 'video/VP8', clockRate: 90000 }] },
    });
    expect(res).toMatchObject({ ok: false, error: { code: 'cannot_consume' } });
  });

  it('a disconnect closes the peer and tells the others', async () => {
    const doctor = await hostJoins();
    await publishAudio(doctor.client);
    const specialist = await specialistJoins(doctor.client);
    const left = doctor.client.next<{ peerId: string }>('peerLeft');
    specialist.client.close();
    expect((await left).peerId).toBe(specialist.join.peerId);
    await waitFor(() => gw.rooms.counts().peers === 1);
  });

  it('a second connection of the same user replaces the first', async () => {
    const first = await hostJoins();
    const ended = first.client.next<{ reason: string }>('consultEnded');
    const second = await hostJoins();
    expect((await ended).reason).toBe('joined_from_another_connection');
    expect(second.join.peers).toEqual([]);
    expect(gw.rooms.counts().peers).toBe(1);
  });
});

describe('authentication at the socket edge', () => {
  it('refuses a missing, forged or expired token at connection', async () => {
    await expect(connectClient(gw.url, undefined)).rejects.toMatchObject({
      data: { code: 'unauthorized' },
    });
    const valid = await gw.grant(CONSULT, host);
    const forged = valid.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
    await expect(connectClient(gw.url, forged)).rejects.toMatchObject({
      data: { code: 'unauthorized' },
    });
    const expired = gw.token({ consultId: CONSULT, userId: host.id, ttlSeconds: -60 });
    await expect(connectClient(gw.url, expired)).rejects.toThrow(/expired/);
  });

  it('refuses well-signed tokens for consults that do not exist or people not invited', async () => {
    const nowhere = gw.token({ consultId: 'no-such-consult', userId: host.id });
    await expect(connectClient(gw.url, nowhere)).rejects.toMatchObject({
      data: { code: 'forbidden' },
    });
    const outsider = await gw.user('specialist', 'Dr. Outsider');
    const uninvited = gw.token({ consultId: CONSULT, userId: outsider.id, role: 'specialist' });
    await expect(connectClient(gw.url, uninvited)).rejects.toMatchObject({
      data: { code: 'forbidden' },
    });
    await expect(gw.grant(CONSULT, outsider)).rejects.toThrow(/not a participant/);
  });

  it('refuses to join a consult the token does not name', async () => {
    const client = await connectClient(gw.url, await gw.grant(CONSULT, host));
    clients.push(client);
    const res = await client.request('join', { consultId: 'someone-elses-consult' });
    expect(res).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    expect(gw.rooms.counts().consults).toBe(0);
  });

  it('refuses to publish without the publish grant', async () => {
    const token = gw.token({
      consultId: CONSULT,
      userId: host.id,
      role: 'doctor',
      grants: { publish: false, subscribe: true, admit: true, end: true },
    });
    const client = await connectClient(gw.url, token);
    clients.push(client);
    await client.call('join', { consultId: CONSULT });
    const send = await client.call<TransportResponse>('createTransport', { direction: 'send' });
    const res = await client.request('produce', {
      transportId: send.id,
      kind: 'audio',
      rtpParameters: audioRtpParameters(5),
      appData: { source: 'mic' },
    });
    expect(res).toMatchObject({ ok: false, error: { code: 'forbidden' } });
  });
});

async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
