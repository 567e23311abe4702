/** The embedded default store: SQLite through better-sqlite3 (WAL, foreign keys, fsync on commit). */
import { openDatabase } from '../database.js';
import type { Store } from '../repositories.js';
import { sqlStore } from '../sql/index.js';
import { SqliteSql } from './SqliteSql.js';

export function createSqliteStore(file: string): Store {
  const db = openDatabase(file);
  const sql = new SqliteSql(db);
  return sqlStore(sql, async () => {
    // Writes of this event-loop turn are committed, not dropped with the connection.
    sql.commitBatch();
    db.close();
  });
}
