/**
 * Traffic agent: sends synthetic RTP streams (answering key-frame requests like a browser)
 * and counts what its receiving sockets get: per-SSRC loss from sequence numbers, and for
 * latency runs the one-way delay of every packet (send time is in the payload; sender and
 * receiver share this process's clock).
 */
import dgram from 'node:dgram';
import { serveAgent } from '../lib/agent.js';
import { udpDrops } from '../lib/proc.js';
import {
  OPUS_32K,
  VIDEO_500K,
  buildPacket,
  keyFrameRequests,
  parseRtp,
  streamKey,
  type StreamShape,
} from '../lib/rtp.js';

export interface StreamSpec {
  port: number;
  host?: string;
  kind: 'audio' | 'video';
  ssrc: number;
  /** Overrides the shape's packet rate (latency runs). */
  framesPerSecond?: number;
  /**
   * Where an SFU that latches its RTCP feedback on a first packet (a Janus remote publisher's
   * rtcp_port) expects one: sent at the start of each run, so its key-frame requests reach us.
   */
  rtcpPort?: number;
}

export interface RunArgs {
  streams: StreamSpec[];
  warmupMs: number;
  measureMs: number;
  /** Stamp each packet with its send time (latency runs). */
  sendTime?: boolean;
}

export interface ReceiverReport {
  port: number;
  received: number;
  expected: number;
  /** Kernel receive-buffer drops on this socket during the window (our own limit, not the SFU's). */
  drops: number;
}

export interface RunReport {
  /** Packets sent during the measuring window. */
  sentInWindow: number;
  /** The same, per sending SSRC. */
  sentPerSsrc: Record<number, number>;
  /** The same, per stream (`port:ssrc`): Janus remote publishers all send the same SSRCs. */
  sentPerStream: Record<string, number>;
  sentTotal: number;
  windowMs: number;
  receivers: ReceiverReport[];
  /** One-way delays in microseconds (latency runs). */
  delaysUs: number[];
}

interface SsrcCount {
  received: number;
  firstExt: number;
  maxExt: number;
  lastSeq: number;
  cycles: number;
}

interface Receiver {
  socket: dgram.Socket;
  port: number;
  perSsrc: Map<number, SsrcCount>;
  dropsAtStart: number;
}

let receivers: Receiver[] = [];
let counting = false;
let latency = false;
let delaysUs: number[] = [];

function onPacket(r: Receiver, msg: Buffer): void {
  if (!counting) return;
  const now = process.hrtime.bigint();
  const rtp = parseRtp(msg);
  if (!rtp) return;
  if (latency && msg.length >= 20) {
    delaysUs.push(Number(now - msg.readBigUInt64BE(msg.length - 8)) / 1000);
  }
  let c = r.perSsrc.get(rtp.ssrc);
  if (!c) {
    c = { received: 0, firstExt: rtp.seq, maxExt: rtp.seq, lastSeq: rtp.seq, cycles: 0 };
    r.perSsrc.set(rtp.ssrc, c);
  }
  c.received++;
  // Extended sequence number: a forward step smaller than half the space, across a wrap.
  const forward = (rtp.seq - c.lastSeq) & 0xffff;
  if (forward !== 0 && forward < 0x8000) {
    if (rtp.seq < c.lastSeq) c.cycles += 0x10000;
    c.lastSeq = rtp.seq;
    c.maxExt = c.cycles + c.lastSeq;
  }
}

async function openReceivers({ count, latency: lat }: { count: number; latency?: boolean }) {
  latency = Boolean(lat);
  for (let i = 0; i < count; i++) {
    const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 });
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const r: Receiver = {
      socket,
      port: socket.address().port,
      perSsrc: new Map(),
      dropsAtStart: 0,
    };
    socket.on('message', (msg) => onPacket(r, msg));
    receivers.push(r);
  }
  return { ports: receivers.map((r) => r.port) };
}

function closeReceivers() {
  for (const r of receivers) r.socket.close();
  receivers = [];
}

