/** The embedded default store: SQLite through better-sqlite3 (WAL, foreign keys, fsync on commit). */
import { openDatabase } from '../database.js';
import type { Store } from '../repositories.js';
import { sqlStore } from '../sql/index.js';
import { SqliteSql } from './SqliteSql.js';

export function createSqliteStore(file: string): Store {
  const db = openDatabase(file);
  return sqlStore(new SqliteSql(db), async () => {
    db.close();
  });
}
