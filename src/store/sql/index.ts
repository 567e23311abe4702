/** The repositories written once in SQL that SQLite and PostgreSQL both run. */
import type { Repositories, Store } from '../repositories.js';
import { SqlAuditRepository } from './audit.js';
import { SqlConsultRepository } from './consults.js';
import type { Sql } from './executor.js';
import { SqlInviteRepository } from './invites.js';
import { SqlRecordRepository } from './records.js';
import { SqlRefreshTokenRepository } from './refreshTokens.js';
import { SqlUserRepository } from './users.js';

export type { Sql } from './executor.js';

/** Every repository over one executor (the pool, or one transaction's connection). */
export function sqlRepositories(sql: Sql): Repositories {
  return {
    users: new SqlUserRepository(sql),
    refreshTokens: new SqlRefreshTokenRepository(sql),
    consults: new SqlConsultRepository(sql),
    invites: new SqlInviteRepository(sql),
    audit: new SqlAuditRepository(sql),
    records: new SqlRecordRepository(sql),
  };
}

/** A Store over an executor; `close` releases the backend's connections. */
export function sqlStore(sql: Sql, close: () => Promise<void>): Store {
  return {
    ...sqlRepositories(sql),
    transaction: (fn) => sql.transaction((tx) => fn(sqlRepositories(tx))),
    close,
  };
}
