/**
 * A new viewer's first picture. A synthetic simulcast sender (three VP8 streams into a real
 * mediasoup worker) answers every key-frame request with a key frame (except, where a test
 * says so, the first one after the consumer is resumed). The consumer starts on the lowest
 * layer, whose key frame is the smallest, and moves up once it has forwarded one. When the
 * request is lost, mediasoup alone asks that stream again only after a second; with the
 * first-key-frame chase, a request for another layer goes out first and the video starts from it.
 */
import '../../src/sfu/workerBin.js';
import dgram from 'node:dgram';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildPacket, keyFrameRequests, parseRtp, type StreamShape } from '../../bench/lib/rtp.js';
import { mediaCodecs } from '../../src/sfu/codecs.js';
import {
  chaseFirstKeyFrame,
  DEFAULT_FIRST_KEY_FRAME,
  SENDER_MIN_KEY_FRAME_INTERVAL_MS,
} from '../../src/sfu/firstKeyFrame.js';

const SHAPE: StreamShape = {
  kind: 'video',
  payloadType: 96,
  clockRate: 90_000,
  framesPerSecond: 25,
  packetsPerFrame: 1,
  payloadBytes: 400,
};
const SSRCS = [0x5000, 0x5002, 0x5004];
/** mediasoup's own wait before it repeats a key-frame request (KeyFrameRetransmissionWaitTime). */
const MEDIASOUP_RETRY_MS = 1000;

const CHASE = DEFAULT_FIRST_KEY_FRAME;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let worker: types.Worker;
const sockets: dgram.Socket[] = [];

beforeEach(async () => {
  worker = await mediasoup.createWorker({ logLevel: 'warn' });
});

afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
  worker.close();
});

async function udp(): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  sockets.push(s);
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  return s;
}

/** An RTCP sender report (no report blocks) with the wall clock as its NTP time. */
function senderReport(ssrc: number, rtpTimestamp: number): Buffer {
  const b = Buffer.alloc(28);
  b[0] = 0x80;
  b[1] = 200;
  b.writeUInt16BE(6, 2);
  b.writeUInt32BE(ssrc, 4);
  const now = Date.now() / 1000 + 2_208_988_800; // NTP epoch (1900)
  b.writeUInt32BE(Math.floor(now) >>> 0, 8);
  b.writeUInt32BE(Math.floor((now % 1) * 2 ** 32) >>> 0, 12);
  b.writeUInt32BE(rtpTimestamp, 16);
  return b;
}

/** Three simulcast streams; key frames only when asked, except the request `drop` picks. */
async function simulcastSender(port: number) {
  const socket = await udp();
  const requests: { ssrc: number; at: number; dropped: boolean }[] = [];
  const due = new Set(SSRCS);
  let dropNext = false;
  socket.on('message', (msg) => {
    for (const ssrc of keyFrameRequests(msg)) {
      if (!SSRCS.includes(ssrc)) continue;
      const dropped = dropNext;
      dropNext = false;
      requests.push({ ssrc, at: performance.now(), dropped });
      if (!dropped) due.add(ssrc);
    }
  });
  let seq = 0;
  let frame = 0;
  const timer = setInterval(() => {
    frame++;
    for (const ssrc of SSRCS) {
      const key = due.delete(ssrc);
      const pkt = buildPacket(SHAPE, {
        ssrc,
        seq: (seq + ssrc) & 0xffff,
        timestamp: (frame * 3600) >>> 0,
        marker: true,
        frameStart: true,
        keyFrame: key,
        frameNumber: frame,
      });
      socket.send(pkt, port, '127.0.0.1');
    }
    seq++;
  }, 1000 / SHAPE.framesPerSecond);
  // Sender reports, as a browser sends them: mediasoup switches layers only once it has them.
  const reports = setInterval(() => {
    for (const ssrc of SSRCS)
      socket.send(senderReport(ssrc, (frame * 3600) >>> 0), port, '127.0.0.1');
  }, 200);
  return {
    requests,
    dropNextRequest: () => (dropNext = true),
    stop: () => {
      clearInterval(timer);
      clearInterval(reports);
    },
  };
}

