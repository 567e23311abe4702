/**
 * One mediasoup worker per configured core, each owning one WebRtcServer (one UDP and one
 * TCP port: RTC_PORT_BASE + index). A worker that dies is reported and replaced on the
 * same ports; routers are placed on the least-loaded live worker.
 */
import os from 'node:os';
import './workerBin.js';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import { GatewayError } from '../errors.js';
import type { Logger } from '../logger.js';
import { TypedEmitter } from '../util/TypedEmitter.js';

export interface WorkerPoolOptions {
  count: number;
  listenIp: string;
  announcedIp: string | undefined;
  /** A second address listened on (same ports) and announced as itself; see RTC_LAN_IP. */
  lanIp?: string | undefined;
  portBase: number;
  logLevel: types.WorkerLogLevel;
  logger: Logger;
  /**
   * The workers' scheduling priority (nice, -20..19; lower runs first), set on every worker
   * including replacements; undefined leaves it as inherited. See WORKER_NICE.
   */
  nice?: number | undefined;
}

/** What the pool needs of a room it placed on a worker: its peers, and when it closes. */
export interface HostedRoom {
  readonly peers: { readonly size: number };
  /** Its peers on worker `index`, when it spans several workers (else all count). */
  peersOn?(index: number): number;
  once(event: 'close', listener: () => void): unknown;
}

/** A worker slot: its index (and so its ports) is stable across replacements. */
export class WorkerSlot {
  /** The rooms the pool placed on this worker and that are still open. */
  readonly rooms = new Set<HostedRoom>();

  /** The worker's nice value as set at its start (null: left as inherited, or not permitted). */
  nice: number | null = null;

  /** Peers currently placed on this worker (the placement load). */
  get peers(): number {
    let n = 0;
    for (const room of this.rooms) n += room.peersOn?.(this.index) ?? room.peers.size;
    return n;
  }

  /** Consults with a router on this worker now. */
  get routers(): number {
    return this.rooms.size;
  }

  constructor(
    readonly index: number,
    readonly port: number,
    public worker: types.Worker,
    public webRtcServer: types.WebRtcServer,
  ) {}

  get alive(): boolean {
    return !this.worker.closed;
  }
}

type PoolEvents = {
  /** A worker process died; everything on it is gone. */
  workerDied: [slot: WorkerSlot, error: Error];
  /** A replacement worker is up on the dead one's slot. */
  workerReplaced: [slot: WorkerSlot];
};

export class WorkerPool extends TypedEmitter<PoolEvents> {
  readonly slots: WorkerSlot[] = [];
  #closed = false;
  /** Told once per pool: the priority could not be set. */
  #niceRefused = false;
  readonly #opts: WorkerPoolOptions;

  private constructor(opts: WorkerPoolOptions) {
    super();
    this.#opts = opts;
  }

  /** Starts every worker and its WebRtcServer; fails (closing what started) if one cannot start. */
  static async create(opts: WorkerPoolOptions): Promise<WorkerPool> {
    const pool = new WorkerPool(opts);
    try {
      for (let i = 0; i < opts.count; i++) {
        const port = opts.portBase + i;
        const { worker, webRtcServer, nice } = await pool.#startWorker(i, port);
        const slot = new WorkerSlot(i, port, worker, webRtcServer);
        slot.nice = nice;
        pool.slots.push(slot);
        pool.#watch(slot);
      }
    } catch (err) {
      pool.close();
      throw err;
    }
    return pool;
  }

