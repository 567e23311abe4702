/// <reference lib="dom" />
/**
 * Janus VideoRoom page for the side-by-side join test, on Janus's own WebSocket API:
 * ?role=publish sends the fake camera (three simulcast layers with the gateway client's
 * bitrates) and mic as feed ?feed; otherwise it subscribes to that feed.
 * Only loopback ICE candidates are offered, so all media stays on 127.0.0.1.
 */
import { attach } from './attach.js';

const params = new URLSearchParams(location.search);
const role = params.get('role') ?? 'subscribe';
const wsUrl = params.get('ws')!;
const room = Number(params.get('room'));
const feed = Number(params.get('feed') ?? 1);
const status = { published: false, error: null as string | null };
(window as unknown as { __janus: typeof status }).__janus = status;

type Msg = Record<string, unknown> & { janus: string; transaction?: string };

const AUDIO = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
// The gateway client's capture size (client/src/media.ts).
const VIDEO = { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } };

class Janus {
  #next = 0;
  readonly #waiting = new Map<string, (m: Msg) => void>();
  readonly events: Msg[] = [];
  #onEvent: ((m: Msg) => void) | null = null;
  session = 0;
  handle = 0;

  private constructor(readonly ws: WebSocket) {
    ws.onmessage = (e) => {
      const m = JSON.parse(String(e.data)) as Msg;
      if (m.janus === 'ack') return;
      const done = m.transaction ? this.#waiting.get(m.transaction) : undefined;
      if (done) {
        this.#waiting.delete(m.transaction!);
        done(m);
      } else if (m.janus === 'event') {
        if (this.#onEvent) this.#onEvent(m);
        else this.events.push(m);
      }
    };
  }

  static async open(url: string): Promise<Janus> {
    const ws = new WebSocket(url, 'janus-protocol');
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = () => reject(new Error('janus websocket failed'));
    });
    const j = new Janus(ws);
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

  /** A plugin request; resolves with its event (which may carry a jsep). */
  message(body: Record<string, unknown>, jsep?: RTCSessionDescriptionInit): Promise<Msg> {
    return this.send({
      janus: 'message',
      session_id: this.session,
      handle_id: this.handle,
      body,
      ...(jsep ? { jsep } : {}),
    });
  }

  trickle(pc: RTCPeerConnection): void {
    pc.onicecandidate = ({ candidate }) => {
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
  }
}

const jsepOf = (m: Msg) => m.jsep as RTCSessionDescriptionInit | undefined;

async function publish(): Promise<void> {
  const j = await Janus.open(wsUrl);
  await j.message({
    request: 'join',
    ptype: 'publisher',
    room,
    id: feed,
    display: 'bench publisher',
  });
  const stream = await navigator.mediaDevices.getUserMedia({ audio: AUDIO, video: VIDEO });
  const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
  j.trickle(pc);
  pc.addTransceiver(stream.getAudioTracks()[0]!, { direction: 'sendonly' });
  // janus.js's simulcast convention (rids high to low), with the gateway client's bitrates.
  pc.addTransceiver(stream.getVideoTracks()[0]!, {
    direction: 'sendonly',
    sendEncodings: [
      { rid: 'h', maxBitrate: 900_000, scalabilityMode: 'L1T3' },
      { rid: 'm', maxBitrate: 300_000, scaleResolutionDownBy: 2, scalabilityMode: 'L1T3' },
      { rid: 'l', maxBitrate: 100_000, scaleResolutionDownBy: 4, scalabilityMode: 'L1T3' },
    ] as unknown as RTCRtpEncodingParameters[],
  });
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  const res = await j.message({ request: 'publish', audio: true, video: true }, offer);
  let answer = jsepOf(res);
  while (!answer) {
    answer = await new Promise<RTCSessionDescriptionInit | undefined>((resolve) => {
      const ev = j.events.shift();
      if (ev) resolve(jsepOf(ev));
      else setTimeout(() => resolve(undefined), 20);
    });
  }
  await pc.setRemoteDescription(answer);
  pc.onconnectionstatechange = () => {
    if (pc.connectionState === 'connected') status.published = true;
  };
}

async function subscribe(): Promise<void> {
  const j = await Janus.open(wsUrl);
  const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
  pc.ontrack = ({ track }) => attach(track);
  j.trickle(pc);
  const res = await j.message({ request: 'join', ptype: 'subscriber', room, streams: [{ feed }] });
  const offer = jsepOf(res)!;
  await pc.setRemoteDescription(offer);
  const answer = await pc.createAnswer();
  await pc.setLocalDescription(answer);
  await j.message({ request: 'start', room }, answer);
}

(role === 'publish' ? publish() : subscribe()).catch((err: Error) => {
  status.error = err.message;
  console.error(err);
});
