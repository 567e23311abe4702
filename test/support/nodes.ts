/**
 * N gateway nodes of a test cluster at once, and a private PostgreSQL server a test may stop
 * and start (the machine's shared one serves other tests and must not be restarted).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort, startClusterNode, type ClusterNodeProcess } from './cluster.js';

const run = promisify(execFile);

/** Starts one node per name on `redisUrl`, each with its own pipe port range. */
export function startNodes(
  names: string[],
  redisUrl: string,
  env: Record<string, string> = {},
): Promise<ClusterNodeProcess[]> {
  const base = 43000 + Math.floor(Math.random() * 40) * 50;
  return Promise.all(
    names.map((name, i) =>
      startClusterNode(name, redisUrl, {
        PIPE_PORT_MIN: String(base + i * 10),
        PIPE_PORT_MAX: String(base + i * 10 + 9),
        ...env,
      }),
    ),
  );
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
