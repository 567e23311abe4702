/** Opens the configured store: PostgreSQL when DATABASE_URL is set, else SQLite at DATABASE_PATH. */
import { createPostgresStore } from './postgres/index.js';
import type { Store } from './repositories.js';
import { createSqliteStore } from './sqlite/index.js';

export interface StoreSettings {
  databasePath: string;
  /** postgres://… selects PostgreSQL. */
  databaseUrl?: string;
}

export async function openStore(settings: StoreSettings): Promise<Store> {
  if (settings.databaseUrl) return createPostgresStore(settings.databaseUrl);
  return createSqliteStore(settings.databasePath);
}
