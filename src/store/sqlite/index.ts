/** The embedded default store: SQLite through better-sqlite3 (WAL, foreign keys, synced before acknowledged). */
import fs from 'node:fs';
import { openDatabase } from '../database.js';
import type { Store } from '../repositories.js';
import { sqlStore } from '../sql/index.js';
import { SqliteSql } from './SqliteSql.js';

export function createSqliteStore(file: string): Store {
  const db = openDatabase(file);
  const wal =
    file !== ':memory:' && db.pragma('journal_mode', { simple: true }) === 'wal'
      ? walSyncer(`${file}-wal`)
      : undefined;
  // Committed batches are made durable by syncing the WAL in the thread pool before their
  // writes are acknowledged (see SqliteSql), not by an fsync that blocks the event loop.
  if (wal) db.pragma('synchronous = NORMAL');
  const sql = new SqliteSql(db, wal ? { durable: () => wal.sync() } : {});
  return sqlStore(sql, async () => {
    // Writes of this event-loop turn are committed and synced, not dropped with the connection.
    await sql.settle();
    await wal?.close();
    db.close();
  });
}

/**
 * fdatasync of the WAL file in libuv's thread pool, one at a time: commits made while a sync
 * runs share the next one. The file stays open: SQLite keeps the same WAL file (rewinding it
 * after checkpoints) while the connection is open.
 */
function walSyncer(file: string) {
  let handle: Promise<fs.promises.FileHandle> | undefined;
  let running: Promise<void> | undefined;
  let next: Promise<void> | undefined;
  const once = async () => {
    handle ??= fs.promises.open(file, 'r+');
    try {
      await (await handle).datasync();
    } catch (err) {
      // Opened anew next time; this one is let go, not leaked.
      const failed = handle;
      handle = undefined;
      await (await failed.catch(() => undefined))?.close().catch(() => undefined);
      throw err;
    }
  };
  const sync = (): Promise<void> => {
    if (!running) {
      running = once().finally(() => (running = undefined));
      return running;
    }
    // The sync under way may have started before this commit: the next one covers it.
    next ??= running
      .catch(() => undefined)
      .then(() => {
        next = undefined;
        return sync();
      });
    return next;
  };
  return {
    sync,
    async close(): Promise<void> {
      await next?.catch(() => undefined);
      await running?.catch(() => undefined);
      await (await handle?.catch(() => undefined))?.close();
    },
  };
}
