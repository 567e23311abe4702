/** Opens the configured store: PostgreSQL when DATABASE_URL is set, else SQLite at DATABASE_PATH. */
import type { Store } from './repositories.js';
import { createSqliteStore } from './sqlite/index.js';

export interface StoreSettings {
  databasePath: string;
  databaseUrl?: string;
}

export async function openStore(settings: StoreSettings): Promise<Store> {
  return createSqliteStore(settings.databasePath);
}
