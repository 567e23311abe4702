/**
 * One sender's receivers on one node (issue 14, item 7): a 500 kbit/s VP8 producer fanned
 * out to N SRTP consumers through `ConsultRouters`, once with every consumer on the sender's
 * worker, then with the node's workers (the consult's routers on each, the producer piped
 * between them with pipeToRouter) and a per-worker consumer limit equal to the one-worker
 * figure. Both limits are found as the fanout section finds its own (geometric growth, then
 * bisection; loss < 0.1 %, SFU CPU < 85 %).
 */
import type { types } from 'mediasoup';
import { createLogger } from '../../src/logger.js';
import { ConsultRouters, WorkerConsumers } from '../../src/sfu/ConsultRouters.js';
import { WorkerPool } from '../../src/sfu/WorkerPool.js';
import type { Measured, Section } from '../lib/section.js';
import { inBatches, plainEgress, plainIngest } from '../lib/sfu.js';
import type { LimitSearch } from '../lib/stats.js';
import { destination, limitOf, limitSeries, seriesNote, type LoadTarget } from './fanout.js';

const SSRC = 0x3000;
/** Issue 14: receivers per node ≥ (workers × one-worker figure) × 0.8. */
export const SCALING_TARGET = 0.8;

/** One sender on the consult's first router, consumers placed by ConsultRouters. */
async function consultTarget(
  pool: WorkerPool,
  maxConsumersPerWorker: number,
  monitored: number[],
  sinkPort: number,
): Promise<LoadTarget & { routers: ConsultRouters }> {
  const routers = await ConsultRouters.create('bench-workerfanout', {
    pool,
    load: new WorkerConsumers(),
    maxConsumersPerWorker,
    logger: createLogger('silent'),
  });
  const ingest = await plainIngest(routers.primary, [{ kind: 'video', ssrc: SSRC }]);
  const producer = ingest.producers[0]!;
  routers.addProducer(producer, routers.primary);
  const consumers: types.PlainTransport[] = [];
  return {
    routers,
    // The sender's worker carries at least as many consumers as any other, and the ingest.
    sfuPid: routers.placed[0]!.slot.worker.pid,
    async resize(n) {
      await inBatches(consumers.splice(n), 16, async (t) => t.close());
      // One at a time: placement depends on the consumers already placed.
      for (let i = consumers.length; i < n; i++) {
        const router = await routers.placePeer(1);
        const t = await plainEgress(router, [], destination(i, monitored, sinkPort), true);
        await routers.consume(router, producer.id, () =>
          t.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities }),
        );
        consumers.push(t);
      }
    },
    streams: () => [{ port: ingest.port, kind: 'video', ssrc: SSRC }],
    monitoredInUse: () => Math.min(consumers.length, monitored.length),
    sources: () => [{ port: ingest.port, ssrc: SSRC }],
    async teardown() {
      for (const t of consumers.splice(0)) t.close();
      ingest.transport.close();
      routers.close();
    },
  };
}

/** Where a per-worker limit of `m` stops fitting: every extra worker costs one pipe consumer on the sender's. */
const fitting = (workers: number, m: number) => workers * m - (workers - 1);

export const workerFanoutSection: Section = {
  name: 'workers',
  specs: [
    {
      id: 'maxN',
      label:
        "500 kbit/s VP8 from one sender to N SRTP consumers, largest N on one node with the consult's routers on every worker (ConsultRouters, pipeToRouter; per-worker limit = the one-worker figure)",
      unit: 'consumers',
      better: 'higher',
      baselineLabel: "every consumer on the sender's worker",
    },
    {
      id: 'scaling',
      label: 'receivers per node / (workers × one-worker figure)',
      unit: '×',
      better: 'higher',
      baselineLabel: `issue 14 target: ≥ ${SCALING_TARGET}`,
    },
  ],
  async run(s) {
    const cfg = s.opts.workers;
    const pool = await WorkerPool.create({
      count: cfg.count,
      listenIp: '127.0.0.1',
      announcedIp: undefined,
      portBase: 20000 + Math.floor(Math.random() * 20000),
      logLevel: 'warn',
      logger: createLogger('silent'),
    });
    try {
      const traffic = await s.agent('traffic');
      const { ports: monitored } = await traffic.call<{ ports: number[] }>('openReceivers', {
        count: cfg.sample,
      });
      const sinkPort = await s.sinkPort();

      const one = await limitSeries(
        s,
        traffic,
        await consultTarget(pool, Number.MAX_SAFE_INTEGER, monitored, sinkPort),
        cfg.search,
        cfg,
        'workers: one worker',
      );
      const values: Record<string, Measured> = {};
      const details: Record<string, unknown> = {
        workers: cfg.count,
        monitoredConsumers: cfg.sample,
        oneWorker: one,
        note: "CPU criterion on the sender's worker, which carries at least as many consumers as any other worker plus the ingest and the pipe consumers; consumers are SRTP PlainTransports with a browser's capabilities (NACK, PLI, RTX)",
      };
      const m = one.limit;
      if (m < 1) {
        const reason = `one worker carried no consumer (${one.stoppedBy})`;
        values.maxN = { value: null, baseline: 0, reason };
        values.scaling = { value: null, baseline: SCALING_TARGET, reason };
        await traffic.call('closeReceivers');
        return { values, details };
      }
      // From the target (0.8 × workers × m) up to what fits under the per-worker limit m.
      const max = fitting(cfg.count, m);
      const search: LimitSearch = {
        ...cfg.search,
        start: Math.min(max, Math.ceil(SCALING_TARGET * cfg.count * m)),
        max,
      };
      const spread = await consultTarget(pool, m, monitored, sinkPort);
      const many = await limitSeries(
        s,
        traffic,
        spread,
        search,
        cfg,
        `workers: ${cfg.count} workers`,
      );
      details.perWorkerLimit = m;
      details.workersSeries = many;
      await traffic.call('closeReceivers');

      const o = limitOf(many);
      const b = limitOf(one);
      const bound = one.reached ? '' : ` (one worker's limit not reached at ${m}: a lower bound)`;
      values.maxN = {
        value: o.value,
        baseline: b.value,
        notReached: { value: o.notReached, baseline: b.notReached },
        note: `${cfg.count} workers, per-worker limit ${m}: ${seriesNote(many)}. One worker: ${seriesNote(one)}`,
      };
      const share = many.limit / (cfg.count * m);
      values.scaling =
        many.reached && one.reached
          ? { value: share, baseline: SCALING_TARGET }
          : {
              value: null,
              baseline: SCALING_TARGET,
              reason: `${many.reached ? `${cfg.count} workers: limit ${many.limit}` : `${cfg.count} workers: not reached at ${many.limit}`}${bound}; ${many.limit} / (${cfg.count} × ${m}) = ${share.toFixed(2)}`,
            };
      return { values, details };
    } finally {
      pool.close();
    }
  },
};
