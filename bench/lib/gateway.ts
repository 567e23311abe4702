/** The real gateway, started in the bench process on 127.0.0.1 with one media worker. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { createLogger } from '../../src/logger.js';
import { BENCH_ROOT } from './agent.js';
import { BENCH_SECRET } from './access.js';

export interface BenchGateway {
  gateway: Gateway;
  url: string;
  /** pid of its (single) mediasoup worker. */
  workerPid: number;
  stop(): Promise<void>;
}

/**
 * `clientDir`: the browser client it serves (default: this checkout's client/dist);
 * `settings`: more settings (e.g. an A/B of a server setting).
 */
export async function startBenchGateway(
  clientDir = path.join(BENCH_ROOT, 'client', 'dist'),
  settings: Record<string, string> = {},
): Promise<BenchGateway> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-bench-'));
  let lastError: unknown;
  for (let attempt = 0; attempt < 8; attempt++) {
    const config = loadConfig({
      HOST: '127.0.0.1',
      PORT: '0',
      WORKERS: '1',
      JWT_SECRET: BENCH_SECRET,
      DATA_DIR: dataDir,
      RTC_PORT_BASE: String(20000 + Math.floor(Math.random() * 20000)),
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'silent',
      DEMO_CONSULT_ID: '',
      CLIENT_DIR: clientDir,
      // DATABASE_URL=postgres://… benches the gateway on PostgreSQL instead of SQLite.
      ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
      ...settings,
    });
    try {
      const gateway = await startGateway(config, createLogger(config.logLevel, 'bench-gateway'));
      return {
        gateway,
        // 127.0.0.1 rather than "localhost": the browser must not try ::1 first.
        url: `http://127.0.0.1:${gateway.port}`,
        workerPid: gateway.pool.slots[0]!.worker.pid,
        async stop() {
          await gateway.close();
          fs.rmSync(dataDir, { recursive: true, force: true });
        },
      };
    } catch (err) {
      lastError = err;
      if (!/cannot listen/.test(String((err as Error).message))) break;
    }
  }
  fs.rmSync(dataDir, { recursive: true, force: true });
  throw lastError;
}
