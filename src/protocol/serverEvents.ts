/** Server → client events: what the gateway tells a participant without being asked. */
import type { ChatEntry, LobbyEntryInfo, PersonNames, QualityEntry } from './payloads.js';
import type { EndReason, MediaKind, RejoinReason, Role, SourceAppData } from './vocabulary.js';

/**
 * `peerConnection`: another participant's link dropped ('reconnecting': its socket is gone, or
 * its uplink carries nothing) or is back ('connected'). Only changes are sent; a participant
 * nobody was told about is connected.
 */
export interface PeerConnectionMessage {
  peerId: string;
  state: 'connected' | 'reconnecting';
}

export interface ServerToClientEvents {
  peerJoined: (msg: PersonNames & { peerId: string; role: Role }) => void;
  peerLeft: (msg: { peerId: string }) => void;
  newProducer: (msg: {
    peerId: string;
    producerId: string;
    kind: MediaKind;
    appData: SourceAppData;
  }) => void;
  producerClosed: (msg: { peerId: string; producerId: string }) => void;
  producerPaused: (msg: { peerId: string; producerId: string }) => void;
  producerResumed: (msg: { peerId: string; producerId: string }) => void;
  consumerClosed: (msg: { consumerId: string }) => void;
  activeSpeaker: (msg: { peerId: string | null }) => void;
  /**
   * You are out of the consult (the socket is then disconnected). `message`: the host's own
   * words when they removed you.
   */
  consultEnded: (msg: { reason: EndReason; message?: string }) => void;
  /**
   * To those who may admit: the lobby changed. `waiting` lists the first LOBBY_LIST_MAX by
   * waiting time, `total` counts all; bursts of changes are sent as one message.
   */
  lobbyChanged: (msg: { waiting: LobbyEntryInfo[]; total: number }) => void;
  /** To a waiting participant: you may now `join` again for the full join data. */
  admitted: (msg: Record<string, never>) => void;
  /**
   * To a waiting participant: the host refused you; the socket is then disconnected.
   * `reason` is free text for the person (the host's words, or a default sentence).
   */
  denied: (msg: { reason: string }) => void;
  /** A chat message (also to its sender), after it was stored. */
  chatMessage: (msg: ChatEntry & { peerId: string }) => void;
  /** Every few seconds: each participant's connection figures. */
  quality: (msg: { samples: QualityEntry[] }) => void;
  /** To a waiting participant: a short message from the host (`lobbyMessage`). */
  hostMessage: (msg: { text: string; at: string; from: string }) => void;
  /** Another participant's link dropped or is back (see `PeerConnectionMessage`). */
  peerConnection: (msg: PeerConnectionMessage) => void;
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
  /** Your media path is gone: drop local transports and `join` again. */
  rejoinRequired: (msg: { reason: RejoinReason }) => void;
  /**
   * Cluster only: this node is draining (shutting down for a restart). Move to `url` (another
   * node's public URL) without leaving: connect there, `join` with your resume secret (the seat
   * moves, nobody sees you leave), build your transports, producers and consumers there, and
   * only then disconnect from this node, which closes your old media. `reason`: always 'drain'.
   */
  migrate: (msg: { url: string; reason: 'drain' }) => void;
}

export type ServerEvent = keyof ServerToClientEvents;
