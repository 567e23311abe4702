/**
 * Cluster node agent: a real gateway with REDIS_URL in its own process (a node of a
 * two-node bench cluster), and the plain-RTP media a browser would make: a producer fed by
 * the traffic agent, a local consumer, and a consumer of another node's producer through
 * the node's PipeBridge (pipe negotiated over the ClusterBus, SRTP, as in production).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { types } from 'mediasoup';
import { loadConfig } from '../../src/config.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { createLogger } from '../../src/logger.js';
import { BENCH_SECRET } from '../lib/access.js';
import { serveAgent } from '../lib/agent.js';
import { plainEgress, plainIngest } from '../lib/sfu.js';

let gateway: Gateway | null = null;
let dataDir = '';

function running(): Gateway {
  if (!gateway) throw new Error('call start first');
  return gateway;
}

async function start(args: { nodeId: string; redisUrl: string; pipePorts: [number, number] }) {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `gw-bench-${args.nodeId}-`));
  const config = loadConfig({
    HOST: '127.0.0.1',
    PORT: '0',
    WORKERS: '1',
    JWT_SECRET: BENCH_SECRET,
    DATA_DIR: dataDir,
    RTC_PORT_BASE: String(20000 + Math.floor(Math.random() * 20000)),
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'silent',
    DEMO_CONSULT_ID: '',
    REDIS_URL: args.redisUrl,
    NODE_ID: args.nodeId,
    PIPE_LISTEN_IP: '127.0.0.1',
    PIPE_PORT_MIN: String(args.pipePorts[0]),
    PIPE_PORT_MAX: String(args.pipePorts[1]),
  });
  gateway = await startGateway(config, createLogger(config.logLevel, `bench-${args.nodeId}`));
  return { workerPid: gateway.pool.slots[0]!.worker.pid };
}

/** A plain-RTP producer (comedia) on the consult's router; returns its id and the port to send to. */
async function produce(args: { consultId: string; ssrc: number }) {
  const room = await running().rooms.getOrCreate(args.consultId);
  const ingest = await plainIngest(room.router, [{ kind: 'audio', ssrc: args.ssrc }]);
  return { producerId: ingest.producers[0]!.id, port: ingest.port };
}

/** A consumer of a producer of this node, sending plain RTP to 127.0.0.1:port. */
async function consumeLocal(args: { consultId: string; producerId: string; port: number }) {
  const room = await running().rooms.getOrCreate(args.consultId);
  await plainEgress(room.router, [args.producerId], args.port, false);
  return null;
}

/** A consumer on this node of a producer of `node`, through the pipe bridge. */
async function consumeRemote(args: {
  consultId: string;
  node: string;
  producerId: string;
  port: number;
}) {
  const gw = running();
  const room = await gw.rooms.getOrCreate(args.consultId);
  const transport = await plainEgress(room.router, [], args.port, false);
  await gw.cluster!.bridge.consume(
    args.consultId,
    args.node,
    args.producerId,
    (p: types.Producer) =>
      transport.consume({ producerId: p.id, rtpCapabilities: room.router.rtpCapabilities }),
  );
  return null;
}

function pipes() {
  return running().cluster!.bridge.stats();
}

async function stop() {
  await gateway?.close();
  gateway = null;
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
}

process.on('SIGTERM', () => {
  void stop().finally(() => process.exit(0));
});

serveAgent({ start, produce, consumeLocal, consumeRemote, pipes, stop });
