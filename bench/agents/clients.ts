/**
 * Socket.IO clients without media, speaking the gateway's protocol (the bare baseline server
 * answers the same events). Used for the signalling load and for the memory figures.
 */
import { performance } from 'node:perf_hooks';
import { io, type Socket } from 'socket.io-client';
import { serveAgent } from '../lib/agent.js';
import { cameraRtpParameters, micRtpParameters } from '../lib/participant.js';

type Ack<T> = { ok: true; data: T } | { ok: false; error: { code: string; message: string } };

const TIMEOUT_MS = 15_000;

function connect(url: string, token: string): Promise<Socket> {
  const socket = io(url, {
    auth: { token },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    timeout: TIMEOUT_MS,
  });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (err) => {
      socket.close();
      reject(err);
    });
  });
}

function call<T>(socket: Socket, event: string, payload: unknown): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    socket.timeout(TIMEOUT_MS).emit(event, payload, (err: Error | null, res: Ack<T>) => {
      if (err) reject(new Error(`${event}: no ack within ${TIMEOUT_MS} ms`));
      else if (!res.ok) reject(new Error(`${event}: ${res.error.code}: ${res.error.message}`));
      else resolve(res.data);
    });
  });
}

async function timed<T>(into: number[], fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const out = await fn();
  into.push(performance.now() - t0);
  return out;
}

export interface CycleArgs {
  url: string;
  clients: { token: string; consultId: string }[];
  concurrency: number;
}

export interface CycleReport {
  completed: number;
  failures: number;
  firstError: string | null;
  elapsedMs: number;
  connectMs: number[];
  joinMs: number[];
  createTransportMs: number[];
  leaveMs: number[];
}

/** Each client: connect, join, createTransport(send) (the intent to produce), leave, disconnect. */
async function cycle(args: CycleArgs): Promise<CycleReport> {
  const report: CycleReport = {
    completed: 0,
    failures: 0,
    firstError: null,
    elapsedMs: 0,
    connectMs: [],
    joinMs: [],
    createTransportMs: [],
    leaveMs: [],
  };
  let next = 0;
  const worker = async () => {
    while (next < args.clients.length) {
      const client = args.clients[next++]!;
      let socket: Socket | null = null;
      try {
        socket = await timed(report.connectMs, () => connect(args.url, client.token));
        const s = socket;
        await timed(report.joinMs, () => call(s, 'join', { consultId: client.consultId }));
        await timed(report.createTransportMs, () =>
          call(s, 'createTransport', { direction: 'send' }),
        );
        await timed(report.leaveMs, () => call(s, 'leave', {}));
        report.completed++;
      } catch (err) {
        report.failures++;
        report.firstError ??= (err as Error).message;
      } finally {
        socket?.close();
      }
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: args.concurrency }, worker));
  report.elapsedMs = performance.now() - t0;
  return report;
}

const held: Socket[] = [];

interface Joined {
  socket: Socket;
  consultId: string;
  rtpCapabilities: unknown;
  producerIds: string[];
}

/**
 * Connects participants that stay: each joins, opens send and receive transports, produces
 * mic and camera (simulcast) and consumes everyone else in its consult. No media flows.
 */
async function connectParticipants(args: {
  url: string;
  clients: { token: string; consultId: string }[];
}) {
  const joined: Joined[] = [];
  let ssrc = 10_000;
  for (const client of args.clients) {
    const socket = await connect(args.url, client.token);
    held.push(socket);
    const join = await call<{ routerRtpCapabilities: unknown }>(socket, 'join', {
      consultId: client.consultId,
    });
    const send = await call<{ id: string }>(socket, 'createTransport', { direction: 'send' });
    await call(socket, 'createTransport', { direction: 'recv' });
    const mic = await call<{ producerId: string }>(socket, 'produce', {
      transportId: send.id,
      kind: 'audio',
      rtpParameters: micRtpParameters((ssrc += 10)),
      appData: { source: 'mic' },
    });
    const cam = await call<{ producerId: string }>(socket, 'produce', {
      transportId: send.id,
      kind: 'video',
      rtpParameters: cameraRtpParameters((ssrc += 10)),
      appData: { source: 'camera' },
    });
    joined.push({
      socket,
      consultId: client.consultId,
      rtpCapabilities: join.routerRtpCapabilities,
      producerIds: [mic.producerId, cam.producerId],
    });
  }
  let consumers = 0;
  for (const p of joined) {
    for (const other of joined) {
      if (other === p || other.consultId !== p.consultId) continue;
      for (const producerId of other.producerIds) {
        await call(p.socket, 'consume', { producerId, rtpCapabilities: p.rtpCapabilities });
        consumers++;
      }
    }
  }
  return { participants: joined.length, consumers };
}

async function disconnectAll() {
  for (const s of held.splice(0)) s.close();
  await new Promise((r) => setTimeout(r, 300));
  return {};
}

serveAgent({ cycle, connectParticipants, disconnectAll });