  async #startWorker(index: number, port: number) {
    const { listenIp, announcedIp, lanIp, logLevel, logger } = this.#opts;
    const worker = await mediasoup.createWorker({
      logLevel,
      logTags: ['ice', 'dtls', 'rtp', 'srtp', 'rtcp', 'simulcast', 'bwe'],
      appData: { index },
    });
    const nice = this.#prioritise(worker, index);
    try {
      const webRtcServer = await worker.createWebRtcServer({
        // UDP entries first: mediasoup ranks candidates in this order.
        listenInfos: [
          { protocol: 'udp', ip: listenIp, announcedIp, port },
          ...(lanIp ? [{ protocol: 'udp' as const, ip: lanIp, port }] : []),
          { protocol: 'tcp', ip: listenIp, announcedIp, port },
          ...(lanIp ? [{ protocol: 'tcp' as const, ip: lanIp, port }] : []),
        ],
      });
      logger.info(
        { worker: index, workerPid: worker.pid, port, listenIp, announcedIp, lanIp, nice },
        'mediasoup worker up',
      );
      return { worker, webRtcServer, nice };
    } catch (err) {
      worker.close();
      throw new Error(
        `worker ${index}: cannot listen on ${[listenIp, lanIp].filter(Boolean).join(' and ')}:${port} (udp+tcp): ${(err as Error).message}`,
      );
    }
  }

  /**
   * Runs the worker ahead of ordinary processes. On a busy machine a worker that waits for the
   * CPU holds RTP and RTCP back; the senders' browsers read the delay as congestion and drop
   * their top simulcast layer for 10-25 s (measured on 2 cores with one kept busy; at nice -10
   * the estimate recovers in about 2 s). Raising a priority needs root or CAP_SYS_NICE: without
   * it the worker runs at the inherited priority and the operator is told once what to do.
   */
  #prioritise(worker: types.Worker, index: number): number | null {
    const { nice, logger } = this.#opts;
    if (nice === undefined) return null;
    try {
      os.setPriority(worker.pid, nice);
      return nice;
    } catch (err) {
      if (!this.#niceRefused) {
        this.#niceRefused = true;
        logger.warn(
          { worker: index, workerPid: worker.pid, nice, err: (err as Error).message },
          `cannot set the media workers' priority to nice ${nice}: the gateway needs root or ` +
            'CAP_SYS_NICE for that (e.g. systemd AmbientCapabilities=CAP_SYS_NICE). Media still ' +
            'flows, but on a busy machine video may drop to a lower resolution for seconds at a ' +
            'time. Set WORKER_NICE=0 to run them at normal priority without this warning.',
        );
      }
      return null;
    }
  }

  #watch(slot: WorkerSlot): void {
    const worker = slot.worker;
    worker.on('died', (error) => {
      if (this.#closed) return;
      this.#opts.logger.error(
        { worker: slot.index, workerPid: worker.pid, err: error.message },
        'mediasoup worker died; replacing it',
      );
      slot.rooms.clear();
      this.safeEmit('workerDied', slot, error);
      void this.#replace(slot);
    });
  }

  async #replace(slot: WorkerSlot, attempt = 1): Promise<void> {
    if (this.#closed) return;
    try {
      const { worker, webRtcServer, nice } = await this.#startWorker(slot.index, slot.port);
      if (this.#closed) {
        worker.close();
        return;
      }
      slot.worker = worker;
      slot.webRtcServer = webRtcServer;
      slot.nice = nice;
      this.#watch(slot);
      this.safeEmit('workerReplaced', slot);
    } catch (err) {
      const delay = Math.min(30_000, 250 * 2 ** attempt);
      this.#opts.logger.error(
        { worker: slot.index, attempt, retryInMs: delay, err: (err as Error).message },
        'replacing mediasoup worker failed',
      );
      setTimeout(() => void this.#replace(slot, attempt + 1), delay).unref();
    }
  }

  /** The live worker with the fewest peers (then fewest routers). */
  leastLoaded(): WorkerSlot {
    let best: WorkerSlot | undefined;
    for (const slot of this.slots) {
      if (!slot.alive) continue;
      if (
        !best ||
        slot.peers < best.peers ||
        (slot.peers === best.peers && slot.routers < best.routers)
      ) {
        best = slot;
      }
    }
    if (!best)
      throw new GatewayError('unavailable', 'no media worker is available; try again shortly');
    return best;
  }

  /** Counts a room on the worker it was placed on, until it closes (the pool keeps the load). */
  host(slot: WorkerSlot, room: HostedRoom): void {
    slot.rooms.add(room);
    room.once('close', () => slot.rooms.delete(room));
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Closes every worker. Close routers/transports first (Rooms do) for a clean shutdown. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const slot of this.slots) {
      if (!slot.worker.closed) slot.worker.close();
    }
  }
}
