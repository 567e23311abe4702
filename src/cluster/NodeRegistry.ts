/**
 * The cluster's nodes: each registers itself in Redis with a heartbeat (id, public URL, media
 * addresses, load); one silent for `deadAfterMs` is dead. Ages are measured on Redis's clock,
 * so the nodes' clocks need not agree. A node that stops cleanly leaves the list.
 */
import { z } from 'zod';
import type { Logger } from '../logger.js';
import { TypedEmitter } from '../util/TypedEmitter.js';
import { assertReady, KEY_PREFIX, type Redis } from './redis.js';

const NODES = `${KEY_PREFIX}nodes`;
const nodeKey = (id: string) => `${KEY_PREFIX}node:${id}`;
/** Set when a node leaves cleanly: its absence from the list is a departure, not lost data. */
const leftKey = (id: string) => `${KEY_PREFIX}node-left:${id}`;
/** A dead node stays listed (as dead) this many times its silence limit, then is forgotten. */
const FORGET_AFTER_DEAD_TIMES = 10;

const portRange = z.tuple([z.number().int(), z.number().int()]);

/** What a node says about itself (parsed: it comes from another process). */
export const nodeInfoSchema = z.object({
  id: z.string(),
  /** Where clients reach this node (PUBLIC_URL, else its listening URL). */
  url: z.string(),
  startedAt: z.number(),
  /** `draining`: takes no new participants. */
  state: z.enum(['up', 'draining']),
  media: z.object({
    /** Address browsers send media to, and this node's WebRtcServer ports. */
    rtcIp: z.string(),
    rtcPorts: portRange,
    /** Address and port range other nodes' pipe transports reach this node at. */
    pipeIp: z.string(),
    pipePorts: portRange,
  }),
  load: z.object({
    workers: z.number(),
    consults: z.number(),
    peers: z.number(),
    producers: z.number(),
    consumers: z.number(),
  }),
});
export type NodeInfo = z.infer<typeof nodeInfoSchema>;

export interface NodeStatus extends NodeInfo {
  /** Redis time of its last heartbeat, ms since the epoch. */
  lastSeen: number;
  /** Milliseconds since that heartbeat, on Redis's clock. */
  silentMs: number;
  alive: boolean;
}

// KEYS: nodes zset, node key, left key. ARGV: id, info JSON, info lifetime ms. Returns Redis's now (ms).
const HEARTBEAT = `
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
redis.call('DEL', KEYS[3])
return now`;

// KEYS: nodes zset. ARGV: key prefix of node infos, forget-after ms.
// Returns { now, id1, lastSeen1, info1, ... }; forgets nodes silent past forget-after.
const LIST = `
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
local out = { tostring(now) }
local entries = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
for i = 1, #entries, 2 do
  local info = redis.call('GET', ARGV[1] .. entries[i])
  if info then
    table.insert(out, entries[i])
    table.insert(out, entries[i + 1])
    table.insert(out, info)
  end
end
return out`;

type RegistryEvents = {
  /** A node this one saw alive went silent past the limit. */
  nodeDown: [id: string];
  /** A node this one saw alive left the list (it stopped cleanly). */
  nodeLeft: [id: string];
  /** A node was seen alive for the first time (or again after being down). */
  nodeUp: [node: NodeStatus];
};

export interface NodeRegistryOptions {
  redis: Redis;
  deadAfterMs: number;
  logger: Logger;
  /** This node's current description, read at every heartbeat; omitted: only watch others. */
  self?: () => NodeInfo;
}

export class NodeRegistry extends TypedEmitter<RegistryEvents> {
  readonly #opts: NodeRegistryOptions;
  #timer: NodeJS.Timeout | undefined;
  #alive = new Set<string>();
  #closed = false;
  /** Since when this node has reached Redis without a break (undefined: not now). */
  #reachableSince: number | undefined;

  constructor(opts: NodeRegistryOptions) {
    super();
    this.#opts = opts;
  }

