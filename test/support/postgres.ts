/**
 * Throw-away PostgreSQL databases for tests: one per test file (or gateway), dropped after.
 * The server and role come from TEST_POSTGRES_URL (default: the role scripts/setup.sh --test
 * creates on the local server).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const TEST_POSTGRES_URL =
  process.env.TEST_POSTGRES_URL ?? 'postgres://telemed_test:telemed_test@127.0.0.1:5432/postgres';

/** True when the tests should use PostgreSQL (npm run test:postgres sets it). */
export const usePostgres = process.env.TEST_DATABASE === 'postgres';

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/** Creates an empty database on the test server; `drop()` removes it (and its connections). */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `telemed_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: TEST_POSTGRES_URL });
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(
      `cannot reach the test PostgreSQL at ${TEST_POSTGRES_URL.replace(/:[^:@/]*@/, ':***@')}: run scripts/setup.sh --test (as root), or set TEST_POSTGRES_URL`,
      { cause: err },
    );
  }
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(TEST_POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      // Autovacuum may still hold the new database a moment: retry, and never fail a test over it.
      for (let attempt = 0; attempt < 20; attempt++) {
        const c = new pg.Client({ connectionString: TEST_POSTGRES_URL });
        try {
          await c.connect();
          await c.query(`DROP DATABASE IF EXISTS ${name}`);
          return;
        } catch {
          await new Promise((r) => setTimeout(r, 250));
        } finally {
          await c.end().catch(() => undefined);
        }
      }
      console.warn(`could not drop the test database ${name}; drop it by hand`);
    },
  };
}
