/**
 * Synthetic RTP the way a browser sends it, without a codec: VP8 frames with a valid
 * payload descriptor (so an SFU sees key frames) and opus packets with an audio-level
 * header extension (so an active-speaker observer has something to read).
 */

export interface StreamShape {
  kind: 'audio' | 'video';
  payloadType: number;
  clockRate: number;
  framesPerSecond: number;
  packetsPerFrame: number;
  /** RTP payload bytes per packet (after the RTP header and extensions). */
  payloadBytes: number;
}

/** 500 kbit/s VP8 camera: 30 fps, two ~1 kB packets per frame (60 packets/s). */
export const VIDEO_500K: StreamShape = {
  kind: 'video',
  payloadType: 96,
  clockRate: 90_000,
  framesPerSecond: 30,
  packetsPerFrame: 2,
  payloadBytes: 1030,
};

/** 32 kbit/s opus microphone: one 20 ms packet (50 packets/s). */
export const OPUS_32K: StreamShape = {
  kind: 'audio',
  payloadType: 100,
  clockRate: 48_000,
  framesPerSecond: 50,
  packetsPerFrame: 1,
  payloadBytes: 64,
};

export const AUDIO_LEVEL_EXT_ID = 10;
export const AUDIO_LEVEL_URI = 'urn:ietf:params:rtp-hdrext:ssrc-audio-level';

/** A sent stream's key in the traffic agent's per-stream counts: its destination port and SSRC. */
export const streamKey = (s: { port: number; ssrc: number }) => `${s.port}:${s.ssrc}`;

export function packetsPerSecond(shape: StreamShape): number {
  return shape.framesPerSecond * shape.packetsPerFrame;
}

export function bitrate(shape: StreamShape): number {
  const header = 12 + (shape.kind === 'audio' ? 8 : 0);
  return packetsPerSecond(shape) * (header + shape.payloadBytes) * 8;
}

/** mediasoup RTP parameters a PlainTransport producer needs for a synthetic stream. */
export function producerRtpParameters(shape: StreamShape, ssrc: number) {
  return shape.kind === 'video'
    ? {
        codecs: [
          {
            mimeType: 'video/VP8',
            payloadType: shape.payloadType,
            clockRate: shape.clockRate,
            rtcpFeedback: [
              { type: 'nack' },
              { type: 'nack', parameter: 'pli' },
              { type: 'ccm', parameter: 'fir' },
            ],
          },
        ],
        headerExtensions: [],
        encodings: [{ ssrc }],
        rtcp: { cname: `bench-${ssrc}`, reducedSize: true },
      }
    : {
        codecs: [
          {
            mimeType: 'audio/opus',
            payloadType: shape.payloadType,
            clockRate: shape.clockRate,
            channels: 2,
            parameters: { useinbandfec: 1 },
            rtcpFeedback: [],
          },
        ],
        headerExtensions: [{ uri: AUDIO_LEVEL_URI, id: AUDIO_LEVEL_EXT_ID }],
        encodings: [{ ssrc }],
        rtcp: { cname: `bench-${ssrc}`, reducedSize: true },
      };
}

/**
 * RTP capabilities of a plain receiver that cannot ask for retransmissions or key frames
 * (like a Janus RTP forwarder's target): the SFU then keeps no retransmission buffer.
 */
export function plainReceiverCapabilities(kind: 'audio' | 'video') {
  return {
    codecs: [
      kind === 'video'
        ? {
            kind,
            mimeType: 'video/VP8',
            preferredPayloadType: 96,
            clockRate: 90_000,
            rtcpFeedback: [],
          }
        : {
            kind,
            mimeType: 'audio/opus',
            preferredPayloadType: 100,
            clockRate: 48_000,
            channels: 2,
            rtcpFeedback: [],
          },
    ],
    headerExtensions: [],
  };
}

