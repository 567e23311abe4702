/** Starts a real gateway in-process (real mediasoup workers) on 127.0.0.1, port 0, for tests. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mintJoinToken, type MintOptions } from '../../src/auth/tokens.js';
import { loadConfig } from '../../src/config.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { createLogger } from '../../src/logger.js';

export const TEST_SECRET = 'test-secret-0123456789abcdef';

export interface TestGateway extends Gateway {
  dataDir: string;
  token(opts: Partial<MintOptions> & { consultId: string }): string;
  stop(): Promise<void>;
}

/** Each test file gets its own RTC ports; a clash (parallel files) retries on another base. */
export async function startTestGateway(env: Record<string, string> = {}): Promise<TestGateway> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-test-'));
  let lastError: unknown;
  for (let attempt = 0; attempt < 8; attempt++) {
    const portBase = 20000 + Math.floor(Math.random() * 20000);
    const config = loadConfig({
      HOST: '127.0.0.1',
      PORT: '0',
      WORKERS: '1',
      JWT_SECRET: TEST_SECRET,
      DATA_DIR: dataDir,
      RTC_PORT_BASE: String(portBase),
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
      DEMO_CONSULT_ID: '',
      ...env,
    });
    try {
      const gateway = await startGateway(config, createLogger(config.logLevel, 'test-gateway'));
      return Object.assign(gateway, {
        dataDir,
        token: (opts: Partial<MintOptions> & { consultId: string }) =>
          mintJoinToken(TEST_SECRET, {
            role: 'doctor',
            name: 'Test User',
            ttlSeconds: 600,
            ...opts,
          }),
        stop: async () => {
          await gateway.close();
          fs.rmSync(dataDir, { recursive: true, force: true });
        },
      });
    } catch (err) {
      lastError = err;
      if (!/cannot listen/.test(String((err as Error).message))) break;
    }
  }
  throw lastError;
}
