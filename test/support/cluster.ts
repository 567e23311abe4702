/** A test cluster: one Redis on a free port and gateway nodes as separate processes. */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createClient } from 'redis';
import type { ConsumeResponse, JoinResponse } from '../../src/protocol/index.js';
import type { TestClient } from './client.js';
import { clusterNodeScript } from './clusterNodeBuild.js';
import { TEST_SECRET } from './gateway.js';
import { mediaPortBase } from './ports.js';
import { receiveRtp, type RtpReceiver } from './rtpSocket.js';
import { timeUntil } from './wait.js';

const root = path.resolve(import.meta.dirname, '../..');

/** A port nothing listens on now (the kernel's choice). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A node's pipe bridge stats (its `pipes` command): links, SRTP links, piped producers each way. */
export interface Pipes {
  links: number;
  srtpLinks: number;
  outgoing: number;
  incoming: number;
}

export interface TestRedis {
  url: string;
  /** SIGKILLs Redis (everything in it is lost: no persistence) and starts a new one on the same port. */
  restart(): Promise<void>;
  /** SIGKILLs Redis and leaves it down (everything in it is lost) until `up`. */
  down(): Promise<void>;
  /** Starts a new, empty Redis on the same port after `down`. */
  up(): Promise<void>;
  stop(): Promise<void>;
}

