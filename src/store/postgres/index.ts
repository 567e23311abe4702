/** The network store: PostgreSQL through a pg connection pool (selected by DATABASE_URL). */
import pg from 'pg';
import type { Store } from '../repositories.js';
import { sqlStore } from '../sql/index.js';
import { migratePostgres } from './migrate.js';
import { PgSql, pgTypes } from './PgSql.js';

export interface PostgresOptions {
  /** Most connections this process holds open at once. */
  poolSize?: number;
}

/** Connects, applies pending migrations, and returns the store. */
export async function createPostgresStore(url: string, opts: PostgresOptions = {}): Promise<Store> {
  const pool = new pg.Pool({ connectionString: url, max: opts.poolSize ?? 10, types: pgTypes });
  // An idle connection that breaks (server restart) is dropped and replaced, not fatal.
  pool.on('error', () => undefined);
  try {
    await migratePostgres(pool);
  } catch (err) {
    await pool.end();
    throw err;
  }
  return sqlStore(new PgSql(pool), () => pool.end());
}
