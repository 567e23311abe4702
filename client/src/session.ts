/** The per-join state of RoomClient, and read-only helpers over it. */
import type { Device, types as ms } from 'mediasoup-client';
import type { MediaKind, MediaSource } from '../../src/protocol';
import { assess, readInbound } from './quality';
import type { InboundSample, QualityReading } from './quality';
import type { ConsultSocket } from './request';
import type { IceRecovery } from './resilience';
import type { ConnectionState, RemoteStat } from './types';

export interface ConsumerEntry {
  consumerId: string;
  producerId: string;
  peerId: string;
  kind: MediaKind;
  source: MediaSource;
  /** Null while recvTransport.consume() is in flight. */
  consumer: ms.Consumer | null;
  closed: boolean;
  /** The server acknowledged resumeConsumer (media is meant to flow). */
  resumed: boolean;
  /** The remote producer is paused (muted mic, camera off): nothing flows. */
  producerPaused: boolean;
  lastSample?: InboundSample;
}

/** What the server forwards on a remote video, from videoPaused / videoResumed / layersChanged. */
export interface VideoState {
  /** Paused by the server because this client's downlink cannot carry it. */
  paused: boolean;
  spatialLayer: number | null;
  temporalLayer: number | null;
}

export type Direction = 'send' | 'recv';

/** One join of the consult: everything that must be rebuilt after a rejoin. */
export interface Session {
  socket: ConsultSocket;
  closed: boolean;
  device: Device | null;
  transports: Partial<Record<Direction, ms.Transport>>;
  producers: Map<MediaSource, ms.Producer>;
  consumers: Map<string, ConsumerEntry>;
  /** Producers consumed or being consumed (so each is consumed once). */
  consumedProducers: Set<string>;
  /** Closed before their consume() finished. */
  closedProducers: Set<string>;
  closedConsumers: Set<string>;
  /** Server events held back until the join is set up (null once flushed). */
  buffer: (() => void)[] | null;
  /** Local media has been produced (or found missing). */
  mediaReady: boolean;
  /** Transports are up and the join completed: survives a signalling drop. */
  ready: boolean;
  /** Producing local media after the join (resumption waits for it). */
  producing: Promise<void>;
  /** Consuming what the join listed (a move to another node waits for it). */
  consuming: Promise<unknown>;
  recovery: Partial<Record<Direction, IceRecovery>>;
  /** Per video consumer id (may arrive before the consumer exists locally). */
  video: Map<string, VideoState>;
  /** The transports' traffic watch runs (started once media flows, not during the join). */
  watching: boolean;
}

export function newSession(socket: ConsultSocket): Session {
  return {
    socket,
    closed: false,
    device: null,
    transports: {},
    producers: new Map(),
    consumers: new Map(),
    consumedProducers: new Set(),
    closedProducers: new Set(),
    closedConsumers: new Set(),
    buffer: [],
    mediaReady: false,
    ready: false,
    producing: Promise.resolve(),
    consuming: Promise.resolve(),
    recovery: {},
    video: new Map(),
    watching: false,
  };
}

/** The connection state of a joined session, from its transports. */
export function transportState(s: Session): ConnectionState {
  const states = (['send', 'recv'] as const).map((dir) => {
    const t = s.transports[dir];
    if (!t) return 'new';
    // A transport in use that has not started ICE yet is about to connect.
    const inUse = dir === 'send' ? s.producers.size > 0 : s.consumers.size > 0;
    return t.connectionState === 'new' && inUse ? 'connecting' : t.connectionState;
  });
  if (states.includes('failed')) return 'failed';
  // ICE says connected, but media stopped arriving: the client is restarting ICE.
  const stalled = Object.values(s.recovery).some((r) => r.stalled);
  if (states.includes('disconnected') || stalled) return 'reconnecting';
  if (states.includes('connected')) return 'connected';
  if (states.includes('connecting') || !s.mediaReady) return 'connecting';
  return 'connected';
}

function liveConsumers(s: Session): (ConsumerEntry & { consumer: ms.Consumer })[] {
  return [...s.consumers.values()].filter(
    (e): e is ConsumerEntry & { consumer: ms.Consumer } =>
      e.consumer !== null && !e.closed && !e.consumer.closed,
  );
}

async function inbound(consumer: ms.Consumer): Promise<InboundSample | null> {
  try {
    return readInbound(await consumer.getStats());
  } catch {
    return null; // Stats are best-effort.
  }
}

/** inbound-rtp counters of every live consumer. */
export function remoteStats(s: Session): Promise<RemoteStat[]> {
  return Promise.all(
    liveConsumers(s).map(async (e) => {
      const sample = await inbound(e.consumer);
      const stat: RemoteStat = {
        peerId: e.peerId,
        consumerId: e.consumerId,
        kind: e.kind,
        source: e.source,
        packetsReceived: sample?.packetsReceived ?? 0,
      };
      if (e.kind === 'video') stat.framesDecoded = sample?.framesDecoded ?? 0;
      return stat;
    }),
  );
}

/**
 * Whether every consumer that should carry media does here yet (resumed, its producer sending):
 * audio packets received, video frames decoded.
 */
export async function mediaArrived(s: Session): Promise<boolean> {
  const expected = liveConsumers(s).filter((e) => e.resumed && !e.producerPaused);
  const samples = await Promise.all(expected.map((e) => inbound(e.consumer)));
  return expected.every((e, i) =>
    e.kind === 'audio'
      ? (samples[i]?.packetsReceived ?? 0) > 0
      : (samples[i]?.framesDecoded ?? 0) > 0,
  );
}

/** One quality reading per live consumer since its previous sample, grouped by peer. */
export async function sampleQuality(s: Session): Promise<Map<string, QualityReading[]>> {
  const perPeer = new Map<string, QualityReading[]>();
  await Promise.all(
    liveConsumers(s).map(async (e) => {
      const sample = await inbound(e.consumer);
      if (!sample) return;
      const reading = assess(e.lastSample, sample);
      e.lastSample = sample;
      if (!reading) return;
      perPeer.set(e.peerId, [...(perPeer.get(e.peerId) ?? []), reading]);
    }),
  );
  return perPeer;
}
