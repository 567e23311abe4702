/**
 * A real consult over Socket.IO on a node with two workers and a tiny consumer budget
 * (WORKER_MAX_CONSUMERS=4): the host's camera and microphone reach students placed on both
 * workers (piped once to the second), the copies close with the last student there, the
 * second worker's microphones are piped to the speaker observer's router (and a loud one
 * there becomes the consult's active speaker), and bursts of
 * joins and leaves leave no copy or reserved consumer behind.
 */
import dgram from 'node:dgram';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  buildPacket,
  OPUS_32K,
  parseRtp,
  producerRtpParameters,
  VIDEO_500K,
} from '../../bench/lib/rtp.js';
import type { ConsumeResponse } from '../../src/protocol/index.js';
import type { Room } from '../../src/sfu/Room.js';
import type { Consult, User } from '../../src/store/repositories.js';
import type { TestClient } from '../support/client.js';
import { joinAdmitted, joinAsHost, type Joined } from '../support/consult.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { timeUntil } from '../support/wait.js';

const AUDIO_SSRC = 0x5000;
const VIDEO_SSRC = 0x6000;
let gw: TestGateway;
let host: User;
let students: User[];
let consult: Consult;
const clients: TestClient[] = [];
const sockets: dgram.Socket[] = [];
const timers: NodeJS.Timeout[] = [];

beforeEach(async () => {
  gw = await startTestGateway({ WORKERS: '2', WORKER_MAX_CONSUMERS: '4' });
  host = await gw.user('doctor', 'Dr. Halsted');
  students = [];
  for (let i = 0; i < 6; i++) students.push(await gw.user('specialist', `Student ${i}`));
  consult = await gw.consult(host, students);
});

afterEach(async () => {
  for (const t of timers.splice(0)) clearInterval(t);
  for (const s of sockets.splice(0)) s.close();
  for (const c of clients.splice(0)) c.close();
  await gw.stop();
});

const room = (consultId = consult.id): Room => gw.rooms.rooms.get(consultId)!;
const workerOf = (peerId: string) => {
  const r = room();
  return r.routers.slotOf(r.peers.get(peerId)!.router!)!.index;
};
const loads = () => room().routers.pool.slots.map((s) => gw.rooms.load.count(s));

/** A plain-RTP transport of the peer (on the router it was placed on), standing in for WebRTC. */
async function plainTransport(
  peerId: string,
  direction: 'send' | 'recv',
  port?: number,
  consultId = consult.id,
) {
  const peer = room(consultId).peers.get(peerId)!;
  const { router } = await peer.place();
  const transport = await router.createPlainTransport({
    listenIp: '127.0.0.1',
    rtcpMux: true,
    comedia: direction === 'send',
  });
  if (port !== undefined) await transport.connect({ ip: '127.0.0.1', port });
  peer.transports.set(transport.id, {
    transport: transport as never,
    direction,
  });
  return { transportId: transport.id, port: transport.tuple.localPort };
}

/** The host: joins, produces microphone and camera through the protocol, and sends RTP (a key frame each 5th frame). */
async function hostPublishes(consultId = consult.id, who = host) {
  const joined = await joinAsHost(gw, consultId, await gw.grant(consultId, who));
  clients.push(joined.client);
  const { transportId, port } = await plainTransport(
    joined.join.peerId,
    'send',
    undefined,
    consultId,
  );
  const produce = async (shape: typeof OPUS_32K, ssrc: number, source: 'mic' | 'camera') =>
    (
      await joined.client.call<{ producerId: string }>('produce', {
        transportId,
        kind: shape.kind,
        rtpParameters: producerRtpParameters(shape, ssrc),
        appData: { source },
      })
    ).producerId;
  const audio = await produce(OPUS_32K, AUDIO_SSRC, 'mic');
  const video = await produce(VIDEO_500K, VIDEO_SSRC, 'camera');
  const socket = dgram.createSocket('udp4');
  sockets.push(socket);
  let n = 0;
  const timer = setInterval(() => {
    if (n >= 3000) return;
    n++;
    const common = { seq: n, timestamp: n * 960, marker: true, frameStart: true };
    socket.send(buildPacket(OPUS_32K, { ...common, ssrc: AUDIO_SSRC, keyFrame: false }), port);
    socket.send(
      buildPacket(VIDEO_500K, {
        ...common,
        ssrc: VIDEO_SSRC,
        timestamp: n * 1800,
        keyFrame: n % 5 === 1,
        frameNumber: n,
      }),
      port,
    );
  }, 20);
  timers.push(timer);
  return { ...joined, audio, video };
}

interface Student extends Joined {
  /** RTP packets received per consumer SSRC. */
  received: Map<number, number>;
  ssrcs: number[];
}

