/** Prometheus metrics (prom-client), gathered from the live rooms and workers at scrape time. */
import client from 'prom-client';
import type { ClusterNode } from '../cluster/ClusterNode.js';
import type { RoomRegistry } from '../sfu/RoomRegistry.js';
import type { WorkerPool } from '../sfu/WorkerPool.js';
import { registerNodeClusterMetrics } from './clusterMetrics.js';
import { workerStats, type WorkerStats } from './workerStats.js';

/**
 * `pendingRecordWrites` reports consult-record writes waiting for a retry (should stay 0);
 * `cluster` adds this node's cluster gauges (state, Redis, pipes) when it is a cluster node.
 */
export function createMetrics(
  rooms: RoomRegistry,
  pool: WorkerPool,
  pendingRecordWrites: () => number = () => 0,
  cluster: () => ClusterNode | undefined = () => undefined,
): client.Registry {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'gateway_node_' });

  const counts = () => rooms.counts();
  const gauge = (name: string, help: string, read: () => number) =>
    new client.Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  gauge('gateway_consults', 'Consults with a live room', () => counts().consults);
  gauge('gateway_peers', 'Participants joined to a consult', () => counts().peers);
  gauge('gateway_transports', 'Open WebRTC transports', () => counts().transports);
  gauge('gateway_producers', 'Open producers', () => counts().producers);
  gauge('gateway_consumers', 'Open consumers', () => counts().consumers);
  const labelled = (name: string, help: string, read: () => Record<string, number>) =>
    new client.Gauge({
      name,
      help,
      labelNames: ['source'],
      registers: [registry],
      collect() {
        for (const [source, n] of Object.entries(read())) this.set({ source }, n);
      },
    });
  const media = () => rooms.mediaCounts();
  labelled(
    'gateway_producers_by_source',
    'Open producers by source',
    () => media().producersBySource,
  );
  gauge(
    'gateway_peer_transports_max',
    'Most transports any one participant holds (the limit is 2)',
    () => media().perPeerMax.transports,
  );
  labelled(
    'gateway_peer_producers_max',
    'Most producers of one source any one participant holds (the limit is 1)',
    () => media().perPeerMax.producersBySource,
  );
  gauge(
    'gateway_peer_consumers_of_one_producer_max',
    'Most consumers any one participant holds of one producer (the limit is 1)',
    () => media().perPeerMax.consumersOfOneProducer,
  );
  gauge(
    'gateway_record_writes_pending',
    'Consult-record writes waiting for a retry',
    pendingRecordWrites,
  );

  // prom-client collects all metrics concurrently: the worker gauges share one reading per scrape.
  let reading: { at: number; stats: Promise<WorkerStats[]> } | undefined;
  const workers = () => {
    if (!reading || Date.now() - reading.at > 500)
      reading = { at: Date.now(), stats: workerStats(pool) };
    return reading.stats;
  };
  new client.Gauge({
    name: 'gateway_worker_cpu_seconds',
    help: 'CPU time used by each mediasoup worker process',
    labelNames: ['worker'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const w of await workers()) {
        if (w.cpuSeconds !== null) this.set({ worker: String(w.index) }, w.cpuSeconds);
      }
    },
  });
  new client.Gauge({
    name: 'gateway_worker_rss_bytes',
    help: 'Resident memory of each mediasoup worker process',
    labelNames: ['worker'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const w of await workers()) {
        if (w.rssBytes !== null) this.set({ worker: String(w.index) }, w.rssBytes);
      }
    },
  });
  new client.Gauge({
    name: 'gateway_workers_alive',
    help: 'mediasoup workers currently running',
    registers: [registry],
    async collect() {
      this.set((await workers()).filter((w) => w.alive).length);
    },
  });
  registerNodeClusterMetrics(registry, cluster);
  return registry;
}
