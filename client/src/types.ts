/** The public shapes RoomClient emits and returns. */
import type {
  ChatEntry,
  EndReason,
  LobbyEntryInfo,
  MediaKind,
  MediaSource,
  QualityEntry,
  Role,
} from '../../src/protocol';
import type { QualityReading } from './quality';
import type { RestartReason, SelectedPair } from './resilience';

/** What the connection-state element shows. */
export type ConnectionState =
  | 'disconnected'
  | 'connecting'
  | 'waiting'
  | 'connected'
  | 'reconnecting'
  | 'failed'
  | 'left'
  | 'ended'
  | 'denied';

export interface RemotePeerView {
  peerId: string;
  displayName: string;
  role: Role;
  /** A mic producer exists and is not paused. */
  micOn: boolean;
  /** A camera producer exists and is not paused. */
  cameraOn: boolean;
  screenOn: boolean;
  /** What the server says of their link: 'reconnecting' while their socket or uplink is down. */
  connection: 'connected' | 'reconnecting';
}

export interface LocalState {
  micMuted: boolean;
  cameraOff: boolean;
  sharing: boolean;
  hasMic: boolean;
  hasCamera: boolean;
  joined: boolean;
}

export interface RemoteTrack {
  peerId: string;
  consumerId: string;
  producerId: string;
  kind: MediaKind;
  source: MediaSource;
  track: MediaStreamTrack;
}

export interface RemoteStat {
  peerId: string;
  consumerId: string;
  kind: MediaKind;
  source: MediaSource;
  packetsReceived: number;
  framesDecoded?: number;
}

/** One of this client's WebRTC transports, for tests and diagnostics. */
export interface TransportStat {
  direction: 'send' | 'recv';
  transportId: string;
  connectionState: string;
  /** ICE restarts this transport went through. */
  iceRestarts: number;
  /** The candidate pair in use (its protocol says UDP or ICE-TCP); null before ICE connects. */
  selected: SelectedPair | null;
}

/** A remote video as the server forwards it to this client. */
export interface RemoteVideoState {
  peerId: string;
  consumerId: string;
  /** Paused by the server: this client's downlink cannot carry even the lowest layer. */
  paused: boolean;
  /** The simulcast layer forwarded now (0 lowest); null when unknown or not simulcast. */
  spatialLayer: number | null;
}

export interface ClientError {
  code: string;
  message: string;
  /** The session is over; the user must join again. */
  fatal: boolean;
}

export type RoomEvents = {
  state: [ConnectionState];
  error: [ClientError];
  /** A (re)join succeeded; `peerId` is this client's peer id. */
  joined: [{ peerId: string }];
  /**
   * The join's media is requested (every consume sent its resume, or failed): what the join
   * waits for now is the first frames, so a page can draw itself without delaying them.
   */
  mediaRequested: [];
  /** The local camera preview stream (null when there is none). */
  localMedia: [MediaStream | null];
  localState: [LocalState];
  /** A remote peer was added or changed. */
  peer: [RemotePeerView];
  peerRemoved: [string];
  trackAdded: [RemoteTrack];
  trackRemoved: [{ peerId: string; consumerId: string; kind: MediaKind }];
  /** A remote video was paused or resumed for bandwidth, or its forwarded layer changed. */
  remoteVideo: [RemoteVideoState];
  /** One of this client's transports changed its connection state. */
  transportState: [{ direction: 'send' | 'recv'; state: string }];
  /** An ICE restart was applied to one of this client's transports. */
  iceRestart: [{ direction: 'send' | 'recv'; reason: RestartReason }];
  quality: [{ peerId: string; reading: QualityReading | null }];
  activeSpeaker: [string | null];
  /** Why (a protocol reason code), and the host's own words when they removed you. */
  ended: [reason: EndReason, message?: string];
  /** Put in the lobby: waiting for the host to admit this client. */
  waiting: [{ peerId: string }];
  /** While waiting: a short message from the host. */
  hostMessage: [{ text: string; at: string; from: string }];
  /** The host turned this client away (the connection is closed). */
  denied: [string];
  /** For hosts: who waits in the lobby now (the first 50; empty when not joined), and how many in all. */
  lobby: [LobbyEntryInfo[], number];
  /** The consult's latest chat, from each (re)join; `hasMore`: older messages can be loaded. */
  chatHistory: [ChatEntry[], boolean];
  /** A stored chat message (this client's own ones are echoed too). */
  chatMessage: [ChatEntry & { peerId: string }];
  /** The server's connection figures for every participant, every few seconds. */
  serverQuality: [QualityEntry[]];
};
