/**
 * The signalling protocol: every Socket.IO payload in both directions, as zod schemas.
 * Types come from `z.infer`; the client imports them as types only. See docs/signalling.md.
 */
import { z } from 'zod';

const id = z.string().min(1).max(128);
const looseRecord = z.record(z.string(), z.unknown());

// --- mediasoup parameter shapes (checked structurally here, deeply by mediasoup) ---

export const dtlsParametersSchema = z.object({
  role: z.enum(['auto', 'client', 'server']).optional(),
  fingerprints: z
    .array(z.object({ algorithm: z.string().min(1).max(32), value: z.string().min(1).max(256) }))
    .min(1)
    .max(8),
});

const rtcpFeedbackSchema = z.object({
  type: z.string().min(1).max(64),
  parameter: z.string().max(64).optional(),
});

const codecParametersSchema = z.object({
  mimeType: z.string().min(3).max(64),
  payloadType: z.number().int().min(0).max(127),
  clockRate: z.number().int().positive(),
  channels: z.number().int().positive().optional(),
  parameters: looseRecord.optional(),
  rtcpFeedback: z.array(rtcpFeedbackSchema).max(32).optional(),
});

const headerExtensionParametersSchema = z.object({
  uri: z.string().min(1).max(256),
  id: z.number().int().min(1).max(255),
  encrypt: z.boolean().optional(),
  parameters: looseRecord.optional(),
});

const encodingSchema = z.object({
  ssrc: z.number().int().nonnegative().optional(),
  rid: z.string().max(32).optional(),
  codecPayloadType: z.number().int().optional(),
  rtx: z.object({ ssrc: z.number().int().nonnegative() }).optional(),
  dtx: z.boolean().optional(),
  scalabilityMode: z.string().max(16).optional(),
  scaleResolutionDownBy: z.number().positive().optional(),
  maxBitrate: z.number().positive().optional(),
  maxFramerate: z.number().positive().optional(),
  adaptivePtime: z.boolean().optional(),
  priority: z.string().max(16).optional(),
  networkPriority: z.string().max(16).optional(),
  active: z.boolean().optional(),
});

export const rtpParametersSchema = z.object({
  mid: z.string().max(32).optional(),
  codecs: z.array(codecParametersSchema).min(1).max(32),
  headerExtensions: z.array(headerExtensionParametersSchema).max(32).optional(),
  encodings: z.array(encodingSchema).max(8).optional(),
  rtcp: z
    .object({
      cname: z.string().max(256).optional(),
      reducedSize: z.boolean().optional(),
      mux: z.boolean().optional(),
    })
    .optional(),
});

export const rtpCapabilitiesSchema = z.object({
  codecs: z
    .array(
      z.looseObject({
        kind: z.enum(['audio', 'video']),
        mimeType: z.string().min(3).max(64),
        clockRate: z.number().int().positive(),
      }),
    )
    .max(128)
    .optional(),
  headerExtensions: z.array(looseRecord).max(64).optional(),
});

// --- shared vocabulary ---

export const roleSchema = z.enum(['admin', 'doctor', 'specialist', 'guest']);
export type Role = z.infer<typeof roleSchema>;

export const PERSON_NAME_MAX_CHARS = 80;
/** A person's name, wherever one is given: accounts, guests, invites, join grants, `join`. */
export const personName = z
  .string()
  .trim()
  .min(1, { error: 'a name cannot be empty' })
  .max(PERSON_NAME_MAX_CHARS, { error: `a name is at most ${PERSON_NAME_MAX_CHARS} characters` });

export const mediaSourceSchema = z.enum(['mic', 'camera', 'screen']);
export type MediaSource = z.infer<typeof mediaSourceSchema>;

export const mediaKindSchema = z.enum(['audio', 'video']);
export type MediaKind = z.infer<typeof mediaKindSchema>;

// --- client → server requests (the payloads; each event also takes an ack) ---

