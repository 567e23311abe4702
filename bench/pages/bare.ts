/// <reference lib="dom" />
/**
 * The baseline page: mediasoup-client on bare mediasoup with the least signalling that works.
 * ?role=publish sends the fake camera (simulcast, as the gateway's client does) and mic;
 * otherwise it receives every producer of the consult.
 */
import { Device } from 'mediasoup-client';
import type { types } from 'mediasoup-client';
import { io, type Socket } from 'socket.io-client';
import { cameraEncodings } from '../../client/src/simulcast.js';
import { attach } from './attach.js';

const params = new URLSearchParams(location.search);
const role = params.get('role') ?? 'subscribe';
const consultId = params.get('consult') ?? 'join';
const status = { published: false, error: null as string | null };
(window as unknown as { __bare: typeof status }).__bare = status;
// The same step trace as the gateway's client (RoomClient.trace), read by the join breakdown.
const trace: { at: number; step: string }[] = [];
(window as unknown as { __consult: { trace: typeof trace } }).__consult = { trace };
const mark = (step: string) => trace.push({ at: Date.now(), step });

// The same capture constraints as client/src/media.ts (720p) and the same camera encodings
// (client/src/simulcast.ts, from the size captured): a joiner's first key frame is as large
// as on the gateway's page.
const AUDIO = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
const VIDEO = { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } };

type Ack<T> = { ok: true; data: T } | { ok: false; error: { message: string } };

function req<T>(socket: Socket, event: string, payload: unknown): Promise<T> {
  return new Promise((resolve, reject) =>
    socket.emit(event, payload, (res: Ack<T>) =>
      res.ok ? resolve(res.data) : reject(new Error(res.error.message)),
    ),
  );
}

type TransportInfo = types.TransportOptions;

function wire(socket: Socket, t: types.Transport): void {
  t.on('connect', ({ dtlsParameters }, cb, eb) => {
    req(socket, 'connectTransport', { transportId: t.id, dtlsParameters }).then(() => cb(), eb);
  });
}

async function main(): Promise<void> {
  // WebSocket from the start, like the gateway's client: no long-polling phase to upgrade from.
  const socket = io({ forceNew: true, transports: ['websocket'] });
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  mark('connect');
  const join = await req<{
    routerRtpCapabilities: types.RtpCapabilities;
    producers: { producerId: string }[];
  }>(socket, 'join', { consultId });
  const device = new Device();
  mark('join ack');
  await device.load({ routerRtpCapabilities: join.routerRtpCapabilities });
  mark('device loaded');
  if (role === 'publish') {
    const t = device.createSendTransport(
      await req<TransportInfo>(socket, 'createTransport', { direction: 'send' }),
    );
    wire(socket, t);
    t.on('produce', ({ kind, rtpParameters }, cb, eb) => {
      req<{ producerId: string }>(socket, 'produce', {
        transportId: t.id,
        kind,
        rtpParameters,
      }).then(({ producerId }) => cb({ id: producerId }), eb);
    });
    const stream = await navigator.mediaDevices.getUserMedia({ audio: AUDIO, video: VIDEO });
    await t.produce({
      track: stream.getAudioTracks()[0]!,
      codecOptions: { opusStereo: false, opusDtx: true, opusFec: true },
    });
    const video = stream.getVideoTracks()[0]!;
    const { width = 0, height = 0 } = video.getSettings();
    await t.produce({
      track: video,
      encodings: cameraEncodings({ width, height }),
      codecOptions: { videoGoogleStartBitrate: 1500 },
    });
    status.published = true;
    return;
  }
  const t = device.createRecvTransport(
    await req<TransportInfo>(socket, 'createTransport', { direction: 'recv' }),
  );
  mark('recv transport');
  wire(socket, t);
  t.on('connectionstatechange', (state) => mark(`recv ${state}`));
  await Promise.all(
    join.producers.map(async ({ producerId }) => {
      const c = await req<{
        consumerId: string;
        producerId: string;
        kind: 'audio' | 'video';
        rtpParameters: types.RtpParameters;
      }>(socket, 'consume', { producerId, rtpCapabilities: device.rtpCapabilities });
      mark(`consume ack ${c.kind}`);
      const consumer = await t.consume({
        id: c.consumerId,
        producerId: c.producerId,
        kind: c.kind,
        rtpParameters: c.rtpParameters,
      });
      mark(`consumer ${c.kind}`);
      attach(consumer.track);
    }),
  );
}

main().catch((err: Error) => {
  status.error = err.message;
  console.error(err);
});
