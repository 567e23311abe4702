/**
 * This gateway as a node of a cluster (REDIS_URL set): Socket.IO on the Redis streams
 * adapter, its entry in the node registry, the request bus to other nodes, and the pipe
 * bridge that carries media between them.
 */
import { createAdapter } from '@socket.io/redis-streams-adapter';
import type { Server } from 'socket.io';
import type { Logger } from '../logger.js';
import type { RoomRegistry } from '../sfu/RoomRegistry.js';
import { ClusterBus } from './ClusterBus.js';
import { ClusterPlacement } from './ClusterPlacement.js';
import { ConsultDirectory } from './ConsultDirectory.js';
import { NodeRegistry, type NodeInfo } from './NodeRegistry.js';
import { PipeBridge } from './PipeBridge.js';
import { connectRedis, KEY_PREFIX, type Redis } from './redis.js';
import type { ClusterSettings } from './settings.js';

export interface ClusterNodeOptions {
  settings: ClusterSettings;
  io: Server;
  rooms: RoomRegistry;
  workers: number;
  /** Where browsers send media to, and the WebRtcServer ports. */
  rtc: { ip: string; ports: [number, number] };
  logger: Logger;
}

/** How long a registry read serves pages' CSP (refreshOrigins) before the next one. */
const ORIGINS_FRESH_MS = 250;

export class ClusterNode {
  #url = '';
  #startedAt = Date.now();
  #draining = false;
  #closed = false;
  /** Which node hosts each participant and producer; consumes across nodes through the bridge. */
  readonly placement: ClusterPlacement;
  /** The live nodes' origins (node id → URL origin), as this node's registry watch sees them. */
  readonly #origins = new Map<string, string>();
  /** The latest registry read for pages' CSP (refreshOrigins): when it started, and its end. */
  #originsRead: { at: number; done: Promise<void> } | undefined;

