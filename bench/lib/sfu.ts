/**
 * Synthetic participants on mediasoup routers and on Janus VideoRoom, through plain RTP
 * (the SFU's ingest) and SRTP (its egress, so encryption is paid as for browsers).
 */
import { randomBytes } from 'node:crypto';
import type { types } from 'mediasoup';
import type { JanusApi } from './janus.js';
import { janusRemoteSsrc } from './janus.js';
import { AUDIO_LEVEL_EXT_ID, producerRtpParameters, OPUS_32K, VIDEO_500K } from './rtp.js';

const SUITE = 'AES_CM_128_HMAC_SHA1_80' as const;

/** A comedia PlainTransport (latches on the sender's address) with one producer per kind. */
export async function plainIngest(
  router: types.Router,
  streams: { kind: 'audio' | 'video'; ssrc: number }[],
): Promise<{ transport: types.PlainTransport; producers: types.Producer[]; port: number }> {
  const transport = await router.createPlainTransport({
    listenIp: '127.0.0.1',
    rtcpMux: true,
    comedia: true,
  });
  const producers: types.Producer[] = [];
  for (const s of streams) {
    const shape = s.kind === 'video' ? VIDEO_500K : OPUS_32K;
    producers.push(
      await transport.produce({
        kind: s.kind,
        rtpParameters: producerRtpParameters(shape, s.ssrc) as types.RtpParameters,
      }),
    );
  }
  return { transport, producers, port: transport.tuple.localPort };
}

/**
 * A PlainTransport sending to 127.0.0.1:port (SRTP unless srtp is false), consuming producers.
 * By default it receives like a browser (the router's capabilities: NACK, PLI, RTX).
 */
export async function plainEgress(
  router: types.Router,
  producerIds: string[],
  port: number,
  srtp = true,
  rtpCapabilities: types.RtpCapabilities = router.rtpCapabilities,
): Promise<types.PlainTransport> {
  const transport = await router.createPlainTransport({
    listenIp: '127.0.0.1',
    rtcpMux: true,
    comedia: false,
    enableSrtp: srtp,
    srtpCryptoSuite: SUITE,
  });
  await transport.connect({
    ip: '127.0.0.1',
    port,
    ...(srtp
      ? { srtpParameters: { cryptoSuite: SUITE, keyBase64: randomBytes(30).toString('base64') } }
      : {}),
  });
  for (const producerId of producerIds) {
    await transport.consume({ producerId, rtpCapabilities, paused: false });
  }
  return transport;
}

/** Runs fn over items with at most `width` calls in flight. */
export async function inBatches<T>(items: T[], width: number, fn: (item: T) => Promise<unknown>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

let nextRoom = 7000 + Math.floor(Math.random() * 1000);

/** A Janus VideoRoom fed by "remote publishers" (plain RTP in) and read by RTP forwarders. */
export class JanusRoom {
  private constructor(
    readonly api: JanusApi,
    readonly room: number,
  ) {}

  /** A room; `talkingEvents` has it compute who is talking (like an active-speaker observer). */
  static async create(api: JanusApi, talkingEvents = false): Promise<JanusRoom> {
    const room = nextRoom++;
    await api.request({
      request: 'create',
      room,
      publishers: 100,
      videocodec: 'vp8',
      audiocodec: 'opus',
      audiolevel_ext: true,
      audiolevel_event: talkingEvents,
      notify_joining: false,
    });
    return new JanusRoom(api, room);
  }

  /**
   * Adds a remote publisher with the given m-lines; returns the port to send its RTP to, and
   * the port to latch on for its RTCP feedback (key-frame requests) when Janus offers one.
   * Stream i must be sent with SSRC janusRemoteSsrc(i).
   */
  async addPublisher(
    id: number,
    kinds: ('audio' | 'video')[],
  ): Promise<{ port: number; rtcpPort: number | null; ssrcs: number[] }> {
    const res = await this.api.request<{ port: number; rtcp_port?: number }>({
      request: 'add_remote_publisher',
      room: this.room,
      id,
      display: `synthetic-${id}`,
      iface: '127.0.0.1',
      streams: kinds.map((kind, mindex) => ({
        type: kind,
        mindex,
        mid: String(mindex),
        codec: kind === 'video' ? 'vp8' : 'opus',
        ...(kind === 'audio' ? { audiolevel_ext_id: AUDIO_LEVEL_EXT_ID } : {}),
      })),
    });
    return {
      port: res.port,
      rtcpPort: res.rtcp_port ?? null,
      ssrcs: kinds.map((_, i) => janusRemoteSsrc(i)),
    };
  }

  /**
   * An RTP forwarder of one publisher m-line to 127.0.0.1:port (SRTP unless srtp is false),
   * sending with `ssrc` when given (else the publisher's); returns its stream id (for stopForward).
   */
  async forward(
    publisherId: number,
    mid: string,
    port: number,
    srtp = true,
    ssrc?: number,
  ): Promise<number> {
    const res = await this.api.request<{ forwarders?: { stream_id: number }[] }>({
      request: 'rtp_forward',
      room: this.room,
      publisher_id: publisherId,
      host: '127.0.0.1',
      streams: [{ mid, port, ...(ssrc !== undefined ? { ssrc } : {}) }],
      ...(srtp ? { srtp_suite: 80, srtp_crypto: randomBytes(30).toString('base64') } : {}),
    });
    const id = res.forwarders?.[0]?.stream_id;
    if (id === undefined) throw new Error('janus rtp_forward: no stream_id in the answer');
    return id;
  }

  async stopForward(publisherId: number, streamId: number): Promise<void> {
    await this.api.request({
      request: 'stop_rtp_forward',
      room: this.room,
      publisher_id: publisherId,
      stream_id: streamId,
    });
  }

  async destroy(): Promise<void> {
    await this.api.request({ request: 'destroy', room: this.room }).catch(() => undefined);
  }
}
