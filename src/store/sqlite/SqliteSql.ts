/**
 * The SQL executor over one better-sqlite3 connection. Statements run synchronously underneath;
 * while a transaction is open (it may await between statements), statements from outside it
 * wait for it to end, so nothing slips into another caller's transaction. Prepared statements
 * are cached per SQL string.
 *
 * Group commit: writes and transactions run at once (later reads on the connection see them,
 * order is kept) inside one batch transaction that commits when the event loop's turn ends
 * (setImmediate): one fsync for every write of the turn instead of one each. A transaction is
 * a savepoint of the batch (undone alone when it fails). A write's or a transaction's promise
 * settles only after its batch is on disk: after COMMIT returned (synchronous = FULL), or, with
 * `durable` given, after it synced the WAL file off the main thread once COMMIT returned
 * (synchronous = NORMAL writes the WAL without fsync). Either way what a caller acknowledges
 * after awaiting a write is never lost; a failed COMMIT or sync fails every write of the
 * batch, none of which was acknowledged yet.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type Database from 'better-sqlite3';
import type { Db } from '../database.js';
import type { Sql } from '../sql/executor.js';

/** How many distinct SQL strings keep a prepared statement (queries with IN lists vary). */
const STATEMENT_CACHE_SIZE = 500;

/** A write (or transaction) that ran in the open batch, waiting for the batch's COMMIT. */
interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface Batch {
  waiters: Waiter[];
  /** The turn ended while a transaction was open: commit when it ends. */
  due: boolean;
}

interface Connection {
  db: Db;
  statements: Map<string, Database.Statement>;
  /** Settles when the open transaction ends; undefined when none is open. */
  open: Promise<void> | undefined;
  savepoints: number;
  /** The open group-commit batch (its BEGIN was run); undefined when none is open. */
  batch: Batch | undefined;
  /** Makes committed transactions durable (syncs the WAL); unset when COMMIT does it. */
  durable: (() => Promise<void>) | undefined;
  /** Syncs under way. */
  syncing: Set<Promise<void>>;
}

export interface SqliteSqlOptions {
  /**
   * Makes what was committed durable, called after each batch's COMMIT, its writes
   * acknowledged once it resolves (for synchronous = NORMAL in WAL mode: fdatasync the WAL).
   */
  durable?: () => Promise<void>;
}

/** Which connection's transaction the current async call chain runs inside. */
const insideTransaction = new AsyncLocalStorage<Connection>();

export class SqliteSql implements Sql {
  readonly #conn: Connection;
  readonly #inTx: boolean;

  constructor(db: Db | Connection, options: SqliteSqlOptions = {}, inTx = false) {
    this.#conn =
      'prepare' in db
        ? {
            db,
            statements: new Map(),
            open: undefined,
            savepoints: 0,
            batch: undefined,
            durable: options.durable,
            syncing: new Set(),
          }
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
    const stmt = this.#statement(sql);
    const batch = this.#batch();
    let changes: number;
    try {
      changes = stmt.run(...params).changes;
    } catch (err) {
      // A failed statement is undone alone (the batch goes on) unless it ended the whole
      // transaction (I/O error, disk full), which took the batch's other writes with it.
      this.#failedBatch(batch, err);
      throw err;
    }
    await this.#committed(batch);
    return changes;
  }

  async transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    if (this.#inTx) return this.#savepoint(fn);
    while (this.#conn.open) await this.#waitForTransaction();
    const conn = this.#conn;
    const { db } = conn;
    const batch = this.#batch();
    const name = `tx${++conn.savepoints}`;
    let ended!: () => void;
    conn.open = new Promise((resolve) => (ended = resolve));
    let result: T;
    let committed: Promise<void>;
    try {
      db.exec(`SAVEPOINT ${name}`);
      try {
        const tx = new SqliteSql(conn, {}, true);
        result = await insideTransaction.run(conn, () => fn(tx));
        db.exec(`RELEASE ${name}`);
      } catch (err) {
        if (db.inTransaction) {
          db.exec(`ROLLBACK TO ${name}`);
          db.exec(`RELEASE ${name}`);
        } else this.#failedBatch(batch, err);
        throw err;
      }
      committed = this.#committed(batch);
    } finally {
      conn.open = undefined;
      ended();
      if (batch.due) this.commitBatch();
    }
    await committed;
    return result;
  }

  /** Commits the open batch now (at the turn's end, a close); its writes' promises settle. */
  commitBatch(): void {
    const conn = this.#conn;
    const batch = conn.batch;
    if (!batch) return;
    if (conn.open) {
      batch.due = true;
      return;
    }
    conn.batch = undefined;
    try {
      conn.db.exec('COMMIT');
    } catch (err) {
      if (conn.db.inTransaction) conn.db.exec('ROLLBACK');
      for (const w of batch.waiters) w.reject(err);
      return;
    }
    const { durable } = conn;
    if (!durable || batch.waiters.length === 0) {
      for (const w of batch.waiters) w.resolve();
      return;
    }
    const sync = durable().then(
      () => batch.waiters.forEach((w) => w.resolve()),
      (err: unknown) => batch.waiters.forEach((w) => w.reject(err)),
    );
    conn.syncing.add(sync);
    void sync.finally(() => conn.syncing.delete(sync));
  }

  /** Commits the open batch and waits for every sync under way (before the database closes). */
  async settle(): Promise<void> {
    this.commitBatch();
    while (this.#conn.syncing.size) await Promise.all(this.#conn.syncing);
  }

  /** The open batch, begun (and its commit scheduled) when there is none. */
  #batch(): Batch {
    const conn = this.#conn;
    if (!conn.batch) {
      conn.db.exec('BEGIN IMMEDIATE');
      conn.batch = { waiters: [], due: false };
      setImmediate(() => this.commitBatch());
    }
    return conn.batch;
  }

  #committed(batch: Batch): Promise<void> {
    return new Promise((resolve, reject) => batch.waiters.push({ resolve, reject }));
  }

  /** After an error: if it ended the transaction, the batch's writes are gone and fail. */
  #failedBatch(batch: Batch, err: unknown): void {
    if (this.#conn.db.inTransaction) return;
    if (this.#conn.batch === batch) this.#conn.batch = undefined;
    for (const w of batch.waiters) w.reject(err);
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