/** How a device fared in the pre-call check. */
export const deviceVerdictSchema = z.enum(['ok', 'denied', 'in_use', 'none', 'error', 'skipped']);
/**
 * The pre-call check's result, sent with `join` and kept in the consult record: devices, whether
 * the microphone was heard, whether the speaker test was played, and the network figures
 * measured against the gateway over HTTPS (round trip, download and upload bitrate).
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
    rttMs: z.number().min(0).max(60_000).nullable(),
    downKbps: z.number().min(0).max(10_000_000).nullable(),
    upKbps: z.number().min(0).max(10_000_000).nullable(),
    /** What was measured: the HTTPS (TCP) path to the gateway. */
    path: z.literal('https'),
  }),
  /** ISO time the check finished. */
  at: z.iso.datetime({ offset: true }),
});
export type Precheck = z.infer<typeof precheckSchema>;

export const joinRequest = z.object({
  consultId: id,
  /** The name to show on this participant's tile; the record keeps the vouched name. */
  displayName: personName.optional(),
  /** The `resumeSecret` of an earlier `join` ack: proves this is the socket's session taking its seat back. */
  resumeSecret: z.string().min(16).max(128).optional(),
  /** What the browser knows of its network (navigator.connection.effectiveType / type), for the record. */
  networkType: z.string().trim().max(32).optional(),
  /** The pre-call check this participant ran before joining, for the record. */
  precheck: precheckSchema.optional(),
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
export const denyRequest = z.object({
  peerId: id,
  reason: z.string().trim().min(1).max(200).optional(),
});
export const LOBBY_MESSAGE_MAX_CHARS = 200;
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
export const removePeerRequest = z.object({
  peerId: id,
  reason: z.string().trim().min(1).max(200).optional(),
});

export type JoinRequest = z.infer<typeof joinRequest>;
export type ProduceRequest = z.infer<typeof produceRequest>;

// --- responses (the `data` of an ok ack) ---

export interface ProducerInfo {
  producerId: string;
  kind: MediaKind;
  appData: { source: MediaSource };
  paused: boolean;
}

/** How a participant is named to the others. */
export interface PersonNames {
  /** The name they chose to show (or their vouched name when they chose none). */
  displayName: string;
  /** The name the gateway vouches for: their account's name, or the guest name of their invite. */
  verifiedName: string;
}

export interface PeerInfo extends PersonNames {
  peerId: string;
  role: Role;
  producers: ProducerInfo[];
}

export interface LobbyEntryInfo extends PersonNames {
  peerId: string;
  role: Role;
  /** ISO time they started waiting. */
  since: string;
  /** Guests: ISO time they redeemed their invite link. */
  redeemedAt?: string;
}

/** At most this many waiting entries are sent in `lobbyChanged` and `join`'s `lobby`. */
export const LOBBY_LIST_MAX = 50;

/** `join`'s data for someone who must wait in the lobby until the host admits them. */
export interface WaitingResponse {
  waiting: true;
  peerId: string;
}

export interface ChatEntry {
  id: string;
  /** ISO time the server stored it. */
  at: string;
  senderId: string;
  senderName: string;
  senderRole: string;
  text: string;
}

/** One participant's connection figures, sampled by the server every few seconds. */
export interface QualityEntry {
  peerId: string;
  sendKbps: number | null;
  recvKbps: number | null;
  lossPct: number | null;
  rttMs: number | null;
  jitterMs: number | null;
  videoLayer: number | null;
}

/**
 * In `join`'s data when the participant took over its own seat (its socket had dropped, or it
 * joined again from another tab): the media it still has on the server. Keep local transports
 * whose ids are listed (media never stopped); create new ones otherwise, which replaces these.
 */
export interface ResumedState {
  transports: { id: string; direction: 'send' | 'recv' }[];
  producers: ProducerInfo[];
  consumers: {
    consumerId: string;
    producerId: string;
    kind: MediaKind;
    paused: boolean;
    /** Paused by the server because this receiver's bandwidth cannot carry the video. */
    pausedForBandwidth: boolean;
  }[];
}

export interface JoinResponse {
  waiting?: false;
  resumed?: ResumedState;
  peerId: string;
  /**
   * Give it back in a later `join` (after a dropped socket, from another tab) to take this
   * seat over; a new one comes with each join. Keep it secret.
   */
  resumeSecret: string;
  /** The consult's latest chat messages, oldest first (late joiners see them). */
  chat: ChatEntry[];
  /** Older messages exist: fetch them with `chatHistory`. */
  chatHasMore: boolean;
  /** Present for those who may admit (the host): who waits right now (the first LOBBY_LIST_MAX). */
  lobby?: LobbyEntryInfo[];
  /** With `lobby`: how many wait in all. */
  lobbyTotal?: number;
  /** mediasoup RtpCapabilities of the consult's router (for Device.load). */
  routerRtpCapabilities: unknown;
  peers: PeerInfo[];
}

export interface TransportResponse {
  id: string;
  iceParameters: unknown;
  iceCandidates: unknown[];
  dtlsParameters: unknown;
}

export interface ConsumeResponse {
  consumerId: string;
  producerId: string;
  peerId: string;
  kind: MediaKind;
  rtpParameters: unknown;
  appData: { source: MediaSource };
  producerPaused: boolean;
}

export interface StatsResponse {
  transports: { id: string; direction: 'send' | 'recv'; stats: unknown[] }[];
  producers: { id: string; source: MediaSource; score: unknown; stats: unknown[] }[];
  consumers: {
    id: string;
    producerId: string;
    kind: MediaKind;
    score: unknown;
    currentLayers: unknown;
    stats: unknown[];
  }[];
}

export const errorCodes = [
  'bad_request',
  'unauthorized',
  'forbidden',
  'not_found',
  'not_joined',
  'conflict',
  'cannot_consume',
  'too_many_requests',
  'rate_limited',
  'unavailable',
  'internal',
  /** An invite link that was redeemed as often as it allows. */
  'invite_used',
  /** Someone else (or this person in another window) holds this seat; no resume secret proved otherwise. */
  'seat_taken',
  /** The host denied this guest a short while ago. */
  'denied_recently',
] as const;
export type ErrorCode = (typeof errorCodes)[number];

export interface AckError {
  code: ErrorCode;
  message: string;
  issues?: { path: (string | number)[]; message: string }[];
}

export type Ack<T> = { ok: true; data: T } | { ok: false; error: AckError };

/** Client → server events: payload, then the ack callback. */
export interface ClientToServerEvents {
  join: (req: JoinRequest, ack: (res: Ack<JoinResponse | WaitingResponse>) => void) => void;
  createTransport: (
    req: z.infer<typeof createTransportRequest>,
    ack: (res: Ack<TransportResponse>) => void,
  ) => void;
  connectTransport: (
    req: z.infer<typeof connectTransportRequest>,
    ack: (res: Ack<Record<string, never>>) => void,
  ) => void;
  produce: (req: ProduceRequest, ack: (res: Ack<{ producerId: string }>) => void) => void;
  consume: (req: z.infer<typeof consumeRequest>, ack: (res: Ack<ConsumeResponse>) => void) => void;
  resumeConsumer: (
    req: z.infer<typeof consumerRequest>,
    ack: (res: Ack<Record<string, never>>) => void,
  ) => void;
  pauseProducer: (
    req: z.infer<typeof producerRequest>,
    ack: (res: Ack<Record<string, never>>) => void,
  ) => void;
  resumeProducer: (
    req: z.infer<typeof producerRequest>,
    ack: (res: Ack<Record<string, never>>) => void,
  ) => void;
  closeProducer: (
    req: z.infer<typeof producerRequest>,
    ack: (res: Ack<Record<string, never>>) => void,
  ) => void;
  setPreferredLayers: (
    req: z.infer<typeof setPreferredLayersRequest>,
    ack: (res: Ack<Record<string, never>>) => void,
  ) => void;
  restartIce: (
    req: z.infer<typeof restartIceRequest>,
    ack: (res: Ack<{ iceParameters: unknown }>) => void,
  ) => void;
  getStats: (req: Record<string, never>, ack: (res: Ack<StatsResponse>) => void) => void;
  leave: (req: Record<string, never>, ack: (res: Ack<Record<string, never>>) => void) => void;
  admit: (
    req: z.infer<typeof admitRequest>,
    ack: (res: Ack<Record<string, never>>) => void,
  ) => void;
  deny: (req: z.infer<typeof denyRequest>, ack: (res: Ack<Record<string, never>>) => void) => void;
  removePeer: (
    req: z.infer<typeof removePeerRequest>,
    ack: (res: Ack<Record<string, never>>) => void,
  ) => void;
  endConsult: (req: Record<string, never>, ack: (res: Ack<Record<string, never>>) => void) => void;
  /** Host only: a short message to someone waiting in this consult's lobby. */
  lobbyMessage: (
    req: z.infer<typeof lobbyMessageRequest>,
    ack: (res: Ack<{ at: string }>) => void,
  ) => void;
  chatMessage: (
    req: z.infer<typeof chatMessageRequest>,
    ack: (res: Ack<{ id: string; at: string }>) => void,
  ) => void;
  chatHistory: (
    req: z.input<typeof chatHistoryRequest>,
    ack: (res: Ack<{ messages: ChatEntry[]; hasMore: boolean }>) => void,
  ) => void;
}

/** Server → client events. */
export interface ServerToClientEvents {
  peerJoined: (msg: PersonNames & { peerId: string; role: Role }) => void;
  peerLeft: (msg: { peerId: string }) => void;
  newProducer: (msg: {
    peerId: string;
    producerId: string;
    kind: MediaKind;
    appData: { source: MediaSource };
  }) => void;
  producerClosed: (msg: { peerId: string; producerId: string }) => void;
  producerPaused: (msg: { peerId: string; producerId: string }) => void;
  producerResumed: (msg: { peerId: string; producerId: string }) => void;
  consumerClosed: (msg: { consumerId: string }) => void;
  activeSpeaker: (msg: { peerId: string | null }) => void;
  consultEnded: (msg: { reason: string }) => void;
  /**
   * To those who may admit: the lobby changed. `waiting` lists the first LOBBY_LIST_MAX by
   * waiting time, `total` counts all; bursts of changes are sent as one message.
   */
  lobbyChanged: (msg: { waiting: LobbyEntryInfo[]; total: number }) => void;
  /** To a waiting participant: you may now `join` again for the full join data. */
  admitted: (msg: Record<string, never>) => void;
  /** To a waiting participant: a short message from the host (`lobbyMessage`). */
  hostMessage: (msg: { text: string; at: string; from: string }) => void;
  /** To a waiting participant: the host refused you; the socket is then disconnected. */
  denied: (msg: { reason: string }) => void;
  /** A chat message (also to its sender), after it was stored. */
  chatMessage: (msg: ChatEntry & { peerId: string }) => void;
  /** Every few seconds: each participant's connection figures. */
  quality: (msg: { samples: QualityEntry[] }) => void;
  /**
   * Your downlink cannot carry even the lowest video layer of this consumer: the server paused
   * it so audio keeps flowing (`reason: 'bandwidth'`). Show "poor connection, video paused".
   */
  videoPaused: (msg: { consumerId: string; reason: 'bandwidth' }) => void;
  /** The server resumed a video consumer it had paused for bandwidth. */
  videoResumed: (msg: { consumerId: string }) => void;
  /** The simulcast layer the server forwards on one of your video consumers changed. */
  layersChanged: (msg: {
    consumerId: string;
    spatialLayer: number | null;
    temporalLayer: number | null;
  }) => void;
  rejoinRequired: (msg: { reason: string }) => void;
}
