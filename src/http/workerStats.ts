/** CPU and memory of each mediasoup worker process, for /healthz and /metrics. */
import fs from 'node:fs/promises';
import type { WorkerPool } from '../sfu/WorkerPool.js';

export interface WorkerStats {
  index: number;
  pid: number;
  alive: boolean;
  port: number;
  routers: number;
  peers: number;
  /** Its nice value as set at its start (WORKER_NICE); null: inherited, or not permitted. */
  nice: number | null;
  /** User + system CPU time used so far, seconds. */
  cpuSeconds: number | null;
  /** Resident memory now (from /proc), falling back to the peak; bytes. */
  rssBytes: number | null;
}

async function currentRss(pid: number): Promise<number | null> {
  try {
    const statm = await fs.readFile(`/proc/${pid}/statm`, 'utf8');
    const pages = Number(statm.split(' ')[1]);
    return Number.isFinite(pages) ? pages * 4096 : null;
  } catch {
    return null;
  }
}

export async function workerStats(pool: WorkerPool): Promise<WorkerStats[]> {
  return Promise.all(
    pool.slots.map(async (slot) => {
      const base = {
        index: slot.index,
        pid: slot.worker.pid,
        alive: slot.alive,
        port: slot.port,
        nice: slot.nice,
        routers: slot.routers,
        peers: slot.peers,
      };
      if (!slot.alive) return { ...base, cpuSeconds: null, rssBytes: null };
      try {
        const usage = await slot.worker.getResourceUsage();
        return {
          ...base,
          cpuSeconds: (usage.ru_utime + usage.ru_stime) / 1000,
          rssBytes: (await currentRss(slot.worker.pid)) ?? usage.ru_maxrss * 1024,
        };
      } catch {
        return { ...base, cpuSeconds: null, rssBytes: null };
      }
    }),
  );
}
