/** The payload of every client → server event, as a zod schema (parsed by `handle()`). */
import { z } from 'zod';
import { LOBBY_MESSAGE_MAX_CHARS } from './limits.js';
import { dtlsParametersSchema, rtpCapabilitiesSchema, rtpParametersSchema } from './rtp.js';
import { mediaKindSchema, mediaSourceSchema, personName } from './vocabulary.js';

const id = z.string().min(1).max(128);

/** How a device fared in the pre-call check. */
export const deviceVerdictSchema = z.enum(['ok', 'denied', 'in_use', 'none', 'error', 'skipped']);
/**
 * The pre-call check's result, sent with `join` and kept in the consult record: devices, whether
 * the microphone was heard, whether the speaker test was played, and the network figures
 * measured against the gateway: round trip and upstream over the media port (UDP or TCP) when
 * the media probe got through, download (and the fallback figures) over HTTPS.
 */
export const precheckSchema = z.strictObject({
  camera: deviceVerdictSchema,
  microphone: deviceVerdictSchema,
  /** The level meter moved above silence during the check. */
  micHeard: z.boolean(),
  /** The participant played the speaker test sound. */
  speakerTested: z.boolean(),
  network: z.strictObject({
    verdict: z.enum(['good', 'fair', 'poor', 'failed']),
    /** Round trip: to the media port when `path` is udp/tcp, else over HTTPS. */
    rttMs: z.number().min(0).max(60_000).nullable(),
    /** Always measured over HTTPS (the media probe measures upstream only). */
    downKbps: z.number().min(0).max(10_000_000).nullable(),
    /** Upstream: counted by the media server when `path` is udp/tcp, else over HTTPS. */
    upKbps: z.number().min(0).max(10_000_000).nullable(),
    /** The path the media probe reached the media port on, or `https` when it did not. */
    path: z.enum(['udp', 'tcp', 'https']),
    /** Why the media probe gave no figures (only with `path: 'https'`). */
    media: z.enum(['unreachable', 'refused', 'unsupported']).optional(),
    /** The HTTPS round trip, kept beside the media figures (only with `path` udp/tcp). */
    https: z
      .strictObject({
        rttMs: z.number().min(0).max(60_000).nullable(),
      })
      .optional(),
  }),
  /** ISO time the check finished. */
  at: z.iso.datetime({ offset: true }),
});
export type Precheck = z.infer<typeof precheckSchema>;

export const joinRequest = z
  .object({
    consultId: id,
    /** The name to show on this participant's tile; the record keeps the vouched name. */
    displayName: personName.optional(),
    /** The `resumeSecret` of an earlier `join` ack: proves this is the socket's session taking its seat back. */
    resumeSecret: z.string().min(16).max(128).optional(),
    /** What the browser knows of its network (navigator.connection.effectiveType / type), for the record. */
    networkType: z.string().trim().max(32).optional(),
    /** The pre-call check this participant ran before joining, for the record. */
    precheck: precheckSchema.optional(),
    /** Create this participant's receive transport with the join: the answer's `recvTransport` (one round trip less). */
    recvTransport: z.boolean().optional(),
    /** Create the send transport with the join too: the answer's `sendTransport` (a failover's rebuild, one round trip less). */
    sendTransport: z.boolean().optional(),
    /**
     * With `recvTransport: true` and the `subscribe` grant: the Device's RTP capabilities (as
     * `consume` takes them); every producer in the answer is then consumed and resumed on the
     * new receive transport, answered as `consumers` (no `consume`/`resumeConsumer` round trips).
     */
    rtpCapabilities: rtpCapabilitiesSchema.optional(),
  })
  .refine((r) => r.rtpCapabilities === undefined || r.recvTransport === true, {
    error: 'rtpCapabilities in join needs recvTransport: true (consumers need a receive transport)',
    path: ['rtpCapabilities'],
  });
export const CHAT_MAX_CHARS = 2000;
export const chatMessageRequest = z.object({
  text: z
    .string()
    .trim()
    .min(1, { error: 'a message cannot be empty' })
    .max(CHAT_MAX_CHARS, { error: `a message is at most ${CHAT_MAX_CHARS} characters` }),
});
export const CHAT_PAGE_MAX = 100;
/** Older chat messages: those before a message id or an ISO time, newest `limit` of them. */
export const chatHistoryRequest = z.object({
  before: z.union([
    z.iso.datetime({ offset: true }).transform((t) => ({ at: Date.parse(t) })),
    id.transform((messageId) => ({ id: messageId })),
  ]),
  limit: z.number().int().min(1).max(CHAT_PAGE_MAX).optional(),
});
export const createTransportRequest = z.object({ direction: z.enum(['send', 'recv']) });
export const connectTransportRequest = z.object({
  transportId: id,
  dtlsParameters: dtlsParametersSchema,
});
export const produceRequest = z.object({
  transportId: id,
  kind: mediaKindSchema,
  rtpParameters: rtpParametersSchema,
  appData: z.object({ source: mediaSourceSchema }),
});
export const consumeRequest = z.object({ producerId: id, rtpCapabilities: rtpCapabilitiesSchema });
export const consumerRequest = z.object({ consumerId: id });
export const producerRequest = z.object({ producerId: id });
export const setPreferredLayersRequest = z.object({
  consumerId: id,
  spatialLayer: z.number().int().min(0).max(2),
  temporalLayer: z.number().int().min(0).max(2).optional(),
});
export const restartIceRequest = z.object({ transportId: id });
export const emptyRequest = z.object({}).optional();
export const admitRequest = z.object({ peerId: id });
/** The host's own words to the one refused or removed; shown to them, never used as a code. */
const hostMessage = z.string().trim().min(1).max(200);
export const denyRequest = z.object({ peerId: id, reason: hostMessage.optional() });
/** The host's short message to someone waiting in the lobby ("I will be with you in 5 minutes"). */
export const lobbyMessageRequest = z.object({
  peerId: id,
  text: z
    .string()
    .trim()
    .min(1, { error: 'a message cannot be empty' })
    .max(LOBBY_MESSAGE_MAX_CHARS, {
      error: `a waiting-room message is at most ${LOBBY_MESSAGE_MAX_CHARS} characters`,
    }),
});
export const removePeerRequest = z.object({ peerId: id, reason: hostMessage.optional() });

export type JoinRequest = z.infer<typeof joinRequest>;
export type ProduceRequest = z.input<typeof produceRequest>;