/** A student: admitted, then consumes the given producers on a plain transport to a local socket. */
async function studentConsumes(i: number, hostClient: TestClient, producerIds: string[]) {
  const joined = await joinAdmitted(
    gw,
    consult.id,
    await gw.grant(consult.id, students[i]!),
    hostClient,
  );
  clients.push(joined.client);
  const received = new Map<number, number>();
  const socket = dgram.createSocket('udp4');
  sockets.push(socket);
  socket.on('message', (msg) => {
    const rtp = parseRtp(msg);
    if (rtp) received.set(rtp.ssrc, (received.get(rtp.ssrc) ?? 0) + 1);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  await plainTransport(joined.join.peerId, 'recv', socket.address().port);
  const ssrcs: number[] = [];
  for (const producerId of producerIds) {
    const consumed = await joined.client.call<ConsumeResponse>('consume', {
      producerId,
      rtpCapabilities: joined.join.routerRtpCapabilities,
    });
    await joined.client.call('resumeConsumer', { consumerId: consumed.consumerId });
    ssrcs.push((consumed.rtpParameters.encodings ?? [])[0]!.ssrc!);
  }
  return { ...joined, received, ssrcs } satisfies Student;
}

const receivesAll = (s: Student, atLeast: Map<number, number> = new Map()) =>
  s.ssrcs.every((ssrc) => (s.received.get(ssrc) ?? 0) >= (atLeast.get(ssrc) ?? 0) + 10);

describe('a consult spread over the workers of one node', () => {
  it('places students past the budget on the second worker, pipes the host there once, and unpipes with the last one', async () => {
    const h = await hostPublishes();
    const first = workerOf(h.join.peerId);
    const class_: Student[] = [];
    for (let i = 0; i < 4; i++) class_.push(await studentConsumes(i, h.client, [h.audio, h.video]));

    // Two students (2 consumers each) fill worker `first`; the next two go on the other one.
    expect(class_.map((s) => workerOf(s.join.peerId) === first)).toEqual([
      true,
      true,
      false,
      false,
    ]);
    expect(gw.rooms.routerCounts()).toEqual({ routers: 2, copies: 2 });
    // The host's worker also carries the two pipe consumers.
    expect(loads()[first]).toBe(6);
    expect(loads()[1 - first]).toBe(4);
    await timeUntil(
      () => class_.every((s) => receivesAll(s)),
      20_000,
      "the host's audio and video at every student",
    );

    // A student on the second worker speaks: their microphone is piped to the observer's router.
    const speaker = class_[3]!.join.peerId;
    const { transportId, port } = await plainTransport(speaker, 'send');
    await class_[3]!.client.call('produce', {
      transportId,
      kind: 'audio',
      rtpParameters: producerRtpParameters(OPUS_32K, 0x7000),
      appData: { source: 'mic' },
    });
    await timeUntil(() => gw.rooms.routerCounts().copies === 3, 5000, 'the mic piped');
    // Louder (0 dBov) than the host (-30): the consult's one observer names them.
    const mic = dgram.createSocket('udp4');
    sockets.push(mic);
    let seq = 0;
    timers.push(
      setInterval(() => {
        if (++seq > 1500) return;
        const packet = buildPacket(OPUS_32K, {
          ssrc: 0x7000,
          seq,
          timestamp: seq * 960,
          marker: false,
          frameStart: true,
          keyFrame: false,
        });
        packet[17] = 0x80;
        mic.send(packet, port);
      }, 20),
    );
    await timeUntil(
      () =>
        h.client
          .received('activeSpeaker')
          .some((m) => (m as { peerId: string }).peerId === speaker),
      15_000,
      'the student on the second worker named active speaker',
    );
    await class_[3]!.client.call('closeProducer', {
      producerId: [...room().peers.get(class_[3]!.join.peerId)!.producers.keys()][0],
    });
    await timeUntil(() => gw.rooms.routerCounts().copies === 2, 5000, 'the mic unpiped');

    // The second worker's students leave: one copy per producer stays until the last goes.
    await class_[2]!.client.call('leave');
    expect(gw.rooms.routerCounts().copies).toBe(2);
    await class_[3]!.client.call('leave');
    expect(gw.rooms.routerCounts().copies).toBe(0);
    expect(loads()[1 - first]).toBe(0);
    expect(loads()[first]).toBe(4);
    const before = new Map(class_[0]!.received);
    await timeUntil(
      () => receivesAll(class_[0]!, before),
      20_000,
      'media on the first worker still',
    );

    // Room again on the second worker: a late student is piped there afresh.
    const late = await studentConsumes(4, h.client, [h.audio, h.video]);
    expect(workerOf(late.join.peerId)).toBe(1 - first);
    await timeUntil(() => receivesAll(late), 20_000, 'media after piping again');
  });

  it("leaks no copy or reservation over bursts of consumes and leaves, and refuses another consult's producer", async () => {
    const h = await hostPublishes();
    const other = await gw.consult(host, []);
    const otherHost = await hostPublishes(other.id);
    for (let round = 0; round < 2; round++) {
      const class_: Joined[] = [];
      for (let i = 0; i < 6; i++) {
        const token = await gw.grant(consult.id, students[i]!);
        // Admitted in the first round, they come straight in in the second.
        const joined =
          round === 0
            ? await joinAdmitted(gw, consult.id, token, h.client)
            : await joinAsHost(gw, consult.id, token);
        clients.push(joined.client);
        class_.push(joined);
      }
      for (const s of class_) await plainTransport(s.join.peerId, 'recv', 9);
      // Every consume at once, each twice (the second yields the same consumer).
      await Promise.all(
        class_.flatMap((s) =>
          [h.audio, h.video, h.audio, h.video].map((producerId) =>
            s.client.call('consume', {
              producerId,
              rtpCapabilities: s.join.routerRtpCapabilities,
            }),
          ),
        ),
      );
      expect(new Set(class_.map((s) => workerOf(s.join.peerId))).size).toBe(2);
      expect(gw.rooms.routerCounts().copies).toBe(2);
      // Someone else's producer, from another consult, is not found here.
      const stolen = await class_[0]!.client.request('consume', {
        producerId: otherHost.video,
        rtpCapabilities: class_[0]!.join.routerRtpCapabilities,
      });
      expect(stolen).toMatchObject({ ok: false, error: { code: 'not_found' } });
      await Promise.all(class_.map((s) => s.client.call('leave')));
      expect(room().peers.size).toBe(1);
      // Only the other consult's own routers remain beside this one's, and no copy anywhere.
      expect(gw.rooms.routerCounts()).toEqual({ routers: 2 + 1, copies: 0 });
      expect(loads()).toEqual([0, 0]);
    }
  });
});