export interface PacketOptions {
  ssrc: number;
  seq: number;
  timestamp: number;
  marker: boolean;
  /** First packet of a frame. */
  frameStart: boolean;
  keyFrame: boolean;
  /** Frame counter (VP8 picture id and TL0PICIDX). */
  frameNumber?: number;
  /** Written into the last 8 bytes of the payload (send time for latency). */
  sendTimeNs?: bigint;
}

/** One RTP packet of the given shape. */
export function buildPacket(shape: StreamShape, o: PacketOptions): Buffer {
  const ext = shape.kind === 'audio' ? 8 : 0;
  const buf = Buffer.alloc(12 + ext + shape.payloadBytes);
  buf[0] = 0x80 | (ext ? 0x10 : 0);
  buf[1] = (o.marker ? 0x80 : 0) | shape.payloadType;
  buf.writeUInt16BE(o.seq & 0xffff, 2);
  buf.writeUInt32BE(o.timestamp >>> 0, 4);
  buf.writeUInt32BE(o.ssrc >>> 0, 8);
  let p = 12;
  if (ext) {
    // One-byte header extension (RFC 8285): audio level, voice activity set, -30 dBov.
    buf.writeUInt16BE(0xbede, 12);
    buf.writeUInt16BE(1, 14);
    buf[16] = (AUDIO_LEVEL_EXT_ID << 4) | 0;
    buf[17] = 0x80 | 30;
    p = 20;
  }
  if (shape.kind === 'video') {
    // VP8 payload descriptor as Chromium sends it: X, S (first packet of a frame), then
    // I (15-bit picture id), L (TL0PICIDX), T (temporal layer 0 for every frame).
    const frame = o.frameNumber ?? 0;
    buf[p] = 0x80 | (o.frameStart ? 0x10 : 0x00);
    buf[p + 1] = 0xe0;
    buf.writeUInt16BE(0x8000 | (frame & 0x7fff), p + 2);
    buf[p + 4] = frame & 0xff;
    buf[p + 5] = 0x00;
    const f = p + 6;
    if (o.frameStart) {
      // VP8 frame tag: bit 0 clear = key frame; show_frame set.
      buf[f] = o.keyFrame ? 0x10 : 0x11;
      if (o.keyFrame) {
        buf[f + 3] = 0x9d;
        buf[f + 4] = 0x01;
        buf[f + 5] = 0x2a;
        buf.writeUInt16LE(640, f + 6);
        buf.writeUInt16LE(480, f + 8);
      }
    }
  } else {
    buf[p] = 0x78; // opus TOC: SILK-only WB, 20 ms
  }
  if (o.sendTimeNs !== undefined) buf.writeBigUInt64BE(o.sendTimeNs, buf.length - 8);
  return buf;
}

/** The RTP sequence number, SSRC and payload offset of a packet (null if not RTP). */
export function parseRtp(buf: Buffer): { seq: number; ssrc: number } | null {
  if (buf.length < 12 || buf[0]! >> 6 !== 2) return null;
  const pt = buf[1]! & 0x7f;
  if (pt >= 64 && pt <= 95) return null; // RTCP
  return { seq: buf.readUInt16BE(2), ssrc: buf.readUInt32BE(8) };
}

/** Media SSRCs asking for a key frame (PLI or FIR) in a (compound) RTCP packet. */
export function keyFrameRequests(buf: Buffer): number[] {
  const out: number[] = [];
  let off = 0;
  while (off + 4 <= buf.length) {
    const fmt = buf[off]! & 0x1f;
    const pt = buf[off + 1]!;
    const len = (buf.readUInt16BE(off + 2) + 1) * 4;
    if (pt === 206 && fmt === 1 && off + 12 <= buf.length) out.push(buf.readUInt32BE(off + 8));
    if (pt === 206 && fmt === 4 && off + 20 <= buf.length) out.push(buf.readUInt32BE(off + 12));
    off += len;
  }
  return out;
}
