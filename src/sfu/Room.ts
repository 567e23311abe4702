/**
 * A consult's media: its routers (one, or one per worker when one worker's consumers run
 * out: `ConsultRouters`), its peers and an active-speaker observer on the first router.
 * Closing the room closes every peer (and so every transport, producer and consumer).
 */
import type { types } from 'mediasoup';
import { GatewayError } from '../errors.js';
import type { LeaveReason, RoomCloseReason } from '../protocol/vocabulary.js';
import { lazyChild, type Logger } from '../logger.js';
import { TypedEmitter } from '../util/TypedEmitter.js';
import { ConsultRouters, type Placed, type WorkerConsumers } from './ConsultRouters.js';
import type { PeerIdentity, PeerPlacement, ProducerAppData, TransportLimits } from './Peer.js';
import { Peer } from './Peer.js';
import type { WorkerPool, WorkerSlot } from './WorkerPool.js';

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

/** The node's workers a room may spread over, and their consumer budget. */
export interface RoomMedia {
  pool: WorkerPool;
  /** Consumers per worker over every consult (one per pool). */
  load: WorkerConsumers;
  /** Consumers one worker carries before new participants go on another (WORKER_MAX_CONSUMERS). */
  maxConsumersPerWorker: number;
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

  /** Placements run one at a time: each sees the consumers reserved by the one before. */
  #placing: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly consultId: string,
    readonly routers: ConsultRouters,
    private readonly speakerObserver: types.ActiveSpeakerObserver,
    private readonly limits: TransportLimits,
    private readonly logger: Logger,
  ) {
    super();
    for (const placed of routers.placed) this.#adopt(placed);
    routers.onRouter = (placed) => this.#adopt(placed);
    speakerObserver.on('dominantspeaker', this.#onDominantSpeaker);
  }

  /**
   * Creates the consult's first router on the least-loaded worker, or takes over a warm one;
   * more routers follow on other workers as participants need them.
   */
  static async create(
    consultId: string,
    media: RoomMedia,
    limits: TransportLimits,
    logger: Logger,
    warm?: WarmMedia,
  ): Promise<Room> {
    const log = lazyChild(logger, { consultId });
    const opts = { ...media, logger: log };
    if (warm && !warm.router.closed && !warm.speakerObserver.closed) {
      const routers = await ConsultRouters.create(consultId, opts, warm);
      return new Room(consultId, routers, warm.speakerObserver, limits, log);
    }
    const routers = await ConsultRouters.create(consultId, opts);
    try {
      const observer = await routers.primary.createActiveSpeakerObserver({ interval: 300 });
      return new Room(consultId, routers, observer, limits, log);
    } catch (err) {
      routers.close();
      throw err;
    }
  }

  /** The consult's first router: its speaker observer, warm keeping and cluster pipes are here. */
  get router(): types.Router {
    return this.routers.primary;
  }

  get slot(): WorkerSlot {
    return this.routers.placed[0]!.slot;
  }

  /** Peers whose transports are on worker `index` (a peer not placed yet counts on the first). */
  peersOn(index: number): number {
    let n = 0;
    for (const peer of this.peers.values()) {
      const slot = peer.router ? this.routers.slotOf(peer.router) : this.slot;
      if (slot?.index === index) n++;
    }
    return n;
  }

  #adopt(placed: Placed): void {
    placed.router.on('workerclose', this.#onWorkerClose);
    this.routers.pool.host(placed.slot, this);
  }

  /**
   * Where a peer's media goes: placed (one placement at a time) on a router whose worker has
   * room for the consumers it is expected to make; those are reserved on that worker until
   * they exist or the peer leaves, so a burst of joins spreads as their consumers would.
   */
  #placementFor(peer: () => Peer): PeerPlacement {
    const { load } = this.routers;
    let reserved: { slot: WorkerSlot; n: number } | undefined;
    const unreserve = (n: number) => {
      if (!reserved || n <= 0) return;
      load.add(reserved.slot, -n);
      reserved.n -= n;
    };
    return {
      place: () => {
        const placing = this.#placing.then(async () => {
          const others = [...this.peers.values()].filter((p) => p !== peer());
          // What it will consume: everyone else's producers now.
          const expected = others.reduce((n, p) => n + p.producers.size, 0);
          const router = await this.routers.placePeer(expected);
          const slot = this.routers.slotOf(router)!;
          if (!peer().closed && !reserved) {
            reserved = { slot, n: expected };
            load.add(slot, expected);
            peer().once('close', () => unreserve(reserved!.n));
          }
          return { router, webRtcServer: slot.webRtcServer };
        });
        this.#placing = placing.catch(() => undefined);
        return placing;
      },
      consume: async (router, producerId, create) => {
        const consumer = await this.routers.consume(router, producerId, create);
        unreserve(Math.min(1, reserved?.n ?? 0));
        return consumer;
      },
    };
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
    const peer: Peer = new Peer(
      identity,
      this.#placementFor(() => peer),
      this.limits,
      peerId,
    );
    this.peers.set(peer.id, peer);
    peer.on('producerAdded', (producer) => {
      this.routers.addProducer(producer, peer.router ?? this.router);
      if (producer.kind === 'audio') void this.#observeSpeaker(producer);
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

  /**
   * A producer piped in from another node (on the first router): consumable here, and a
   * microphone is heard by this node's speaker observer, so the active speaker this node
   * names to its participants is chosen among everyone they hear.
   */
  adoptPiped(producer: types.Producer): void {
    this.routers.addProducer(producer, this.router);
    if (producer.kind === 'audio') void this.#observeSpeaker(producer);
  }

  /**
   * One observer for the whole consult, on the first router: a microphone on another router
   * is piped there (one copy each), so the dominant speaker is chosen among everyone.
   */
  async #observeSpeaker(producer: types.Producer): Promise<void> {
    try {
      const release = await this.routers.hold(this.router, producer.id);
      if (producer.closed || this.#closed) {
        release();
        return;
      }
      producer.observer.once('close', release);
      await this.speakerObserver.addProducer({ producerId: producer.id });
    } catch (err) {
      if (producer.closed || this.#closed) return;
      this.logger.warn({ err: (err as Error).message }, 'active speaker observer refused producer');
    }
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
    for (const { router } of this.routers.placed) router.off('workerclose', this.#onWorkerClose);
    this.routers.onRouter = undefined;
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
    this.routers.close(kept ? this.router : undefined);
    this.logger.info({ reason }, 'consult room closed');
    this.safeEmit('close', reason);
  }
}
