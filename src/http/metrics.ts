/** Prometheus metrics (prom-client), gathered from the live rooms and workers at scrape time. */
import client from 'prom-client';
import type { RoomRegistry } from '../sfu/RoomRegistry.js';
import type { WorkerPool } from '../sfu/WorkerPool.js';
import { workerStats } from './workerStats.js';

export function createMetrics(rooms: RoomRegistry, pool: WorkerPool): client.Registry {
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

  // The first gauge's collect() reads the workers once and fills all three (prom-client
  // collects metrics in registration order).
  const rss = new client.Gauge({
    name: 'gateway_worker_rss_bytes',
    help: 'Resident memory of each mediasoup worker process',
    labelNames: ['worker'],
    registers: [],
  });
  const alive = new client.Gauge({
    name: 'gateway_workers_alive',
    help: 'mediasoup workers currently running',
    registers: [],
  });
  new client.Gauge({
    name: 'gateway_worker_cpu_seconds',
    help: 'CPU time used by each mediasoup worker process',
    labelNames: ['worker'],
    registers: [registry],
    async collect() {
      const stats = await workerStats(pool);
      this.reset();
      rss.reset();
      for (const w of stats) {
        if (w.cpuSeconds !== null) this.set({ worker: String(w.index) }, w.cpuSeconds);
        if (w.rssBytes !== null) rss.set({ worker: String(w.index) }, w.rssBytes);
      }
      alive.set(stats.filter((w) => w.alive).length);
    },
  });
  registry.registerMetric(rss);
  registry.registerMetric(alive);
  return registry;
}
