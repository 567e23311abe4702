/**
 * Every client → server event in one map: its name, the zod schema of its payload, the type
 * of its ok ack's `data`, and the error codes its ack may carry. `handle()` takes an entry of
 * this map, so a handler cannot pair an event with another event's schema; the client's
 * request types and Socket.IO's typed events are derived from it. docs/signalling.md
 * documents each entry (a unit test checks it lists them all).
 */
import type { z } from 'zod';
import type { Ack, ErrorCode } from './errors.js';
import type {
  ChatEntry,
  ConsumeResponse,
  Empty,
  JoinResponse,
  StatsResponse,
  TransportResponse,
  WaitingResponse,
} from './payloads.js';
import {
  admitRequest,
  chatHistoryRequest,
  chatMessageRequest,
  connectTransportRequest,
  consumeRequest,
  consumerRequest,
  createTransportRequest,
  denyRequest,
  lobbyMessageRequest,
  emptyRequest,
  joinRequest,
  produceRequest,
  producerRequest,
  removePeerRequest,
  restartIceRequest,
  setPreferredLayersRequest,
} from './requests.js';
import type { IceParameters } from './rtp.js';

/** Codes any event's ack may carry: a bad payload, the connection's rate limit, a server fault. */
export const COMMON_ERRORS = ['bad_request', 'rate_limited', 'internal'] as const;

/** One client → server event. `response` exists only for the compiler (the ok ack's data). */
export interface EventEntry<
  N extends string = string,
  S extends z.ZodType = z.ZodType,
  R = unknown,
> {
  readonly name: N;
  readonly request: S;
  /** The codes its error ack may carry besides COMMON_ERRORS. */
  readonly errors: readonly ErrorCode[];
  readonly response?: R;
}

/** An event whose ok ack carries `R`: `event<R>()(schema, errors)`. */
const event =
  <R>() =>
  <S extends z.ZodType>(request: S, errors: readonly ErrorCode[]) =>
    ({ request, errors }) as Omit<EventEntry<string, S, R>, 'name'>;

/** Names each entry by its key, so a name and its key cannot differ. */
function named<T extends Record<string, Omit<EventEntry, 'name'>>>(
  defs: T,
): { [K in keyof T & string]: T[K] & { readonly name: K } } {
  return Object.fromEntries(
    Object.entries(defs).map(([name, def]) => [name, { ...def, name }]),
  ) as never;
}

const seat = ['not_joined'] as const;
const media = [...seat, 'not_found', 'conflict'] as const;
/** Events that need a grant: refused when it is missing or the bearer lost access meanwhile. */
const granted = ['forbidden', 'unauthorized'] as const;

export const clientEvents = named({
  join: event<JoinResponse | WaitingResponse>()(joinRequest, [
    'forbidden',
    'unauthorized',
    'not_found',
    'conflict',
    'denied_recently',
    'seat_taken',
    'unavailable',
    'node_draining',
  ]),
  createTransport: event<TransportResponse>()(createTransportRequest, [...seat, 'conflict']),
  connectTransport: event<Empty>()(connectTransportRequest, media),
  produce: event<{ producerId: string }>()(produceRequest, [...media, ...granted]),
  consume: event<ConsumeResponse>()(consumeRequest, [...media, ...granted, 'cannot_consume']),
  resumeConsumer: event<Empty>()(consumerRequest, media),
  pauseProducer: event<Empty>()(producerRequest, media),
  resumeProducer: event<Empty>()(producerRequest, media),
  closeProducer: event<Empty>()(producerRequest, media),
  setPreferredLayers: event<Empty>()(setPreferredLayersRequest, media),
  restartIce: event<{ iceParameters: IceParameters }>()(restartIceRequest, media),
  getStats: event<StatsResponse>()(emptyRequest, media),
  leave: event<Empty>()(emptyRequest, seat),
  admit: event<Empty>()(admitRequest, [...seat, ...granted, 'not_found']),
  deny: event<Empty>()(denyRequest, [...seat, ...granted, 'not_found']),
  lobbyMessage: event<{ at: string }>()(lobbyMessageRequest, [...seat, ...granted, 'not_found']),
  removePeer: event<Empty>()(removePeerRequest, [...seat, ...granted, 'not_found']),
  endConsult: event<Empty>()(emptyRequest, [...seat, ...granted, 'conflict']),
  chatMessage: event<{ id: string; at: string }>()(chatMessageRequest, [...seat, 'conflict']),
  chatHistory: event<{ messages: ChatEntry[]; hasMore: boolean }>()(chatHistoryRequest, seat),
});

export type ClientEvents = typeof clientEvents;
export type ClientEvent = keyof ClientEvents;
export const clientEventNames = Object.keys(clientEvents) as ClientEvent[];

/** The payload of an entry, as the client sends it. */
export type RequestOf<E extends EventEntry> = z.input<E['request']>;
/** The `data` of an entry's ok ack. */
export type ResponseOf<E extends EventEntry> =
  E extends EventEntry<string, z.ZodType, infer R> ? R : never;

/** Client → server events for Socket.IO's typed sockets: payload, then the ack callback. */
export type ClientToServerEvents = {
  [E in ClientEvent]: (
    req: RequestOf<ClientEvents[E]>,
    ack: (res: Ack<ResponseOf<ClientEvents[E]>>) => void,
  ) => void;
};
