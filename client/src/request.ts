import type { Socket } from 'socket.io-client';
import type {
  Ack,
  AckError,
  ClientToServerEvents,
  ErrorCode,
  ServerToClientEvents,
} from '../../src/protocol';

export type ConsultSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export type RequestName = keyof ClientToServerEvents;
/** The payload of request `E`. */
export type RequestData<E extends RequestName> = Parameters<ClientToServerEvents[E]>[0];
/** The `data` of an ok ack to request `E`. */
export type ResponseData<E extends RequestName> = Parameters<ClientToServerEvents[E]>[1] extends (
  res: Ack<infer T>,
) => void
  ? T
  : never;

/** Server error codes plus those the client raises itself. */
export type RequestErrorCode = ErrorCode | 'timeout' | 'disconnected' | 'too_large';

/**
 * The server closes the connection on a message over 256 KiB (maxHttpBufferSize in
 * src/gateway.ts); the client refuses anything near it, leaving room for the packet framing.
 */
export const MAX_MESSAGE_BYTES = 250 * 1024;
/** Messages this big are remembered, to explain a connection closed right after one. */
const LARGE_MESSAGE_BYTES = 64 * 1024;
const largeSends = new WeakMap<ConsultSocket, number>();

/** True when this socket sent a large message within `withinMs` (its closing may be why). */
export function sentLargeMessageRecently(socket: ConsultSocket, withinMs = 5000): boolean {
  const at = largeSends.get(socket);
  return at !== undefined && Date.now() - at < withinMs;
}

function serializedBytes(data: unknown): number {
  return new TextEncoder().encode(JSON.stringify(data) ?? '').length;
}

/** A failed request: the server's ack error, a timeout, or a lost connection. */
export class RequestError extends Error {
  readonly code: RequestErrorCode;
  readonly request: string;
  readonly issues: AckError['issues'];

  constructor(
    request: string,
    code: RequestErrorCode,
    message: string,
    issues?: AckError['issues'],
  ) {
    super(message);
    this.name = 'RequestError';
    this.request = request;
    this.code = code;
    this.issues = issues;
  }
}

export const DEFAULT_TIMEOUT_MS = 10_000;

type LooseEmit = (event: string, data: unknown, ack: (res: unknown) => void) => unknown;

function isAck(value: unknown): value is Ack<unknown> {
  return (
    typeof value === 'object' && value !== null && typeof (value as Ack<unknown>).ok === 'boolean'
  );
}

/**
 * Emits `event` with `data` and resolves with the ack's `data`, or rejects with a
 * RequestError carrying the ack's error `code` (or 'timeout' / 'disconnected').
 */
export function request<E extends RequestName>(
  socket: ConsultSocket,
  event: E,
  data: RequestData<E>,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<ResponseData<E>> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off('disconnect', onDisconnect);
      fn();
    };
    const timer = setTimeout(
      () =>
        finish(() =>
          reject(new RequestError(event, 'timeout', `"${event}" timed out after ${timeoutMs} ms`)),
        ),
      timeoutMs,
    );
    const onDisconnect = (): void =>
      finish(() =>
        reject(new RequestError(event, 'disconnected', `Connection lost during "${event}"`)),
      );
    const bytes = serializedBytes(data);
    if (bytes > MAX_MESSAGE_BYTES) {
      finish(() =>
        reject(
          new RequestError(
            event,
            'too_large',
            `This is too large to send (${Math.ceil(bytes / 1024)} KiB; the server accepts at most 256 KiB per message).`,
          ),
        ),
      );
      return;
    }
    if (!socket.connected) {
      onDisconnect();
      return;
    }
    if (bytes > LARGE_MESSAGE_BYTES) largeSends.set(socket, Date.now());
    socket.on('disconnect', onDisconnect);
    (socket.emit as unknown as LooseEmit).call(socket, event, data, (res: unknown) =>
      finish(() => {
        if (!isAck(res)) {
          reject(new RequestError(event, 'internal', `Malformed reply to "${event}"`));
        } else if (res.ok) {
          resolve(res.data as ResponseData<E>);
        } else {
          const { code, message, issues }: Partial<AckError> = res.error ?? {};
          reject(
            new RequestError(
              event,
              code ?? 'internal',
              message || `"${event}" failed (${code ?? 'internal'})`,
              issues,
            ),
          );
        }
      }),
    );
  });
}

/** A code and message for any thrown value. */
export function describeError(err: unknown): { code: string; message: string } {
  if (err instanceof RequestError) return { code: err.code, message: err.message };
  if (err instanceof Error) return { code: err.name || 'error', message: err.message };
  return { code: 'error', message: String(err) };
}
