/// <reference lib="dom" />
/**
 * The fan-out subscriber page: one page holds many WebRTC subscribers, each its own
 * RTCPeerConnection, driven by the bench through window.__fanout. The same page and browser
 * subscribe to both systems: the gateway through mediasoup-client (as its client does) and
 * Janus VideoRoom through its WebSocket API (as janus.js does). Received tracks get no sink
 * (no <video>): what a subscriber costs here is receiving, not rendering.
 */
import { Device } from 'mediasoup-client';
import type { types } from 'mediasoup-client';

type Msg = Record<string, unknown> & { janus: string; transaction?: string };

/** A Janus session with one VideoRoom handle on its own WebSocket (one per subscriber, like a browser). */
class JanusSubscriber {
  #next = 0;
  readonly #waiting = new Map<string, (m: Msg) => void>();
  session = 0;
  handle = 0;
  readonly pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });

  private constructor(readonly ws: WebSocket) {
    ws.onmessage = (e) => {
      const m = JSON.parse(String(e.data)) as Msg;
      if (m.janus === 'ack' || !m.transaction) return;
      const done = this.#waiting.get(m.transaction);
      this.#waiting.delete(m.transaction);
      done?.(m);
    };
  }

  static async open(url: string): Promise<JanusSubscriber> {
    const ws = new WebSocket(url, 'janus-protocol');
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = () => reject(new Error('janus websocket failed'));
    });
    const j = new JanusSubscriber(ws);
    j.session = ((await j.send({ janus: 'create' })).data as { id: number }).id;
    j.handle = (
      (await j.send({ janus: 'attach', plugin: 'janus.plugin.videoroom', session_id: j.session }))
        .data as { id: number }
    ).id;
    return j;
  }

  send(body: Record<string, unknown>): Promise<Msg> {
    const transaction = `t${++this.#next}`;
    return new Promise((resolve, reject) => {
      this.#waiting.set(transaction, (m) =>
        m.janus === 'error' ? reject(new Error(JSON.stringify(m.error))) : resolve(m),
      );
      this.ws.send(JSON.stringify({ ...body, transaction }));
    });
  }

  message(body: Record<string, unknown>, jsep?: RTCSessionDescriptionInit): Promise<Msg> {
    const target = { session_id: this.session, handle_id: this.handle };
    return this.send({ janus: 'message', ...target, body, ...(jsep ? { jsep } : {}) });
  }

  /** Joins as a subscriber of feed, answers Janus's offer and starts the media. */
  async subscribe(room: number, feed: number): Promise<void> {
    this.pc.onicecandidate = ({ candidate }) => {
      if (candidate && !/ 127\.0\.0\.1 /.test(candidate.candidate)) return;
      void this.send({
        janus: 'trickle',
        session_id: this.session,
        handle_id: this.handle,
        candidate: candidate
          ? {
              candidate: candidate.candidate,
              sdpMid: candidate.sdpMid,
              sdpMLineIndex: candidate.sdpMLineIndex,
            }
          : { completed: true },
      });
    };
    const res = await this.message({
      request: 'join',
      ptype: 'subscriber',
      room,
      streams: [{ feed }],
    });
    const offer = res.jsep as RTCSessionDescriptionInit | undefined;
    if (!offer) throw new Error(`janus join: no offer (${JSON.stringify(res.plugindata)})`);
    await this.pc.setRemoteDescription(offer);
    const answer = await this.pc.createAnswer();
    await this.pc.setLocalDescription(answer);
    await this.message({ request: 'start', room }, answer);
  }

  close(): void {
    this.pc.close();
    void this.send({ janus: 'destroy', session_id: this.session }).catch(() => undefined);
    setTimeout(() => this.ws.close(), 500);
  }
}

/** What the bench passes for one gateway subscriber (from the server-side recv transport). */
export interface GatewaySubscriberInit {
  transport: types.TransportOptions;
  consumer: {
    id: string;
    producerId: string;
    kind: 'audio' | 'video';
    rtpParameters: types.RtpParameters;
  };
}