async function setUp() {
  const router = await worker.createRouter({ mediaCodecs });
  const ingest = await router.createPlainTransport({
    listenIp: '127.0.0.1',
    rtcpMux: true,
    comedia: true,
  });
  const producer = await ingest.produce({
    kind: 'video',
    rtpParameters: {
      codecs: [
        {
          mimeType: 'video/VP8',
          payloadType: SHAPE.payloadType,
          clockRate: SHAPE.clockRate,
          rtcpFeedback: [
            { type: 'nack' },
            { type: 'nack', parameter: 'pli' },
            { type: 'ccm', parameter: 'fir' },
          ],
        },
      ],
      headerExtensions: [],
      encodings: SSRCS.map((ssrc) => ({ ssrc, scalabilityMode: 'L1T1' })),
      rtcp: { cname: 'first-key-frame', reducedSize: true },
    },
  });
  const sender = await simulcastSender(ingest.tuple.localPort);
  const viewer = await udp();
  const received: { ssrc: number; at: number }[] = [];
  let mediaSsrc = -1;
  viewer.on('message', (msg) => {
    if (msg[1]! >= 192 && msg[1]! <= 223) return; // RTCP (rtcp-mux), not media
    const rtp = parseRtp(msg);
    // Only the consumer's own stream (not mediasoup's bandwidth probation packets).
    if (rtp && rtp.ssrc === mediaSsrc) received.push({ ssrc: rtp.ssrc, at: performance.now() });
  });
  const egress = await router.createPlainTransport({ listenIp: '127.0.0.1', rtcpMux: true });
  await egress.connect({ ip: '127.0.0.1', port: viewer.address().port });
  const consumer = await egress.consume({
    producerId: producer.id,
    rtpCapabilities: router.rtpCapabilities,
    paused: true,
  });
  mediaSsrc = consumer.rtpParameters.encodings![0]!.ssrc!;
  // Every stream is flowing and its start-up key frame delivered: a steady sender.
  for (let i = 0; i < 100 && new Set(sender.requests.map((r) => r.ssrc)).size < 3; i++) {
    await sleep(20);
  }
  await sleep(300);
  return { router, producer, consumer, sender, received };
}

/** Resumes the viewer with its first key-frame request lost; resolves at its first packet. */
async function joinWithLostRequest(x: Awaited<ReturnType<typeof setUp>>) {
  const before = x.sender.requests.length;
  x.sender.dropNextRequest();
  const resumedAt = performance.now();
  await x.consumer.resume();
  for (let i = 0; i < 150 && !x.received.length; i++) await sleep(20);
  x.sender.stop();
  return { resumedAt, requests: x.sender.requests.slice(before), first: x.received[0] };
}

