/**
 * The SQL executor over a pg Pool: each statement takes a pooled connection, a transaction
 * holds one connection from BEGIN to COMMIT. The shared SQL's `?` placeholders become $1, $2…
 */
import pg from 'pg';
import { GatewayError } from '../../errors.js';
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

/** Socket errors, and PostgreSQL's "shutting down", "starting up" and connection classes (57P0x, 08xxx). */
const CONNECTION_CODES =
  /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENOTFOUND|57P0[1-3]|08\w{3})$/;

/**
 * The database unreachable (restarting, network) becomes `unavailable` with what to do, so
 * callers answer 503 / an `unavailable` ack rather than `internal` or a misleading refusal.
 */
export function asUnavailable(err: unknown): unknown {
  const e = err as { code?: unknown; message?: unknown };
  const lost =
    (typeof e?.code === 'string' && CONNECTION_CODES.test(e.code)) ||
    (typeof e?.message === 'string' &&
      /^Connection terminated|connection timeout|Client has encountered a connection error/.test(
        e.message,
      ));
  if (!lost) return err;
  return new GatewayError(
    'unavailable',
    'the database is unreachable (restarting?); try again in a few seconds',
  );
}

export class PgSql implements Sql {
  #savepoints = 0;

  constructor(
    private readonly db: Queryable,
    private readonly inTx = false,
  ) {}

  async all<T>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    return (await this.#query(sql, params)).rows as T[];
  }

  async get<T>(sql: string, params: readonly unknown[] = []): Promise<T | undefined> {
    return (await this.all<T>(sql, params))[0];
  }

  async run(sql: string, params: readonly unknown[] = []): Promise<number> {
    return (await this.#query(sql, params)).rowCount ?? 0;
  }

  async #query(sql: string, params: readonly unknown[]): Promise<pg.QueryResult> {
    try {
      return await this.db.query(toPg(sql), params as unknown[]);
    } catch (err) {
      throw asUnavailable(err);
    }
  }

  async transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    if (this.inTx) return this.#savepoint(fn);
    const client = await (this.db as pg.Pool).connect().catch((err: unknown) => {
      throw asUnavailable(err);
    });
    let broken = false;
    // Checked out, the client has no pool listener: a server restart between two statements
    // would emit an unhandled 'error' and end the process. The next statement fails instead.
    const lost = () => {
      broken = true;
    };
    client.on('error', lost);
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
    } catch (err) {
      throw asUnavailable(err);
    } finally {
      client.off('error', lost);
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
