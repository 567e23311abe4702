/**
 * The live consult rooms of this process. Room creation is serialised per consult so two
 * simultaneous joins cannot create two routers for one consult. A consult that empties keeps
 * its router warm for `warmMs`, so a participant who rejoins (or the next one) skips creating it.
 */
import type { Logger } from '../logger.js';
import {
  mediaSourceSchema,
  type MediaSource,
  type RoomCloseReason,
} from '../protocol/vocabulary.js';
import { TypedEmitter } from '../util/TypedEmitter.js';
import type { TransportLimits } from './Peer.js';
import { WorkerConsumers } from './ConsultRouters.js';
import { Room, type WarmMedia } from './Room.js';
import type { WorkerPool } from './WorkerPool.js';

const mediaSources = mediaSourceSchema.options;
/** mediasoup's rule of thumb: about 500 consumers per worker (one CPU core). */
export const DEFAULT_MAX_CONSUMERS_PER_WORKER = 500;

type RegistryEvents = {
  roomCreated: [room: Room];
};

export class RoomRegistry extends TypedEmitter<RegistryEvents> {
  readonly rooms = new Map<string, Room>();
  readonly #pending = new Map<string, Promise<Room>>();
  readonly #warm = new Map<string, { media: WarmMedia; timer: NodeJS.Timeout }>();
  #closing = false;
  /** Consumers per worker over every consult here: where a consult's next participant fits. */
  readonly load = new WorkerConsumers();

  constructor(
    private readonly pool: WorkerPool,
    private readonly limits: TransportLimits,
    private readonly logger: Logger,
    /** How long an emptied consult's router is kept for the next join, ms (0: not kept). */
    private readonly warmMs = 0,
    /** Consumers one worker carries before a consult's next participants go on another. */
    private readonly maxConsumersPerWorker = DEFAULT_MAX_CONSUMERS_PER_WORKER,
  ) {
    super();
  }

  /** Routers kept warm now (for tests and /metrics). */
  get warmRouters(): number {
    return this.#warm.size;
  }

  #keepWarm(consultId: string, media: WarmMedia): boolean {
    if (this.warmMs <= 0 || this.#closing || media.slot.worker.closed) return false;
    this.#dropWarm(consultId);
    const timer = setTimeout(() => this.#dropWarm(consultId), this.warmMs);
    timer.unref();
    this.#warm.set(consultId, { media, timer });
    // A worker that dies takes its routers with it.
    media.router.observer.once('close', () => {
      if (this.#warm.get(consultId)?.media === media) {
        clearTimeout(timer);
        this.#warm.delete(consultId);
      }
    });
    return true;
  }

  /** Takes the consult's warm router, if it has a usable one. */
  #takeWarm(consultId: string): WarmMedia | undefined {
    const warm = this.#warm.get(consultId);
    if (!warm) return undefined;
    clearTimeout(warm.timer);
    this.#warm.delete(consultId);
    const { media } = warm;
    if (media.router.closed || media.slot.worker.closed) return undefined;
    return media;
  }

  #dropWarm(consultId: string): void {
    const warm = this.#warm.get(consultId);
    if (!warm) return;
    clearTimeout(warm.timer);
    this.#warm.delete(consultId);
    if (!warm.media.router.closed) warm.media.router.close();
  }

  /** The consult's live room, created on the least-loaded worker when there is none. */
  async getOrCreate(consultId: string): Promise<Room> {
    const existing = this.rooms.get(consultId);
    if (existing && !existing.closed) return existing;
    const pending = this.#pending.get(consultId);
    if (pending) return pending;
    const creating = (async () => {
      const warm = this.#takeWarm(consultId);
      const media = {
        pool: this.pool,
        load: this.load,
        maxConsumersPerWorker: this.maxConsumersPerWorker,
      };
      const room = await Room.create(consultId, media, this.limits, this.logger, warm);
      room.keepWarm = (media) => this.#keepWarm(consultId, media);
      this.rooms.set(consultId, room);
      room.once('close', () => {
        if (this.rooms.get(consultId) === room) this.rooms.delete(consultId);
      });
      this.safeEmit('roomCreated', room);
      return room;
    })();
    this.#pending.set(consultId, creating);
    try {
      return await creating;
    } finally {
      this.#pending.delete(consultId);
    }
  }

  /** Routers of live consults, and piped copies between them (for tests and /metrics). */
  routerCounts() {
    let routers = 0;
    let copies = 0;
    for (const room of this.rooms.values()) {
      routers += room.routers.placed.filter((p) => !p.router.closed).length;
      copies += room.routers.copies;
    }
    return { routers, copies };
  }

  /** Totals for /healthz and /metrics. */
  counts() {
    let peers = 0;
    let transports = 0;
    let producers = 0;
    let consumers = 0;
    for (const room of this.rooms.values()) {
      for (const peer of room.peers.values()) {
        peers++;
        transports += peer.transports.size;
        producers += peer.producers.size;
        consumers += peer.consumers.size;
      }
    }
    return { consults: this.rooms.size, peers, transports, producers, consumers };
  }

  /**
   * Live producers by source, and the most any one peer holds (for /metrics): the per-peer
   * limits are at most 2 transports, 1 producer per source and 1 consumer per producer.
   */
  mediaCounts() {
    const producersBySource: Record<MediaSource, number> = { mic: 0, camera: 0, screen: 0 };
    const perPeerMax = {
      transports: 0,
      producersBySource: { mic: 0, camera: 0, screen: 0 } as Record<MediaSource, number>,
      consumersOfOneProducer: 0,
    };
    for (const room of this.rooms.values()) {
      for (const peer of room.peers.values()) {
        perPeerMax.transports = Math.max(perPeerMax.transports, peer.transports.size);
        const mine: Record<MediaSource, number> = { mic: 0, camera: 0, screen: 0 };
        for (const p of peer.producers.values()) mine[p.appData.source]++;
        for (const source of mediaSources) {
          producersBySource[source] += mine[source];
          perPeerMax.producersBySource[source] = Math.max(
            perPeerMax.producersBySource[source],
            mine[source],
          );
        }
        const byProducer = new Map<string, number>();
        for (const c of peer.consumers.values()) {
          const n = (byProducer.get(c.producerId) ?? 0) + 1;
          byProducer.set(c.producerId, n);
          perPeerMax.consumersOfOneProducer = Math.max(perPeerMax.consumersOfOneProducer, n);
        }
      }
    }
    return { producersBySource, perPeerMax };
  }

  /** Closes every room, telling their peers why, and every warm router. */
  closeAll(reason: RoomCloseReason): void {
    this.#closing = true;
    for (const room of [...this.rooms.values()]) room.close(reason);
    for (const consultId of [...this.#warm.keys()]) this.#dropWarm(consultId);
  }
}
