/**
 * One consult's routers on this node when one worker is not enough (a teaching broadcast of
 * one surgeon to hundreds): the consult starts with one router; when the workers it uses have
 * no room for a new participant's consumers, the next participant goes on a router on another
 * worker, and the producers they consume are piped there (`pipeToRouter`) once per router,
 * closed again when the last consumer there goes.
 *
 * Placement rule (`placePeer`): the consult's routers in creation order, the first whose
 * worker has room for the participant's expected consumers; else a new router on the live
 * worker with the fewest consumers that has room; else (every worker full) the consult's
 * router whose worker has the fewest consumers, over the limit.
 */
import type { types } from 'mediasoup';
import type { Logger } from '../logger.js';
import { mediaCodecs } from './codecs.js';
import type { WorkerPool, WorkerSlot } from './WorkerPool.js';

/** Consumers per worker, over every consult of the pool (one instance per pool). */
export class WorkerConsumers {
  readonly #bySlot = new Map<number, number>();

  count(slot: WorkerSlot): number {
    return this.#bySlot.get(slot.index) ?? 0;
  }

  add(slot: WorkerSlot, n: number): void {
    this.#bySlot.set(slot.index, Math.max(0, this.count(slot) + n));
  }
}

export interface ConsultRoutersOptions {
  pool: WorkerPool;
  load: WorkerConsumers;
  /** Consumers one worker carries before participants go to another (mediasoup: ~500 per core). */
  maxConsumersPerWorker: number;
  logger: Logger;
}

export interface Placed {
  router: types.Router;
  slot: WorkerSlot;
}

export class ConsultRouters {
  readonly placed: Placed[] = [];
  /** Where each producer was made. */
  readonly #home = new Map<string, types.Router>();
  /** Piped copies: `${producerId} ${routerId}` → the copy and its consumers there. */
  readonly #copies = new Map<string, Promise<{ producer: types.Producer; users: number }>>();
  readonly #opts: ConsultRoutersOptions;
  /** Told of every router the consult gets (its first one included, once set). */
  onRouter?: (placed: Placed) => void;

  private constructor(
    readonly consultId: string,
    opts: ConsultRoutersOptions,
  ) {
    this.#opts = opts;
  }

  /**
   * Creates the consult's first router on the pool's least-loaded worker, or starts from
   * `first` (a router kept warm for it).
   */
  static async create(
    consultId: string,
    opts: ConsultRoutersOptions,
    first?: Placed,
  ): Promise<ConsultRouters> {
    const routers = new ConsultRouters(consultId, opts);
    if (first) routers.placed.push(first);
    else await routers.#addRouter(opts.pool.leastLoaded());
    return routers;
  }

  get pool(): WorkerPool {
    return this.#opts.pool;
  }

  /** The pool's consumer count per worker, which placement reads. */
  get load(): WorkerConsumers {
    return this.#opts.load;
  }

  /** The worker slot a router of this consult is on. */
  slotOf(router: types.Router): WorkerSlot | undefined {
    return this.placed.find((p) => p.router === router)?.slot;
  }

  get primary(): types.Router {
    return this.placed[0]!.router;
  }

