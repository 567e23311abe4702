/**
 * A consult's media: its router on one worker, its peers and an active-speaker observer.
 * Closing the room closes every peer (and so every transport, producer and consumer).
 */
import type { types } from 'mediasoup';
import { GatewayError } from '../errors.js';
import type { LeaveReason, RoomCloseReason } from '../protocol/vocabulary.js';
import { lazyChild, type Logger } from '../logger.js';
import { TypedEmitter } from '../util/TypedEmitter.js';
import { mediaCodecs } from './codecs.js';
import type { PeerIdentity, ProducerAppData, TransportLimits } from './Peer.js';
import { Peer } from './Peer.js';
import type { WorkerSlot } from './WorkerPool.js';

type RoomEvents = {
  peerJoined: [peer: Peer];
  peerLeft: [peer: Peer, reason: LeaveReason];
  newProducer: [peer: Peer, producer: types.Producer<ProducerAppData>];
  producerClosed: [peer: Peer, producerId: string];
  producerPaused: [peer: Peer, producerId: string];
  producerResumed: [peer: Peer, producerId: string];
  activeSpeaker: [peerId: string | null];
  /** A peer's link went down or came back (`peer.connection`), as the others were told. */
  peerConnection: [peer: Peer];
  /** The room is gone: every peer was closed with this reason. */
  close: [reason: RoomCloseReason];
};

/** A router (and its speaker observer) of an emptied consult, kept for the next join. */
export interface WarmMedia {
  slot: WorkerSlot;
  router: types.Router;
  speakerObserver: types.ActiveSpeakerObserver;
}

export class Room extends TypedEmitter<RoomEvents> {
  readonly peers = new Map<string, Peer>();
  #closed = false;
  /**
   * Set by the registry: offered the router when the room closes because it emptied; true
   * when it keeps it (the room then does not close it).
   */
  keepWarm?: (media: WarmMedia) => boolean;
  /** Announces that `peer.connection` changed (the cluster's directory mirrors it). */
  connectionChanged(peer: Peer): void {
    this.safeEmit('peerConnection', peer);
  }
  readonly #onWorkerClose = () => this.close('media_server_restarted');
  readonly #onDominantSpeaker = ({ producer }: types.ActiveSpeakerObserverDominantSpeaker) => {
    const peerId = (producer.appData as Partial<ProducerAppData>).peerId ?? null;
    this.safeEmit('activeSpeaker', peerId);
  };

  private constructor(
    readonly consultId: string,
    readonly slot: WorkerSlot,
    readonly router: types.Router,
    private readonly speakerObserver: types.ActiveSpeakerObserver,
    private readonly limits: TransportLimits,
    private readonly logger: Logger,
  ) {
    super();
    router.on('workerclose', this.#onWorkerClose);
    speakerObserver.on('dominantspeaker', this.#onDominantSpeaker);
  }

  /** Creates the consult's router on the given worker, or takes over a warm one. */
  static async create(
    consultId: string,
    slot: WorkerSlot,
    limits: TransportLimits,
    logger: Logger,
    warm?: WarmMedia,
  ): Promise<Room> {
    if (warm && !warm.router.closed && !warm.speakerObserver.closed) {
      return new Room(
        consultId,
        warm.slot,
        warm.router,
        warm.speakerObserver,
        limits,
        lazyChild(logger, { consultId }),
      );
    }
    const router = await slot.worker.createRouter({ mediaCodecs, appData: { consultId } });
    try {
      const observer = await router.createActiveSpeakerObserver({ interval: 300 });
      return new Room(consultId, slot, router, observer, limits, lazyChild(logger, { consultId }));
    } catch (err) {
      router.close();
      throw err;
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Adds a participant. Taking over an existing seat is the consult session's decision (it
   * needs the seat's resume secret), so a peer id already in use is refused here.
   */
  join(identity: PeerIdentity, peerId?: string): Peer {
    if (this.#closed)
      throw new GatewayError('unavailable', 'this consult is restarting; join again');
    if (peerId !== undefined && this.peers.has(peerId))
      throw new GatewayError('conflict', `participant ${peerId} is already in this consult`);
    const peer = new Peer(identity, this.router, this.slot.webRtcServer, this.limits, peerId);
    this.peers.set(peer.id, peer);
    peer.on('producerAdded', (producer) => {
      if (producer.kind === 'audio') {
        this.speakerObserver.addProducer({ producerId: producer.id }).catch((err: Error) => {
          this.logger.warn({ err: err.message }, 'active speaker observer refused producer');
        });
      }
      this.safeEmit('newProducer', peer, producer);
    });
    peer.on('producerClosed', (id) => this.safeEmit('producerClosed', peer, id));
    peer.on('producerPaused', (id) => this.safeEmit('producerPaused', peer, id));
    peer.on('producerResumed', (id) => this.safeEmit('producerResumed', peer, id));
    peer.on('sendPathChanged', () => this.#requestKeyFrames(peer));
    peer.once('close', (reason) => {
      this.peers.delete(peer.id);
      // A peer closed because the whole room closed is not announced one by one.
      if (!this.#closed) {
        this.safeEmit('peerLeft', peer, reason);
        if (this.peers.size === 0) this.close('empty');
      }
    });
    this.logger.info(
      { peerId: peer.id, userId: identity.userId, role: identity.role },
      'peer joined',
    );
    this.safeEmit('peerJoined', peer);
    return peer;
  }

  /** Asks every consumer of this peer's video for a keyframe (its send path just changed). */
  #requestKeyFrames(source: Peer): void {
    const videoProducers = new Set(
      [...source.producers.values()].filter((p) => p.kind === 'video').map((p) => p.id),
    );
    for (const peer of this.peers.values()) {
      if (peer === source) continue;
      for (const consumer of peer.consumers.values()) {
        if (videoProducers.has(consumer.producerId) && !consumer.closed) {
          consumer.requestKeyFrame().catch(() => undefined);
        }
      }
    }
  }

  /** Finds a producer of any peer in this consult. */
  findProducer(producerId: string): types.Producer<ProducerAppData> {
    for (const peer of this.peers.values()) {
      const producer = peer.producers.get(producerId);
      if (producer) return producer;
    }
    throw new GatewayError('not_found', `no producer ${producerId} in this consult`);
  }

  close(reason: RoomCloseReason): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const peer of [...this.peers.values()]) peer.close(reason);
    this.peers.clear();
    this.router.off('workerclose', this.#onWorkerClose);
    this.speakerObserver.off('dominantspeaker', this.#onDominantSpeaker);
    const kept =
      reason === 'empty' &&
      !this.router.closed &&
      (this.keepWarm?.({
        slot: this.slot,
        router: this.router,
        speakerObserver: this.speakerObserver,
      }) ??
        false);
    if (!kept && !this.router.closed) this.router.close();
    this.logger.info({ reason }, 'consult room closed');
    this.safeEmit('close', reason);
  }
}
