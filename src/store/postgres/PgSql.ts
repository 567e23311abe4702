/**
 * The SQL executor over a pg Pool: each statement takes a pooled connection, a transaction
 * holds one connection from BEGIN to COMMIT. The shared SQL's `?` placeholders become $1, $2…
 */
import pg from 'pg';
import type { Sql } from '../sql/executor.js';

/** BIGINT (epoch milliseconds, counts) as a JS number, like SQLite gives: exact below 2^53. */
export const pgTypes = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === pg.types.builtins.INT8
      ? (v: string) => Number(v)
      : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

const numbered = new Map<string, string>();

/** Rewrites `?` placeholders as $n (the shared SQL has no `?` inside string literals). */
function toPg(sql: string): string {
  let text = numbered.get(sql);
  if (text === undefined) {
    let n = 0;
    text = sql.replace(/\?/g, () => `$${++n}`);
    if (numbered.size > 2000) numbered.clear();
    numbered.set(sql, text);
  }
  return text;
}

type Queryable = pg.Pool | pg.PoolClient;

export class PgSql implements Sql {
  #savepoints = 0;

  constructor(
    private readonly db: Queryable,
    private readonly inTx = false,
  ) {}

  async all<T>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    const res = await this.db.query(toPg(sql), params as unknown[]);
    return res.rows as T[];
  }

  async get<T>(sql: string, params: readonly unknown[] = []): Promise<T | undefined> {
    return (await this.all<T>(sql, params))[0];
  }

  async run(sql: string, params: readonly unknown[] = []): Promise<number> {
    const res = await this.db.query(toPg(sql), params as unknown[]);
    return res.rowCount ?? 0;
  }

  async transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    if (this.inTx) return this.#savepoint(fn);
    const client = await (this.db as pg.Pool).connect();
    let broken = false;
    try {
      await client.query('BEGIN');
      try {
        const result = await fn(new PgSql(client, true));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {
          broken = true;
        });
        throw err;
      }
    } finally {
      client.release(broken);
    }
  }

  async #savepoint<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    const name = `sp${++this.#savepoints}`;
    await this.db.query(`SAVEPOINT ${name}`);
    try {
      const result = await fn(this);
      await this.db.query(`RELEASE SAVEPOINT ${name}`);
      return result;
    } catch (err) {
      await this.db.query(`ROLLBACK TO SAVEPOINT ${name}`);
      throw err;
    }
  }
}
