/**
 * The SQL executor over one better-sqlite3 connection. Statements run synchronously underneath;
 * while a transaction is open (it may await between statements), statements from outside it
 * wait for it to end, so nothing slips into another caller's transaction. Prepared statements
 * are cached per SQL string.
 *
 * Group commit: a write outside a transaction runs at once (later reads on the connection see
 * it, order is kept) inside a batch transaction that commits when the event loop's current
 * turn ends (setImmediate), one fsync for every write of the turn instead of one each. A
 * write's promise settles only after its batch's COMMIT returned (synchronous = FULL: on disk),
 * so what a caller acknowledges after awaiting it is never lost; a failed batch rejects all of
 * its writes, none of which was acknowledged yet.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type Database from 'better-sqlite3';
import type { Db } from '../database.js';
import type { Sql } from '../sql/executor.js';

/** How many distinct SQL strings keep a prepared statement (queries with IN lists vary). */
const STATEMENT_CACHE_SIZE = 500;

/** A write that ran in the open batch, waiting for the batch's COMMIT. */
interface BatchedWrite {
  changes: number;
  resolve: (changes: number) => void;
  reject: (err: unknown) => void;
}

interface Connection {
  db: Db;
  statements: Map<string, Database.Statement>;
  /** Settles when the open transaction ends; undefined when none is open. */
  open: Promise<void> | undefined;
  savepoints: number;
  /** Writes of the open group-commit batch (its BEGIN was run); undefined when none is open. */
  batch: BatchedWrite[] | undefined;
}

/** Which connection's transaction the current async call chain runs inside. */
const insideTransaction = new AsyncLocalStorage<Connection>();

export class SqliteSql implements Sql {
  readonly #conn: Connection;
  readonly #inTx: boolean;

  constructor(db: Db | Connection, inTx = false) {
    this.#conn =
      'prepare' in db
        ? { db, statements: new Map(), open: undefined, savepoints: 0, batch: undefined }
        : db;
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
    if (this.#inTx) return this.#statement(sql).run(...params).changes;
    while (this.#conn.open) await this.#waitForTransaction();
    return this.#batched(this.#statement(sql), params);
  }

  /** Commits the open batch now (before a transaction, a close); its writes' promises settle. */
  commitBatch(): void {
    const conn = this.#conn;
    const batch = conn.batch;
    if (!batch) return;
    conn.batch = undefined;
    try {
      conn.db.exec('COMMIT');
    } catch (err) {
      if (conn.db.inTransaction) conn.db.exec('ROLLBACK');
      for (const w of batch) w.reject(err);
      return;
    }
    for (const w of batch) w.resolve(w.changes);
  }

  /** Runs the write inside the open batch (opening one); settles once the batch commits. */
  #batched(stmt: Database.Statement, params: readonly unknown[]): Promise<number> {
    const conn = this.#conn;
    if (!conn.batch) {
      conn.db.exec('BEGIN IMMEDIATE');
      conn.batch = [];
      setImmediate(() => this.commitBatch());
    }
    const batch = conn.batch;
    let changes: number;
    try {
      changes = stmt.run(...params).changes;
    } catch (err) {
      // A failed statement is undone alone; an error that ended the whole transaction
      // (I/O, disk full) took the batch's earlier writes with it: they fail too.
      if (!conn.db.inTransaction) {
        conn.batch = undefined;
        for (const w of batch) w.reject(err);
      }
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => batch.push({ changes, resolve, reject }));
  }

  async transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    if (this.#inTx) return this.#savepoint(fn);
    while (this.#conn.open) await this.#waitForTransaction();
    this.commitBatch();
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