  /** The router a new participant's transports go on, by the placement rule above. */
  async placePeer(expectedConsumers: number): Promise<types.Router> {
    const { load, maxConsumersPerWorker: max, pool } = this.#opts;
    const fits = (slot: WorkerSlot) => load.count(slot) + expectedConsumers <= max;
    const live = this.placed.filter((p) => !p.router.closed);
    const mine = live.find((p) => fits(p.slot));
    if (mine) return mine.router;
    const used = new Set(live.map((p) => p.slot.index));
    const free = pool.slots
      .filter((s) => s.alive && !used.has(s.index) && fits(s))
      .sort((x, y) => load.count(x) - load.count(y))[0];
    if (free) return (await this.#addRouter(free)).router;
    const least = [...live].sort((x, y) => load.count(x.slot) - load.count(y.slot))[0];
    if (!least) return (await this.#addRouter(pool.leastLoaded())).router;
    this.#opts.logger.warn(
      { consultId: this.consultId, worker: least.slot.index, consumers: load.count(least.slot) },
      'every worker is at its consumer limit; placing the participant over it',
    );
    return least.router;
  }

  /** Records where a producer was made, so other routers of the consult can pipe it. */
  addProducer(producer: types.Producer, router: types.Router): void {
    this.#home.set(producer.id, router);
    producer.observer.once('close', () => this.#home.delete(producer.id));
  }

  /**
   * Makes `producerId` available on `router` until the returned release is called: piped
   * there when it was made on another router of the consult (one copy per router, closed with
   * its last holder). A producer this consult does not know is left to `router` to refuse.
   */
  async hold(router: types.Router, producerId: string): Promise<() => void> {
    const home = this.#home.get(producerId);
    if (!home || home === router) return () => undefined;
    let copy = await this.#pipe(producerId, home, router);
    // Its last holder closed it while this one waited: pipe it again.
    if (copy.producer.closed) copy = await this.#pipe(producerId, home, router);
    copy.users++;
    const held = copy;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#unuse(held);
    };
  }

  /**
   * Consumes `producerId` on `router` (held there, see `hold`); `create` makes the consumer
   * on a transport of `router`. The consumer counts on its worker's load until it closes.
   */
  async consume<C extends types.Consumer>(
    router: types.Router,
    producerId: string,
    create: () => Promise<C>,
  ): Promise<C> {
    const slot = this.slotOf(router);
    if (!slot) throw new Error('that router is not one of this consult');
    const release = await this.hold(router, producerId);
    let consumer: C;
    try {
      consumer = await create();
    } catch (err) {
      release();
      throw err;
    }
    const { load } = this.#opts;
    load.add(slot, 1);
    consumer.observer.once('close', () => {
      load.add(slot, -1);
      release();
    });
    return consumer;
  }

  /** How many piped copies exist now (for tests and metrics). */
  get copies(): number {
    return this.#copies.size;
  }

  /** Closes every router of the consult but `keep` (kept warm for its next join). */
  close(keep?: types.Router): void {
    for (const p of this.placed) if (p.router !== keep && !p.router.closed) p.router.close();
  }

  async #addRouter(slot: WorkerSlot): Promise<Placed> {
    const router = await slot.worker.createRouter({
      mediaCodecs,
      appData: { consultId: this.consultId },
    });
    const placed = { router, slot };
    this.placed.push(placed);
    this.onRouter?.(placed);
    this.#opts.logger.info(
      { consultId: this.consultId, worker: slot.index, routers: this.placed.length },
      'consult router placed',
    );
    return placed;
  }

  #pipe(producerId: string, home: types.Router, router: types.Router) {
    const key = `${producerId} ${router.id}`;
    let copy = this.#copies.get(key);
    if (!copy) {
      const homeSlot = this.placed.find((p) => p.router === home)?.slot;
      copy = home.pipeToRouter({ producerId, router }).then(({ pipeProducer, pipeConsumer }) => {
        const made = { producer: pipeProducer!, users: 0 };
        // The pipe consumer is one more consumer on the sender's worker.
        if (homeSlot) this.#opts.load.add(homeSlot, 1);
        // The original closing closes the pipe consumer, and mediasoup the copy with it.
        pipeProducer!.observer.once('close', () => {
          pipeConsumer?.close();
          if (homeSlot) this.#opts.load.add(homeSlot, -1);
          if (this.#copies.get(key) === copy) this.#copies.delete(key);
        });
        return made;
      });
      copy.catch(() => this.#copies.delete(key));
      this.#copies.set(key, copy);
    }
    return copy;
  }

  #unuse(copy: { producer: types.Producer; users: number }) {
    copy.users--;
    if (copy.users > 0) return;
    // Its close observer (above) forgets it.
    copy.producer.close();
  }
}
