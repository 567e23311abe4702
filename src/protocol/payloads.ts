/** The `data` of ok acks and the bodies of server → client messages. */
import type { IceCandidate, IceParameters, DtlsParameters, RtpCapabilities } from './rtp.js';
import type { RtpParameters } from './rtp.js';
import type { MediaKind, MediaSource, Role, SourceAppData } from './vocabulary.js';

export interface ProducerInfo {
  producerId: string;
  kind: MediaKind;
  appData: SourceAppData;
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
  /** Whether this peer's link is down now, as `peerConnection` would say it. */
  connection: 'connected' | 'reconnecting';
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
  /** RtpCapabilities of the consult's router (for Device.load). */
  routerRtpCapabilities: RtpCapabilities;
  peers: PeerInfo[];
  /**
   * In a cluster: the public URLs of the nodes taking participants now (this one first). If
   * this node goes away, join through another with `resumeSecret` to keep the seat.
   */
  nodes?: string[];
  /** When the join asked for it (`recvTransport: true`): the new receive transport, as `createTransport` answers. */
  recvTransport?: TransportResponse;
  /** When the join asked for it (`sendTransport: true`): the new send transport. */
  sendTransport?: TransportResponse;
  /**
   * When the join gave `rtpCapabilities`: the producers of `peers` consumed on `recvTransport`,
   * already resumed (as `consume` answers each; no `resumeConsumer` needed). A producer missing
   * here (closed meanwhile, or not receivable with those capabilities) is left to `consume`.
   */
  consumers?: ConsumeResponse[];
}

export interface TransportResponse {
  id: string;
  iceParameters: IceParameters;
  iceCandidates: IceCandidate[];
  dtlsParameters: DtlsParameters;
}

export interface ConsumeResponse {
  consumerId: string;
  producerId: string;
  peerId: string;
  kind: MediaKind;
  rtpParameters: RtpParameters;
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

/** The ok ack of events that return nothing. */
export type Empty = Record<string, never>;