  private constructor(
    readonly settings: ClusterSettings,
    readonly redis: Redis,
    readonly bus: ClusterBus,
    readonly registry: NodeRegistry,
    readonly bridge: PipeBridge,
    readonly directory: ConsultDirectory,
    private readonly opts: ClusterNodeOptions,
  ) {
    this.placement = new ClusterPlacement(directory, registry, bridge, bus);
    registry.on('nodeUp', (n) => this.#noteOrigin(n));
    registry.on('nodeDown', (id) => this.#origins.delete(id));
    registry.on('nodeLeft', (id) => this.#origins.delete(id));
  }

  /**
   * Where a page served by this node may open its signalling (CSP `connect-src`): the live
   * nodes' origins, as http(s) and ws(s), so the client can move to another node on failover.
   */
  connectSources(): string[] {
    return [...new Set(this.#origins.values())].flatMap((o) => [o, o.replace(/^http/, 'ws')]);
  }

  /**
   * Reads the live nodes now (not at the registry watch's next tick, up to a third of the
   * silence limit away), so a page served now may move to a node that came up since: its
   * CSP names every node its join answer can list. Bounded by `timeoutMs`; a failed read
   * leaves the watch's view.
   */
  async refreshOrigins(timeoutMs = 500): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([this.#readOrigins(), late]);
    clearTimeout(timer);
  }

  /**
   * One registry read for every page served meanwhile and for `ORIGINS_FRESH_MS` after it: a
   * flood of page loads costs Redis a read a quarter second, not one a page.
   */
  #readOrigins(): Promise<void> {
    const now = Date.now();
    if (this.#originsRead && now - this.#originsRead.at < ORIGINS_FRESH_MS) {
      return this.#originsRead.done;
    }
    const done = this.registry.alive().then(
      (nodes) => nodes.forEach((n) => this.#noteOrigin(n)),
      () => undefined,
    );
    this.#originsRead = { at: now, done };
    return done;
  }

  #noteOrigin(n: { id: string; url: string }): void {
    const origin = URL.canParse(n.url) ? new URL(n.url).origin : undefined;
    if (origin) this.#origins.set(n.id, origin);
  }

  get id(): string {
    return this.settings.nodeId;
  }

  /**
   * Connects to Redis and puts Socket.IO on its adapter (before any socket connects); the
   * node is listed only once `register` gives its URL.
   */
  static async create(opts: ClusterNodeOptions): Promise<ClusterNode> {
    const { settings, rooms } = opts;
    const logger = opts.logger.child({ node: settings.nodeId });
    const redis = await connectRedis(settings.redisUrl, logger);
    try {
      // Streams, not plain pub/sub: each node reads the stream from its last offset, so a
      // dropped Redis connection loses no broadcast, and Socket.IO's connection-state
      // recovery can replay what a reconnecting client missed, on any node.
      opts.io.adapter(
        createAdapter(redis, {
          streamName: `${KEY_PREFIX}socket.io`,
          channelPrefix: `${KEY_PREFIX}socket.io`,
        }),
      );
      const bus = await ClusterBus.create(redis, settings.nodeId, logger);
      // Before signalling attaches: its entries are written before the broadcasts that announce them.
      const directory = new ConsultDirectory(redis, settings.nodeId, rooms, logger);
      const bridge = new PipeBridge({
        bus,
        listen: settings.pipe,
        lingerMs: settings.pipeLingerMs,
        holdMs: settings.pipeHoldMs,
        media: (consultId) => {
          const room = rooms.rooms.get(consultId);
          if (!room || room.closed) return undefined;
          return {
            router: room.router,
            hold: (id) => room.routers.hold(room.router, id),
            adopt: (producer) => room.adoptPiped(producer),
            appData: (id) => {
              for (const peer of room.peers.values()) {
                const p = peer.producers.get(id);
                if (p) return { ...p.appData };
              }
              return undefined;
            },
          };
        },
        logger,
      });
      // Producers held piped on a warm router are the new room's as if piped into it now (the
      // speaker observer, warm too, still has the microphones).
      rooms.on('roomCreated', (room) => {
        for (const p of bridge.pipedInto(room.consultId, room.router)) {
          room.routers.addProducer(p, room.router);
        }
      });
      const made: { node?: ClusterNode } = {};
      const registry = new NodeRegistry({
        redis,
        deadAfterMs: settings.deadAfterMs,
        logger,
        self: () => made.node!.describe(),
      });
      registry.on('nodeDown', (id) => bridge.dropNode(id));
      registry.on('nodeLeft', (id) => bridge.dropNode(id));
      made.node = new ClusterNode(settings, redis, bus, registry, bridge, directory, {
        ...opts,
        logger,
      });
      return made.node;
    } catch (err) {
      redis.destroy();
      throw err;
    }
  }

  /** Lists this node (at `url`) and starts its heartbeat. */
  async register(url: string): Promise<void> {
    this.#url = url;
    this.#startedAt = Date.now();
    await this.registry.start();
    this.opts.logger.info({ url }, 'joined the cluster');
  }

  /**
   * Marks the node as taking no new participants (it stays listed until it stops) and tells
   * the cluster at once, so placement and the join answers' entry points leave it out.
   */
  async drain(): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    await this.registry.heartbeat(this.describe()).catch((err: unknown) => {
      this.opts.logger.warn({ err }, 'could not list this node as draining; the next beat will');
    });
  }

  get draining(): boolean {
    return this.#draining;
  }

  /**
   * Where to send `count` participants of this node: the live nodes that take participants,
   * least loaded first (peers, then consumers), spreading the participants over them.
   */
  async targets(count: number): Promise<string[]> {
    const up = (await this.registry.list()).filter(
      (n) => n.alive && n.state === 'up' && n.id !== this.id,
    );
    if (up.length === 0) return [];
    const load = new Map(up.map((n) => [n, n.load.peers]));
    const out: string[] = [];
    for (let i = 0; i < count; i++) {
      const [next] = [...load].sort(
        ([x, a], [y, b]) =>
          a - b || x.load.consumers - y.load.consumers || x.id.localeCompare(y.id),
      )[0]!;
      load.set(next, load.get(next)! + 1);
      out.push(next.url);
    }
    return out;
  }

  /** What the registry says about this node. */
  describe(): NodeInfo {
    const load = this.opts.rooms.counts();
    const pipe = this.settings.pipe;
    return {
      id: this.id,
      url: this.#url,
      startedAt: this.#startedAt,
      state: this.#draining ? 'draining' : 'up',
      media: {
        rtcIp: this.opts.rtc.ip,
        rtcPorts: this.opts.rtc.ports,
        pipeIp: pipe.announcedIp ?? pipe.listenIp,
        pipePorts: [pipe.portMin, pipe.portMax],
      },
      load: {
        workers: this.opts.workers,
        consults: load.consults,
        peers: load.peers,
        producers: load.producers,
        consumers: load.consumers,
      },
    };
  }

  /** This node and the cluster as it sees them, for the detail of /healthz. */
  async health() {
    const nodes = await this.registry.list().catch(() => undefined);
    return {
      node: this.id,
      state: this.#draining ? ('draining' as const) : ('up' as const),
      redis: this.redis.isReady ? ('up' as const) : ('down' as const),
      nodes: nodes?.map((n) => ({
        id: n.id,
        url: n.url,
        state: n.state,
        alive: n.alive,
        silentMs: n.silentMs,
        load: n.load,
      })),
      pipes: this.bridge.stats(),
    };
  }

  /** A clean stop: leaves the list (not reported dead), closes the pipes and the bus. */
  async leave(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.registry.stop(true).catch(() => undefined);
    this.bridge.close();
    await this.bus.close();
  }

  /** Closes the Redis connection (after Socket.IO closed its adapter). */
  disconnect(): void {
    this.redis.destroy();
  }
}
