/**
 * The one thing a SQL backend supplies to the shared repositories: run a statement, and run
 * a group of statements as one transaction on one connection. SQL is written with `?`
 * placeholders; a backend that numbers them ($1, $2) rewrites it.
 */
export interface Sql {
  /** Every row the statement returns. */
  all<T>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /** The first row, or undefined. */
  get<T>(sql: string, params?: readonly unknown[]): Promise<T | undefined>;
  /** Runs a write; resolves to the number of rows it changed. */
  run(sql: string, params?: readonly unknown[]): Promise<number>;
  /**
   * Runs fn with an executor bound to one connection inside one transaction: every write
   * lands, or none do. Inside a transaction this nests (a savepoint).
   */
  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T>;
}

/**
 * Whether a statement failed on a unique constraint (SQLite's SQLITE_CONSTRAINT_UNIQUE or
 * PostgreSQL's 23505): the losing side of two concurrent inserts of the same key.
 */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return (
    code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ||
    code === '23505'
  );
}
