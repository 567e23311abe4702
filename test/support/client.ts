/** A real socket.io-client speaking the gateway's protocol, with promise-returning requests. */
import { io, type Socket } from 'socket.io-client';
import type { Ack, ClientToServerEvents, ServerToClientEvents } from '../../src/protocol/index.js';

export type TestSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export interface TestClient {
  socket: TestSocket;
  /** Sends an event with any payload (valid or not) and resolves with the raw ack. */
  request<T = unknown>(event: string, payload?: unknown): Promise<Ack<T>>;
  /** Like request, but throws unless the ack is ok; returns its data. */
  call<T = unknown>(event: string, payload?: unknown): Promise<T>;
  /** Resolves with the next payload of a server event (rejects after timeoutMs). */
  next<T = unknown>(event: keyof ServerToClientEvents, timeoutMs?: number): Promise<T>;
  /** Every payload received so far for an event. */
  received(event: keyof ServerToClientEvents): unknown[];
  close(): void;
}

export async function connectClient(
  url: string,
  token: string | undefined,
  opts: { extraHeaders?: Record<string, string> } = {},
): Promise<TestClient> {
  const socket: TestSocket = io(url, {
    ...opts,
    auth: token === undefined ? {} : { token },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  const log = new Map<string, unknown[]>();
  socket.onAny((event: string, payload: unknown) => {
    if (!log.has(event)) log.set(event, []);
    log.get(event)!.push(payload);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', (err) => {
      socket.close();
      reject(err);
    });
  });
  const request = <T>(event: string, payload?: unknown) =>
    new Promise<Ack<T>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ack for ${event} within 10 s`)), 10_000);
      const done = (res: Ack<T>) => {
        clearTimeout(timer);
        resolve(res);
      };
      const s = socket as unknown as { emit: (...args: unknown[]) => void };
      if (payload === undefined) s.emit(event, done);
      else s.emit(event, payload, done);
    });
  return {
    socket,
    request,
    async call<T>(event: string, payload?: unknown) {
      const res = await request<T>(event, payload);
      if (!res.ok) throw new Error(`${event} failed: ${res.error.code}: ${res.error.message}`);
      return res.data;
    },
    next<T>(event: keyof ServerToClientEvents, timeoutMs = 10_000) {
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no ${event} within ${timeoutMs} ms`)),
          timeoutMs,
        );
        socket.once(
          event as 'peerLeft',
          ((payload: T) => {
            clearTimeout(timer);
            resolve(payload);
          }) as never,
        );
      });
    },
    received: (event) => log.get(event) ?? [],
    close: () => socket.close(),
  };
}

export { audioRtpParameters, simulcastVideoRtpParameters } from './rtp.js';
