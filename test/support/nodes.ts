/**
 * N gateway nodes of a test cluster on one Redis, each with fixed ports (HTTP, media, pipes),
 * so a node can be stopped and started again as the same node (a rolling restart); and a
 * private PostgreSQL server a test may stop and start (the machine's shared one serves other
 * tests and must not be restarted).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort, startClusterNode, type ClusterNodeProcess } from './cluster.js';

const run = promisify(execFile);

export interface TestNodes {
  /** The running process of each node, by name (replaced by `restart`). */
  readonly nodes: Map<string, ClusterNodeProcess>;
  get(name: string): ClusterNodeProcess;
  /** The node (name) whose URL has this port: where a `migrate` or a join answer points. */
  byUrl(url: string): string | undefined;
  /** Starts the node again with its name, ports and settings (after it stopped). */
  start(name: string): Promise<ClusterNodeProcess>;
  stop(): Promise<void>;
}

/** Starts nodes `names` (in parallel) on `redisUrl` with `env` added to each one's settings. */
export async function startNodes(
  names: string[],
  redisUrl: string,
  env: Record<string, string> = {},
): Promise<TestNodes> {
  // Pipe ranges of 20 ports per node, in a block chosen at random (parallel test files).
  const pipeBase = 43000 + Math.floor(Math.random() * 60) * 60;
  const settings = new Map<string, Record<string, string>>();
  for (const [i, name] of names.entries()) {
    settings.set(name, {
      PORT: String(await freePort()),
      PIPE_PORT_MIN: String(pipeBase + i * 20),
      PIPE_PORT_MAX: String(pipeBase + i * 20 + 19),
      ...env,
    });
  }
  const nodes = new Map<string, ClusterNodeProcess>();
  const start = async (name: string) => {
    const node = await startClusterNode(name, redisUrl, settings.get(name));
    nodes.set(name, node);
    return node;
  };
  await Promise.all(names.map(start));
  return {
    nodes,
    get: (name) => nodes.get(name)!,
    byUrl: (url) => {
      const port = new URL(url).port;
      return names.find((n) => settings.get(n)!.PORT === port);
    },
    start,
    stop: async () => {
      await Promise.all([...nodes.values()].map((n) => n.stop()));
    },
  };
}

export interface PrivatePostgres {
  /** postgres://… of its `postgres` database (trust authentication, loopback only). */
  url: string;
  /** Stops the server (`fast`: sessions are terminated, as in a restart). */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it for good and removes its files. */
  destroy(): Promise<void>;
}

const PG_BIN = process.env.TEST_PG_BIN ?? '/usr/lib/postgresql/15/bin';

/** As the postgres user: initdb refuses to run as root. */
const asPostgres = (cmd: string, args: string[]) =>
  run('runuser', ['-u', 'postgres', '--', path.join(PG_BIN, cmd), ...args], { timeout: 60_000 });

/** initdb + pg_ctl in a temp directory, on a free loopback port. */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-pg-'));
  fs.chownSync(dir, Number((await run('id', ['-u', 'postgres'])).stdout.trim()), 0);
  const data = path.join(dir, 'data');
  await asPostgres('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const port = await freePort();
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`;
  const ctl = (...args: string[]) => asPostgres('pg_ctl', ['-D', data, '-w', '-t', '30', ...args]);
  const start = async () => {
    await ctl('-o', options, '-l', path.join(dir, 'log'), 'start');
  };
  await start();
  let destroyed = false;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: async () => {
      await ctl('-m', 'fast', 'stop');
    },
    start,
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      await ctl('-m', 'immediate', 'stop').catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
