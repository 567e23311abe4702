/** The embedded default store: SQLite through better-sqlite3. */
import { openDatabase } from '../database.js';
import type { Store } from '../repositories.js';
import { SqliteAuditRepository } from './audit.js';
import { SqliteConsultRepository } from './consults.js';
import { SqliteInviteRepository } from './invites.js';
import { SqliteRecordRepository } from './records.js';
import { SqliteRefreshTokenRepository } from './refreshTokens.js';
import { SqliteUserRepository } from './users.js';

export function createSqliteStore(file: string): Store {
  const db = openDatabase(file);
  return {
    users: new SqliteUserRepository(db),
    refreshTokens: new SqliteRefreshTokenRepository(db),
    consults: new SqliteConsultRepository(db),
    invites: new SqliteInviteRepository(db),
    audit: new SqliteAuditRepository(db),
    records: new SqliteRecordRepository(db),
    transaction: (fn) => db.transaction(fn)(),
    close: () => db.close(),
  };
}
