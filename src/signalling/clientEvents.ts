/**
 * Every client → server event with the zod schema of its payload, as a runtime value (the
 * ClientToServerEvents interface exists only for the compiler). The `satisfies` makes a new
 * event in the interface a type error until it is listed here, so tools that walk every event
 * (the signalling fuzzer) cover it.
 */
import type { z } from 'zod';
import type { ClientToServerEvents } from './messages.js';
import {
  admitRequest,
  chatHistoryRequest,
  chatMessageRequest,
  connectTransportRequest,
  consumeRequest,
  consumerRequest,
  createTransportRequest,
  denyRequest,
  emptyRequest,
  joinRequest,
  lobbyMessageRequest,
  produceRequest,
  producerRequest,
  removePeerRequest,
  restartIceRequest,
  setPreferredLayersRequest,
} from './messages.js';

export type ClientEvent = keyof ClientToServerEvents;

export const clientEventSchemas = {
  join: joinRequest,
  createTransport: createTransportRequest,
  connectTransport: connectTransportRequest,
  produce: produceRequest,
  consume: consumeRequest,
  resumeConsumer: consumerRequest,
  pauseProducer: producerRequest,
  resumeProducer: producerRequest,
  closeProducer: producerRequest,
  setPreferredLayers: setPreferredLayersRequest,
  restartIce: restartIceRequest,
  getStats: emptyRequest,
  leave: emptyRequest,
  admit: admitRequest,
  deny: denyRequest,
  removePeer: removePeerRequest,
  endConsult: emptyRequest,
  chatMessage: chatMessageRequest,
  chatHistory: chatHistoryRequest,
  lobbyMessage: lobbyMessageRequest,
} satisfies Record<ClientEvent, z.ZodType>;

export const clientEventNames = Object.keys(clientEventSchemas) as ClientEvent[];