  /** Beats now (so the node is listed before it serves anyone), then every third of the limit. */
  async start(): Promise<void> {
    await this.#tick();
    const every = Math.max(100, Math.floor(this.#opts.deadAfterMs / 3));
    this.#timer = setInterval(() => {
      this.#tick().catch((err: Error) => {
        // Redis is down: the client reconnects; the next tick beats again.
        this.#opts.logger.debug({ err: err.message }, 'node heartbeat failed');
      });
    }, every);
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    // While Redis is down nothing is queued: the tick after it is back beats at once.
    if (!this.#opts.redis.isReady) {
      this.#reachableSince = undefined;
      return;
    }
    try {
      const self = this.#opts.self?.();
      if (self) await this.heartbeat(self);
      this.#reachableSince ??= Date.now();
      await this.#watch();
    } catch (err) {
      this.#reachableSince = undefined;
      throw err;
    }
  }

  /** Writes this node's description and the time it was seen. */
  async heartbeat(info: NodeInfo): Promise<void> {
    const lifetime = this.#opts.deadAfterMs * FORGET_AFTER_DEAD_TIMES;
    await this.#opts.redis.eval(HEARTBEAT, {
      keys: [NODES, nodeKey(info.id), leftKey(info.id)],
      arguments: [info.id, JSON.stringify(info), String(lifetime)],
    });
  }

  /** Every node known to the cluster, alive or recently dead, by id. */
  async list(): Promise<NodeStatus[]> {
    assertReady(this.#opts.redis);
    const forgetAfter = this.#opts.deadAfterMs * FORGET_AFTER_DEAD_TIMES;
    const reply = (await this.#opts.redis.eval(LIST, {
      keys: [NODES],
      arguments: [nodeKey(''), String(forgetAfter)],
    })) as string[];
    const now = Number(reply[0]);
    const nodes: NodeStatus[] = [];
    for (let i = 1; i + 2 < reply.length; i += 3) {
      const lastSeen = Number(reply[i + 1]);
      let info: NodeInfo;
      try {
        info = nodeInfoSchema.parse(JSON.parse(reply[i + 2]!));
      } catch (err) {
        this.#opts.logger.warn(
          { node: reply[i], err: (err as Error).message },
          'unreadable node entry in Redis; ignored',
        );
        continue;
      }
      const silentMs = Math.max(0, now - lastSeen);
      nodes.push({ ...info, lastSeen, silentMs, alive: silentMs <= this.#opts.deadAfterMs });
    }
    return nodes.sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Live nodes that take new participants. */
  async alive(): Promise<NodeStatus[]> {
    return (await this.list()).filter((n) => n.alive && n.state === 'up');
  }

  async #watch(): Promise<void> {
    const nodes = await this.list();
    const seen = new Set<string>();
    const listed = new Set(nodes.map((n) => n.id));
    for (const node of nodes) {
      if (!node.alive) continue;
      seen.add(node.id);
      if (!this.#alive.has(node.id)) {
        this.#alive.add(node.id);
        this.safeEmit('nodeUp', node);
      }
    }
    // Back from a Redis outage, the others have not beaten yet (and an emptied Redis lists
    // nobody): nobody is taken for dead or gone until each had a full silence limit to beat.
    const settled = Date.now() - (this.#reachableSince ?? Infinity) >= this.#opts.deadAfterMs;
    for (const id of [...this.#alive]) {
      if (seen.has(id)) continue;
      if (!listed.has(id) && (await this.#opts.redis.exists(leftKey(id)))) {
        this.#alive.delete(id);
        this.safeEmit('nodeLeft', id);
        continue;
      }
      if (!settled) continue;
      this.#alive.delete(id);
      this.#opts.logger.warn({ node: id }, 'cluster node is silent past the limit: dead');
      this.safeEmit('nodeDown', id);
    }
  }

  /** Stops beating; `leave` also removes this node from the list (a clean stop, not a death). */
  async stop(leave: boolean): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    const id = this.#opts.self?.().id;
    if (leave && id) {
      const lifetime = this.#opts.deadAfterMs * FORGET_AFTER_DEAD_TIMES;
      await this.#opts.redis
        .multi()
        .zRem(NODES, id)
        .del(nodeKey(id))
        .set(leftKey(id), '1', { PX: lifetime })
        .exec();
    }
  }
}