describe('the first key frame of a new video consumer', () => {
  it('is asked of the lowest layer first; the consumer moves up to its preferred layer after it', async () => {
    const x = await setUp();
    const layers: number[] = [];
    x.consumer.observer.on('layerschange', (l) => {
      if (l) layers.push(l.spatialLayer);
    });
    chaseFirstKeyFrame(x.consumer, CHASE, (layer) =>
      x.consumer.setPreferredLayers({ spatialLayer: layer ?? 2 }),
    );
    const before = x.sender.requests.length;
    await x.consumer.resume();
    for (let i = 0; i < 150 && !x.received.length; i++) await sleep(20);
    // The lowest stream's key frame starts the picture; then the top stream's is asked for.
    for (let i = 0; i < 100 && layers.at(-1) !== 2; i++) await sleep(20);
    x.sender.stop();
    expect(x.received.length, 'the viewer got no packet').toBeGreaterThan(0);
    const asked = x.sender.requests.slice(before).map((r) => r.ssrc);
    expect(asked[0]).toBe(SSRCS[0]);
    expect(asked).toContain(SSRCS[2]);
    expect(layers[0]).toBe(0);
    expect(layers.at(-1)).toBe(2);
  }, 20_000);

  it('starts on the preferred layer with startLowest off (FIRST_FRAME_LAYER=preferred)', async () => {
    const x = await setUp();
    chaseFirstKeyFrame(x.consumer, { ...CHASE, startLowest: false }, (layer) =>
      x.consumer.setPreferredLayers({ spatialLayer: layer ?? 2 }),
    );
    const before = x.sender.requests.length;
    await x.consumer.resume();
    for (let i = 0; i < 150 && !x.received.length; i++) await sleep(20);
    x.sender.stop();
    expect(x.sender.requests.slice(before)[0]?.ssrc).toBe(SSRCS[2]);
  }, 20_000);

  it('is asked for on another layer before mediasoup would repeat a lost request', async () => {
    const x = await setUp();
    chaseFirstKeyFrame(x.consumer, CHASE, (layer) =>
      x.consumer.setPreferredLayers({ spatialLayer: layer ?? 2 }),
    );
    const { requests, first } = await joinWithLostRequest(x);

    const lost = requests[0]!;
    expect(lost.dropped).toBe(true);
    // The next request is for another stream and comes before mediasoup's own retry.
    const next = requests[1]!;
    expect(next.ssrc).not.toBe(lost.ssrc);
    expect(next.at - lost.at).toBeLessThan(MEDIASOUP_RETRY_MS);
    // The viewer's video starts from that answer, not after the retry.
    expect(first, 'the viewer got no packet').toBeDefined();
    expect(first!.at).toBeLessThan(lost.at + MEDIASOUP_RETRY_MS);
    expect(requests.filter((r) => r.ssrc === lost.ssrc && r.at < first!.at && r !== lost)).toEqual(
      [],
    );
  }, 20_000);

  it('stops chasing once a key frame is forwarded, lifting its layer cap', async () => {
    const x = await setUp();
    const caps: (number | null)[] = [];
    chaseFirstKeyFrame(x.consumer, CHASE, async (layer) => {
      caps.push(layer);
      await x.consumer.setPreferredLayers({ spatialLayer: layer ?? 2 });
    });
    const { first } = await joinWithLostRequest(x);
    expect(first).toBeDefined();
    await sleep(CHASE.intervalMs * 4); // longer than the next retry's wait (twice the first)
    expect(caps.at(-1)).toBeNull();
    expect(caps.filter((c) => c !== null).length).toBeLessThan(4);
  }, 20_000);

  it("asks again only after a browser sender's minimum key-frame interval has passed", () => {
    // libwebrtc ignores a request within 300 ms of the last one it answered: a retry that
    // reaches it sooner is lost as surely as the first request was. Room for jitter on top.
    expect(CHASE.intervalMs - SENDER_MIN_KEY_FRAME_INTERVAL_MS).toBeGreaterThanOrEqual(50);
  });

  it("waits for a WebRTC consumer's transport to connect before asking again", async () => {
    const x = await setUp();
    // A browser's receive transport that has not finished ICE/DTLS yet (it never will here).
    const recv = await x.router.createWebRtcTransport({ listenIps: [{ ip: '127.0.0.1' }] });
    const consumer = await recv.consume({
      producerId: x.producer.id,
      rtpCapabilities: x.router.rtpCapabilities,
      paused: true,
    });
    const caps: (number | null)[] = [];
    const before = x.sender.requests.length;
    chaseFirstKeyFrame(
      consumer,
      { ...CHASE, intervalMs: 100 },
      async (layer) => {
        caps.push(layer);
      },
      recv,
    );
    await consumer.resume();
    await sleep(600); // every retry of the chase would have run by now
    x.sender.stop();
    // Nothing asked, no layer moved (only the lowest-layer start, set before the resume): the
    // request mediasoup makes at connect stays the one.
    expect(caps).toEqual([0]);
    expect(x.sender.requests.length - before).toBe(0);
  }, 20_000);
});