/** One subscriber's video receive counters (its inbound-rtp) and whether its DTLS is up. */
export interface SubscriberStats {
  id: string;
  connected: boolean;
  /** When the counters were read (ms, the page's clock). */
  at: number;
  packetsReceived: number;
  packetsLost: number;
  framesDecoded: number;
  framesReceived: number;
  nackCount: number;
  pliCount: number;
}

declare global {
  interface Window {
    /** Exposed by the bench: connects the gateway-side transport with the browser's DTLS parameters. */
    benchConnect(id: string, dtlsParameters: types.DtlsParameters): Promise<void>;
  }
}

/** Resolves once a subscriber is connected (ICE + DTLS), so a run's first key frame reaches it. */
const withTimeout = (connected: Promise<void>, id: string) =>
  Promise.race([
    connected,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`subscriber ${id}: not connected within 15 s`)), 15_000),
    ),
  ]);

let device: Device | null = null;
/** Each subscriber's receive statistics and how to end it. */
const subscribers = new Map<string, { stats(): Promise<RTCStatsReport>; close(): void }>();

/** Loads the gateway's router capabilities; returns what this browser can receive. */
async function load(routerRtpCapabilities: types.RtpCapabilities): Promise<types.RtpCapabilities> {
  device = new Device();
  await device.load({ routerRtpCapabilities });
  return device.rtpCapabilities;
}

async function addGateway(id: string, init: GatewaySubscriberInit): Promise<void> {
  if (!device) throw new Error('load() the router capabilities first');
  const t = device.createRecvTransport(init.transport);
  t.on('connect', ({ dtlsParameters }, cb, eb) => {
    window.benchConnect(id, dtlsParameters).then(() => cb(), eb);
  });
  const connected = new Promise<void>((resolve, reject) => {
    t.on('connectionstatechange', (state) => {
      if (state === 'connected') resolve();
      if (state === 'failed') reject(new Error(`subscriber ${id}: ICE/DTLS failed`));
    });
  });
  await t.consume(init.consumer);
  subscribers.set(id, { stats: () => t.getStats(), close: () => t.close() });
  await withTimeout(connected, id);
}

async function addJanus(id: string, wsUrl: string, room: number, feed: number): Promise<void> {
  const j = await JanusSubscriber.open(wsUrl);
  const connected = new Promise<void>((resolve, reject) => {
    j.pc.onconnectionstatechange = () => {
      if (j.pc.connectionState === 'connected') resolve();
      if (j.pc.connectionState === 'failed') reject(new Error(`subscriber ${id}: ICE/DTLS failed`));
    };
  });
  await j.subscribe(room, feed);
  subscribers.set(id, { stats: () => j.pc.getStats(), close: () => j.close() });
  await withTimeout(connected, id);
}

function remove(id: string): void {
  subscribers.get(id)?.close();
  subscribers.delete(id);
}

async function stats(): Promise<SubscriberStats[]> {
  const out: SubscriberStats[] = [];
  for (const [id, sub] of subscribers) {
    const x: SubscriberStats = {
      id,
      connected: false,
      at: 0,
      packetsReceived: 0,
      packetsLost: 0,
      framesDecoded: 0,
      framesReceived: 0,
      nackCount: 0,
      pliCount: 0,
    };
    (await sub.stats()).forEach((s: Record<string, unknown>) => {
      if (s.type === 'transport' && s.dtlsState === 'connected') x.connected = true;
      if (s.type !== 'inbound-rtp' || s.kind !== 'video') return;
      x.at = Number(s.timestamp);
      x.packetsReceived += Number(s.packetsReceived ?? 0);
      x.packetsLost += Number(s.packetsLost ?? 0);
      x.framesDecoded += Number(s.framesDecoded ?? 0);
      x.framesReceived += Number(s.framesReceived ?? 0);
      x.nackCount += Number(s.nackCount ?? 0);
      x.pliCount += Number(s.pliCount ?? 0);
    });
    out.push(x);
  }
  return out;
}

(window as unknown as { __fanout: unknown }).__fanout = {
  load,
  addGateway,
  addJanus,
  remove,
  stats,
};
