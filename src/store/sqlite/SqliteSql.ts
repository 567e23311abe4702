/**
 * The SQL executor over one better-sqlite3 connection. Statements run synchronously underneath;
 * while a transaction is open (it may await between statements), statements from outside it
 * wait for it to end, so nothing slips into another caller's transaction. Prepared statements
 * are cached per SQL string.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type Database from 'better-sqlite3';
import type { Db } from '../database.js';
import type { Sql } from '../sql/executor.js';

/** How many distinct SQL strings keep a prepared statement (queries with IN lists vary). */
const STATEMENT_CACHE_SIZE = 500;

interface Connection {
  db: Db;
  statements: Map<string, Database.Statement>;
  /** Settles when the open transaction ends; undefined when none is open. */
  open: Promise<void> | undefined;
  savepoints: number;
}

/** Which connection's transaction the current async call chain runs inside. */
const insideTransaction = new AsyncLocalStorage<Connection>();

export class SqliteSql implements Sql {
  readonly #conn: Connection;
  readonly #inTx: boolean;

  constructor(db: Db | Connection, inTx = false) {
    this.#conn =
      'prepare' in db ? { db, statements: new Map(), open: undefined, savepoints: 0 } : db;
    this.#inTx = inTx;
  }

  async all<T>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    if (!this.#inTx && this.#conn.open) await this.#waitForTransaction();
    return this.#statement(sql).all(...params) as T[];
  }

  async get<T>(sql: string, params: readonly unknown[] = []): Promise<T | undefined> {
    if (!this.#inTx && this.#conn.open) await this.#waitForTransaction();
    return this.#statement(sql).get(...params) as T | undefined;
  }

  async run(sql: string, params: readonly unknown[] = []): Promise<number> {
    if (!this.#inTx && this.#conn.open) await this.#waitForTransaction();
    return this.#statement(sql).run(...params).changes;
  }

  async transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    if (this.#inTx) return this.#savepoint(fn);
    while (this.#conn.open) await this.#waitForTransaction();
    const { db } = this.#conn;
    let ended!: () => void;
    this.#conn.open = new Promise((resolve) => (ended = resolve));
    try {
      db.exec('BEGIN IMMEDIATE');
      try {
        const tx = new SqliteSql(this.#conn, true);
        const result = await insideTransaction.run(this.#conn, () => fn(tx));
        db.exec('COMMIT');
        return result;
      } catch (err) {
        if (db.inTransaction) db.exec('ROLLBACK');
        throw err;
      }
    } finally {
      this.#conn.open = undefined;
      ended();
    }
  }

  async #savepoint<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    const name = `sp${++this.#conn.savepoints}`;
    const { db } = this.#conn;
    db.exec(`SAVEPOINT ${name}`);
    try {
      const result = await fn(this);
      db.exec(`RELEASE ${name}`);
      return result;
    } catch (err) {
      db.exec(`ROLLBACK TO ${name}`);
      db.exec(`RELEASE ${name}`);
      throw err;
    }
  }

  async #waitForTransaction(): Promise<void> {
    if (insideTransaction.getStore() === this.#conn) {
      // Waiting here would wait for ourselves: a store method was called instead of tx's.
      throw new Error(
        'inside store.transaction(), use the repositories it passes (tx), not the store',
      );
    }
    await this.#conn.open;
  }

  #statement(sql: string): Database.Statement {
    const cache = this.#conn.statements;
    let stmt = cache.get(sql);
    if (!stmt) {
      stmt = this.#conn.db.prepare(sql);
      if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value!);
      cache.set(sql, stmt);
    }
    return stmt;
  }
}
