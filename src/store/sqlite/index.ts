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
      ? `${file}-wal`
      : undefined;
  // Committed batches are made durable by syncing the WAL in the thread pool before their
  // writes are acknowledged (see SqliteSql), not by an fsync that blocks the event loop.
  if (wal) db.pragma('synchronous = NORMAL');
  const sql = new SqliteSql(db, wal ? { durable: () => syncFile(wal) } : {});
  return sqlStore(sql, async () => {
    // Writes of this event-loop turn are committed and synced, not dropped with the connection.
    await sql.settle();
    db.close();
  });
}

/** fdatasync of a file, in libuv's thread pool. */
async function syncFile(file: string): Promise<void> {
  const handle = await fs.promises.open(file, 'r+');
  try {
    await handle.datasync();
  } finally {
    await handle.close();
  }
}
