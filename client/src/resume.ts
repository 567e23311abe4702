/**
 * Taking our seat back after the signalling connection dropped: whether the media we kept
 * is still the media the server has, and what to do to make the two agree again.
 */
import type { MediaSource, PeerInfo, ResumedState } from '../../src/protocol';

/** What this client still holds locally when it joins again. */
export interface LocalMedia {
  transports: { send?: string; recv?: string };
  /** Live producers by source, with the paused state the user chose. */
  producers: { source: MediaSource; producerId: string; paused: boolean }[];
  consumers: {
    consumerId: string;
    producerId: string;
    kind: 'audio' | 'video';
    /** The server acknowledged our resumeConsumer. */
    resumed: boolean;
    /** Shown as paused for bandwidth. */
    videoPaused: boolean;
  }[];
  /** Producers being consumed or consumed already. */
  consumedProducers: ReadonlySet<string>;
}

export interface ResumePlan {
  /** Local consumers the server no longer has (their producer closed while we were away). */
  closeConsumers: string[];
  /** Consumers whose resumeConsumer never reached the server. */
  resumeConsumers: string[];
  /** Video consumers whose bandwidth pause changed while we were away. */
  videoPaused: { consumerId: string; paused: boolean }[];
  /** Producers of the others that we do not consume yet. */
  consume: { peerId: string; producerId: string }[];
  /** Local producers the server does not have: close them locally and produce again. */
  reproduce: MediaSource[];
  /** Producers on the server with no local counterpart (e.g. a lost ack): close them there. */
  closeServerProducers: string[];
  /** Producers whose paused state on the server is not what the user chose. */
  setPaused: { producerId: string; paused: boolean }[];
}

/**
 * True when the server kept our session and our local transports are among its transports
 * (the receive transport, and the send transport if we opened one: a participant who never
 * published has none), so media never stopped and everything can be kept.
 */
export function canResume(local: LocalMedia, resumed: ResumedState | undefined): boolean {
  if (!resumed) return false;
  const ids = new Set(resumed.transports.map((t) => t.id));
  const { send, recv } = local.transports;
  return recv !== undefined && ids.has(recv) && (send === undefined || ids.has(send));
}

export function planResume(
  local: LocalMedia,
  resumed: ResumedState,
  peers: readonly PeerInfo[],
): ResumePlan {
  const serverConsumers = new Map(resumed.consumers.map((c) => [c.consumerId, c]));
  const plan: ResumePlan = {
    closeConsumers: [],
    resumeConsumers: [],
    videoPaused: [],
    consume: [],
    reproduce: [],
    closeServerProducers: [],
    setPaused: [],
  };
  const closedProducers = new Set<string>();
  for (const c of local.consumers) {
    const there = serverConsumers.get(c.consumerId);
    if (!there) {
      plan.closeConsumers.push(c.consumerId);
      closedProducers.add(c.producerId);
      continue;
    }
    if (!c.resumed) {
      plan.resumeConsumers.push(c.consumerId);
      continue;
    }
    // We resumed it, yet it is paused: the server paused it for our bandwidth (and told a
    // socket that was gone). Not paused while we show it paused: it was resumed meanwhile.
    if (c.kind === 'video' && there.paused !== c.videoPaused) {
      plan.videoPaused.push({ consumerId: c.consumerId, paused: there.paused });
    }
  }
  for (const peer of peers) {
    for (const p of peer.producers) {
      if (!local.consumedProducers.has(p.producerId) || closedProducers.has(p.producerId)) {
        plan.consume.push({ peerId: peer.peerId, producerId: p.producerId });
      }
    }
  }
  const serverProducers = new Map(resumed.producers.map((p) => [p.producerId, p]));
  const localIds = new Set(local.producers.map((p) => p.producerId));
  for (const p of local.producers) {
    const there = serverProducers.get(p.producerId);
    if (!there) plan.reproduce.push(p.source);
    else if (there.paused !== p.paused)
      plan.setPaused.push({ producerId: p.producerId, paused: p.paused });
  }
  for (const p of resumed.producers) {
    if (!localIds.has(p.producerId)) plan.closeServerProducers.push(p.producerId);
  }
  return plan;
}