async function spawnRedis(port: number) {
  const child = spawn(
    'redis-server',
    ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    const client = createClient({ url, socket: { reconnectStrategy: false } });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.ping();
      client.destroy();
      break;
    } catch {
      client.destroy();
      if (Date.now() > deadline || child.exitCode !== null) {
        child.kill('SIGKILL');
        throw new Error('redis-server did not start (is it installed? scripts/setup.sh --test)');
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Starts Debian's redis-server on a free loopback port, without persistence. */
export async function startRedis(): Promise<TestRedis> {
  const port = await freePort();
  let server = await spawnRedis(port);
  return {
    url: `redis://127.0.0.1:${port}`,
    async restart() {
      await server.kill();
      server = await spawnRedis(port);
    },
    down: () => server.kill(),
    async up() {
      server = await spawnRedis(port);
    },
    stop: () => server.kill(),
  };
}

export interface ClusterNodeProcess {
  nodeId: string;
  url: string;
  child: ChildProcess;
  /** Sends a control command (see clusterNode.ts) and resolves with its answer. */
  call<T = unknown>(cmd: string, args?: Record<string, unknown>): Promise<T>;
  output(): string;
  /** SIGKILL: nothing of the node's shutdown runs, as in a crash. */
  crash(): Promise<void>;
  /** SIGTERM (a cluster node drains first), SIGKILL if it has not exited after `killAfterMs`. */
  stop(killAfterMs?: number): Promise<void>;
}

/**
 * Starts a gateway node (test/support/clusterNode.ts) as its own process. Unless `env` names
 * RTC_PORT_BASE, its media port is drawn below the kernel's ephemeral range (32768 up), where
 * no outgoing connection takes it, and drawn again if something listens there (another file's
 * node, in parallel).
 */
export async function startClusterNode(
  nodeId: string,
  redisUrl: string,
  env: Record<string, string> = {},
): Promise<ClusterNodeProcess> {
  for (let attempt = 1; ; attempt++) {
    const rtc = env.RTC_PORT_BASE ?? String(mediaPortBase());
    try {
      return await startClusterNodeOnce(nodeId, redisUrl, { ...env, RTC_PORT_BASE: rtc });
    } catch (err) {
      const clash = /address already in use/.test((err as Error).message);
      if (!clash || env.RTC_PORT_BASE !== undefined || attempt >= 5) throw err;
    }
  }
}

async function startClusterNodeOnce(
  nodeId: string,
  redisUrl: string,
  env: Record<string, string>,
): Promise<ClusterNodeProcess> {
  // JavaScript compiled from the current sources: a start through tsx costs ~1.5x the CPU, as it
  // transforms src/ again. TEST_NODE_TSX=1 starts nodes through tsx as before (to compare).
  const tsx = process.env.TEST_NODE_TSX === '1';
  const script = tsx ? path.join(root, 'test/support/clusterNode.ts') : await clusterNodeScript();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `gw-node-${nodeId}-`));
  const child = fork(script, [], {
    cwd: root,
    execArgv: tsx ? ['--import', 'tsx'] : ['--enable-source-maps'],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: {
      ...process.env,
      HOST: '127.0.0.1',
      PORT: '0',
      WORKERS: '1',
      JWT_SECRET: TEST_SECRET,
      DATA_DIR: dataDir,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
      DEMO_CONSULT_ID: '',
      SCRYPT_COST: '1024',
      REDIS_URL: redisUrl,
      NODE_ID: nodeId,
      PIPE_LISTEN_IP: '127.0.0.1',
      // SIGTERM drains a cluster node; test clients that do not follow `migrate` hold it this long.
      DRAIN_TIMEOUT_SECONDS: '2',
      ...env,
    },
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  // For debugging a run: TEST_NODE_LOG_DIR=dir keeps each node's whole output in a file there.
  const logDir = process.env.TEST_NODE_LOG_DIR;
  if (logDir) {
    const file = fs.createWriteStream(path.join(logDir, `${nodeId}-${child.pid}.log`));
    child.stdout!.pipe(file, { end: false });
    child.stderr!.pipe(file, { end: false });
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let seq = 0;
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  const ready = new Promise<{ nodeId: string; url: string }>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`node ${nodeId} did not start within 90 s:\n${out}`)),
      90_000,
    );
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`node ${nodeId} exited (${code}) before it was ready:\n${out}`));
    });
    child.on(
      'message',
      (m: {
        ready?: true;
        nodeId: string;
        url: string;
        id?: number;
        ok?: boolean;
        data?: unknown;
        error?: string;
      }) => {
        if (m.ready) {
          clearTimeout(timer);
          resolve(m);
          return;
        }
        const p = pending.get(m.id!);
        if (!p) return;
        pending.delete(m.id!);
        if (m.ok) p.resolve(m.data);
        else p.reject(new Error(`${nodeId}: ${m.error}`));
      },
    );
  });
  let stopping = false;
  let gone: Error | undefined;
  child.once('exit', (code, signal) => {
    // An unexpected exit says why: the node's last output (a crash's stack) goes with the error.
    gone = new Error(`node ${nodeId} exited (${code ?? signal}):\n${out.slice(-4000)}`);
    if (!stopping) console.error(gone.message);
    for (const p of pending.values()) p.reject(gone);
    pending.clear();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
  let info: { nodeId: string; url: string };
  try {
    info = await ready;
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    nodeId: info.nodeId,
    url: info.url.replace('localhost', '127.0.0.1'),
    child,
    call<T>(cmd: string, args: Record<string, unknown> = {}) {
      const id = ++seq;
      return new Promise<T>((resolve, reject) => {
        if (gone) return reject(gone);
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        child.send({ id, cmd, ...args }, (err) => {
          if (!err || !pending.delete(id)) return;
          reject(gone ?? err);
        });
      });
    },
    output: () => out,
    async crash() {
      stopping = true;
      child.kill('SIGKILL');
      await exited;
    },
    async stop(killAfterMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      stopping = true;
      child.kill('SIGTERM');
      const force = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      await exited;
      clearTimeout(force);
    },
  };
}

/**
 * Consumes producer `producerId` of node `from` on `node` (its pipe bridge pipes it over) into
 * a new UDP receiver, added to `receivers` for the caller to close; with `packets`, resolves
 * once that many RTP packets arrived.
 */
export async function consumeRemote(
  node: ClusterNodeProcess,
  from: string,
  consultId: string,
  producerId: string,
  opts: { receivers: RtpReceiver[]; packets?: number },
): Promise<{ consumerId: string; receiver: RtpReceiver }> {
  const receiver = await receiveRtp();
  opts.receivers.push(receiver);
  const { consumerId } = await node.call<{ consumerId: string }>('consumeRemote', {
    consultId,
    node: from,
    producerId,
    port: receiver.port,
  });
  const { packets } = opts;
  if (packets !== undefined) {
    await timeUntil(
      () => receiver.packets() >= packets,
      15_000,
      `RTP of ${consultId} on ${node.nodeId}`,
    );
  }
  return { consumerId, receiver };
}

/**
 * Consumes `producerId` through the signalling for `client`, joined on `node` (`join` its
 * answer), over a plain-RTP receive transport (the node's `plainTransport`) into a new UDP
 * receiver, added to `receivers` for the caller to close. Returns the consume's answer too.
 */
export async function consumeAsJoined(
  node: ClusterNodeProcess,
  client: TestClient,
  join: JoinResponse,
  consultId: string,
  producerId: string,
  receivers: RtpReceiver[],
): Promise<{ consumed: ConsumeResponse; receiver: RtpReceiver }> {
  const receiver = await receiveRtp();
  receivers.push(receiver);
  await node.call('plainTransport', {
    consultId,
    peerId: join.peerId,
    direction: 'recv',
    port: receiver.port,
  });
  const consumed = await client.call<ConsumeResponse>('consume', {
    producerId,
    rtpCapabilities: join.routerRtpCapabilities,
  });
  await client.call('resumeConsumer', { consumerId: consumed.consumerId });
  return { consumed, receiver };
}