interface LiveStream {
  spec: StreamSpec;
  shape: StreamShape;
  seq: number;
  timestamp: number;
  frameIntervalNs: bigint;
  nextFrameNs: bigint;
  keyFrameDue: boolean;
  frames: number;
  sent: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// One sending socket for the agent's life: an SFU that latches on the sender's address
// (comedia) must see the same source port in every run.
let senderSocket: dgram.Socket | null = null;
/** A stream's counters by `port:ssrc`, carried over between runs. */
const continued = new Map<string, { seq: number; timestamp: number; frames: number }>();

let onRtcp: (msg: Buffer) => void = () => undefined;

async function senderSocketOnce(): Promise<dgram.Socket> {
  if (senderSocket) return senderSocket;
  const socket = dgram.createSocket({ type: 'udp4', sendBufferSize: 4 * 1024 * 1024 });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  socket.on('message', (msg) => onRtcp(msg));
  senderSocket = socket;
  return socket;
}

async function run(args: RunArgs): Promise<RunReport> {
  const sender = await senderSocketOnce();
  const start = process.hrtime.bigint();
  const streams: LiveStream[] = args.streams.map((spec) => {
    const shape = spec.kind === 'video' ? VIDEO_500K : OPUS_32K;
    const fps = spec.framesPerSecond ?? shape.framesPerSecond;
    const interval = BigInt(Math.round(1e9 / fps));
    // A sender's sequence numbers go on across runs, as a real sender's would (an SRTP
    // forwarder refuses to encrypt a sequence number it has already passed).
    const prev = continued.get(streamKey(spec));
    return {
      spec,
      shape,
      seq: prev?.seq ?? Math.floor(Math.random() * 0xffff),
      timestamp: prev?.timestamp ?? Math.floor(Math.random() * 0xffffffff),
      frameIntervalNs: interval,
      // Streams start spread over one frame interval, as independent senders would.
      nextFrameNs: start + BigInt(Math.floor(Math.random() * Number(interval))),
      keyFrameDue: true,
      frames: prev?.frames ?? Math.floor(Math.random() * 0x7fff),
      sent: 0,
    };
  });
  const bySsrc = new Map(streams.map((s) => [s.spec.ssrc, s]));
  for (const { spec } of streams) {
    if (spec.rtcpPort)
      sender.send(emptyReceiverReport(spec.ssrc), spec.rtcpPort, spec.host ?? '127.0.0.1');
  }
  // An SFU asks for a key frame (PLI/FIR) when a consumer starts: answer it like a browser.
  onRtcp = (msg) => {
    for (const ssrc of keyFrameRequests(msg)) {
      const s = bySsrc.get(ssrc);
      if (s) s.keyFrameDue = true;
    }
  };
  let sent = 0;
  let sentAtWindowStart = 0;
  let sentAtWindowEnd = 0;
  const stampTime = Boolean(args.sendTime);
  const tick = () => {
    const now = process.hrtime.bigint();
    for (const s of streams) {
      while (s.nextFrameNs <= now) {
        const key = s.shape.kind === 'video' && s.keyFrameDue;
        if (key) s.keyFrameDue = false;
        for (let i = 0; i < s.shape.packetsPerFrame; i++) {
          const pkt = buildPacket(s.shape, {
            ssrc: s.spec.ssrc,
            seq: s.seq++,
            timestamp: s.timestamp,
            marker: i === s.shape.packetsPerFrame - 1,
            frameStart: i === 0,
            keyFrame: key,
            frameNumber: s.frames,
            sendTimeNs: stampTime ? process.hrtime.bigint() : undefined,
          });
          sender.send(pkt, s.spec.port, s.spec.host ?? '127.0.0.1');
          sent++;
          s.sent++;
        }
        s.timestamp = (s.timestamp + s.shape.clockRate / s.shape.framesPerSecond) >>> 0;
        s.nextFrameNs += s.frameIntervalNs;
        s.frames++;
      }
    }
  };
  const timer = setInterval(tick, 1);
  await sleep(args.warmupMs);
  const dropsBefore = udpDrops();
  for (const r of receivers) {
    r.perSsrc.clear();
    r.dropsAtStart = dropsBefore.get(r.port) ?? 0;
  }
  delaysUs = [];
  sentAtWindowStart = sent;
  const sentAtStart = new Map(streams.map((st) => [st, st.sent]));
  counting = true;
  const t0 = process.hrtime.bigint();
  await sleep(args.measureMs);
  sentAtWindowEnd = sent;
  clearInterval(timer);
  const sentPerSsrc: Record<number, number> = {};
  const sentPerStream: Record<string, number> = {};
  for (const st of streams) {
    const n = st.sent - sentAtStart.get(st)!;
    sentPerSsrc[st.spec.ssrc] = (sentPerSsrc[st.spec.ssrc] ?? 0) + n;
    sentPerStream[streamKey(st.spec)] = n;
    continued.set(streamKey(st.spec), { seq: st.seq, timestamp: st.timestamp, frames: st.frames });
  }
  // Packets already on their way (or queued in a lagging SFU) still count.
  await sleep(300);
  counting = false;
  const windowMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const dropsAfter = udpDrops();
  onRtcp = () => undefined;
  return {
    sentInWindow: sentAtWindowEnd - sentAtWindowStart,
    sentPerSsrc,
    sentPerStream,
    sentTotal: sent,
    windowMs,
    receivers: receivers.map((r) => {
      let received = 0;
      let expected = 0;
      for (const c of r.perSsrc.values()) {
        received += c.received;
        expected += c.maxExt - c.firstExt + 1;
      }
      return {
        port: r.port,
        received,
        expected: Math.max(expected, received),
        drops: (dropsAfter.get(r.port) ?? 0) - r.dropsAtStart,
      };
    }),
    delaysUs,
  };
}

/** An RTCP receiver report with no report blocks (8 bytes), from ssrc. */
function emptyReceiverReport(ssrc: number): Buffer {
  const buf = Buffer.alloc(8);
  buf.writeUInt8(0x80, 0);
  buf.writeUInt8(201, 1);
  buf.writeUInt16BE(1, 2);
  buf.writeUInt32BE(ssrc >>> 0, 4);
  return buf;
}

serveAgent({ openReceivers, closeReceivers, run });
