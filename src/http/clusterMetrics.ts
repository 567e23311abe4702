/**
 * Prometheus metrics of cluster mode: this node's part (state, Redis, pipe bridge) added to
 * the node's /metrics, and the cluster's totals from the node registry (/metrics?scope=cluster).
 * Counts, node names and states only: nothing here names a consult or a person.
 */
import client from 'prom-client';
import type { ClusterNode } from '../cluster/ClusterNode.js';
import type { NodeStatus } from '../cluster/NodeRegistry.js';

type Cluster = () => ClusterNode | undefined;

/**
 * Gauges of this node as a cluster member, labelled with its NODE_ID; on a single node
 * (no cluster) they have no samples.
 */
export function registerNodeClusterMetrics(registry: client.Registry, cluster: Cluster): void {
  const gauge = (
    name: string,
    help: string,
    read: (c: ClusterNode) => number | Record<string, number>,
    extraLabel?: string,
  ) =>
    new client.Gauge({
      name,
      help,
      labelNames: extraLabel ? ['node', extraLabel] : ['node'],
      registers: [registry],
      collect() {
        this.reset();
        const c = cluster();
        if (!c) return;
        const v = read(c);
        if (typeof v === 'number') this.set({ node: c.id }, v);
        else for (const [k, n] of Object.entries(v)) this.set({ node: c.id, [extraLabel!]: k }, n);
      },
    });
  gauge('gateway_node_draining', '1 while this node takes no new participants (draining)', (c) =>
    c.describe().state === 'draining' ? 1 : 0,
  );
  gauge('gateway_redis_up', "1 while this node's Redis connection is ready", (c) =>
    c.redis.isReady ? 1 : 0,
  );
  gauge(
    'gateway_pipe_links',
    'Pipe transports to other nodes (one per consult and node pair)',
    (c) => c.bridge.stats().links,
  );
  gauge(
    'gateway_pipe_links_srtp',
    'Pipe transports protected by SRTP',
    (c) => c.bridge.stats().srtpLinks,
  );
  gauge(
    'gateway_piped_producers',
    'Producers piped to other nodes (outgoing) or from them (incoming)',
    (c) => {
      const s = c.bridge.stats();
      return { outgoing: s.outgoing, incoming: s.incoming };
    },
    'direction',
  );
}

const LOAD = ['workers', 'consults', 'peers', 'producers', 'consumers'] as const;

/**
 * The cluster as the node registry lists it: nodes by state, and each live node's load with
 * the totals. A consult whose participants sit on two nodes counts once on each.
 */
export function createClusterMetrics(cluster: ClusterNode): client.Registry {
  const registry = new client.Registry();
  // One registry read per scrape, shared by the gauges (prom-client collects them concurrently).
  // Redis down: no node is listed, and gateway_cluster_registry_up says why.
  let reading: { at: number; list: Promise<NodeStatus[] | null> } | undefined;
  const read = () => {
    if (!reading || Date.now() - reading.at > 500)
      reading = { at: Date.now(), list: cluster.registry.list().catch(() => null) };
    return reading.list;
  };
  const nodes = async () => (await read()) ?? [];
  new client.Gauge({
    name: 'gateway_cluster_registry_up',
    help: '1 when this node could read the node registry from Redis for this scrape',
    registers: [registry],
    async collect() {
      this.set((await read()) ? 1 : 0);
    },
  });
  new client.Gauge({
    name: 'gateway_cluster_nodes',
    help: 'Nodes in the registry by state (dead: silent past NODE_DEAD_AFTER_SECONDS)',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const list = await nodes();
      const count = (state: string) =>
        list.filter((n) => (n.alive ? n.state : 'dead') === state).length;
      for (const state of ['up', 'draining', 'dead']) this.set({ state }, count(state));
    },
  });
  new client.Gauge({
    name: 'gateway_cluster_node_silent_seconds',
    help: "Seconds since each listed node's last heartbeat, on Redis's clock",
    labelNames: ['node'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const n of await nodes()) this.set({ node: n.id }, n.silentMs / 1000);
    },
  });
  for (const key of LOAD) {
    new client.Gauge({
      name: `gateway_cluster_node_${key}`,
      help: `${key[0]!.toUpperCase()}${key.slice(1)} of each live node, as it last reported`,
      labelNames: ['node'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const n of await nodes()) if (n.alive) this.set({ node: n.id }, n.load[key]);
      },
    });
    new client.Gauge({
      name: `gateway_cluster_${key}`,
      help: `${key[0]!.toUpperCase()}${key.slice(1)} over every live node`,
      registers: [registry],
      async collect() {
        const live = (await nodes()).filter((n) => n.alive);
        this.set(live.reduce((sum, n) => sum + n.load[key], 0));
      },
    });
  }
  return registry;
}
