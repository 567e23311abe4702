/** Starts a real gateway in-process (real mediasoup workers) on 127.0.0.1, port 0, for tests. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mintJoinToken, type MintOptions } from '../../src/auth/tokens.js';
import type { Consult, User, UserRole } from '../../src/store/repositories.js';
import { loadConfig } from '../../src/config.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { createLogger } from '../../src/logger.js';
import { createTestDatabase, usePostgres, type TestDatabase } from './postgres.js';
import { scheduledConsult } from './consultRow.js';
import { mediaPortBase } from './ports.js';

export const TEST_SECRET = 'test-secret-0123456789abcdef';

export interface TestGateway extends Gateway {
  dataDir: string;
  /** Mints a join token directly (for testing the token checks themselves). */
  token(opts: Partial<MintOptions> & { consultId: string }): string;
  /** Creates an account (password: TEST_PASSWORD). */
  user(role: UserRole, name?: string): Promise<User>;
  /** Creates a consult whose lobby is open now, hosted by `host` with `specialists` invited. */
  consult(host: User, specialists?: User[], fields?: Partial<Consult>): Promise<Consult>;
  /** A join grant for a participant of a consult, as `npm run token` mints it. */
  grant(consultId: string, user: User): Promise<string>;
  stop(): Promise<void>;
}

export const TEST_PASSWORD = 'correct horse battery staple';
let seq = 0;

/** Each test file gets its own RTC ports; a clash (parallel files) retries on another base. */
/**
 * The store is SQLite in the temp dir, or with TEST_DATABASE=postgres a throw-away PostgreSQL
 * database (dropped at stop), unless `env` names its own DATABASE_URL.
 */
export async function startTestGateway(env: Record<string, string> = {}): Promise<TestGateway> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-test-'));
  const database: TestDatabase | undefined =
    usePostgres && env.DATABASE_URL === undefined ? await createTestDatabase() : undefined;
  let lastError: unknown;
  for (let attempt = 0; attempt < 8; attempt++) {
    const portBase = mediaPortBase();
    const config = loadConfig({
      HOST: '127.0.0.1',
      PORT: '0',
      WORKERS: '1',
      JWT_SECRET: TEST_SECRET,
      DATA_DIR: dataDir,
      RTC_PORT_BASE: String(portBase),
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
      DEMO_CONSULT_ID: '',
      SCRYPT_COST: '1024',
      RECONNECT_GRACE_SECONDS: '1',
      ...(database ? { DATABASE_URL: database.url } : {}),
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
        user: (role: UserRole, name = `${role} ${++seq}`) =>
          gateway.auth.createUser(
            {
              role,
              name,
              email: `${name.replace(/\W+/g, '.').toLowerCase()}.${++seq}@test.local`,
              password: TEST_PASSWORD,
            },
            null,
            null,
          ),
        consult: async (host: User, specialists: User[] = [], fields: Partial<Consult> = {}) => {
          const now = Date.now();
          const id = fields.id ?? `consult-${++seq}-${now}`;
          await gateway.store.consults.insert(
            scheduledConsult(id, host.id, {
              specialistIds: specialists.map((s) => s.id),
              ...fields,
            }),
          );
          return (await gateway.consults.find(id))!;
        },
        grant: async (consultId: string, user: User) =>
          (await gateway.consults.mintOperatorGrant(consultId, user.id)).token,
        stop: async () => {
          await gateway.close();
          await database?.drop();
          fs.rmSync(dataDir, { recursive: true, force: true });
        },
      });
    } catch (err) {
      lastError = err;
      if (!/cannot listen/.test(String((err as Error).message))) break;
    }
  }
  await database?.drop();
  throw lastError;
}
