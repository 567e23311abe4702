import type { Db } from '../database.js';
import type {
  Page,
  User,
  UserFilter,
  UserRepository,
  UserRole,
  UserWithSecret,
} from '../repositories.js';

interface Row {
  id: string;
  email: string;
  name: string;
  role: UserRole;
  password_hash: string;
  disabled: number;
  token_version: number;
  created_at: number;
  updated_at: number;
}

const toUser = (r: Row): User => ({
  id: r.id,
  email: r.email,
  name: r.name,
  role: r.role,
  disabled: r.disabled === 1,
  tokenVersion: r.token_version,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export class SqliteUserRepository implements UserRepository {
  constructor(private readonly db: Db) {}

  create(u: Omit<UserWithSecret, 'tokenVersion'>): User {
    this.db
      .prepare(
        `INSERT INTO users (id, email, name, role, password_hash, disabled, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        u.id,
        u.email,
        u.name,
        u.role,
        u.passwordHash,
        u.disabled ? 1 : 0,
        u.createdAt,
        u.updatedAt,
      );
    return this.findById(u.id)!;
  }

  findById(id: string): User | undefined {
    const row = this.db.prepare('SELECT * FROM users WHERE id = ?').get(id) as Row | undefined;
    return row && toUser(row);
  }

  findByEmailWithSecret(email: string): UserWithSecret | undefined {
    const row = this.db.prepare('SELECT * FROM users WHERE email = ?').get(email) as
      Row | undefined;
    return row && { ...toUser(row), passwordHash: row.password_hash };
  }

  list({ role, roles, enabledOnly, limit, offset }: UserFilter): Page<User> {
    const conditions: string[] = [];
    const args: unknown[] = [];
    if (role) {
      conditions.push('role = ?');
      args.push(role);
    }
    if (roles) {
      conditions.push(`role IN (${roles.map(() => '?').join(', ') || 'NULL'})`);
      args.push(...roles);
    }
    if (enabledOnly) conditions.push('disabled = 0');
    const where = conditions.length ? `WHERE ${conditions.join(' AND ')}` : '';
    const rows = this.db
      .prepare(`SELECT * FROM users ${where} ORDER BY name, id LIMIT ? OFFSET ?`)
      .all(...args, limit, offset) as Row[];
    const { n } = this.db.prepare(`SELECT COUNT(*) AS n FROM users ${where}`).get(...args) as {
      n: number;
    };
    return { items: rows.map(toUser), total: n };
  }

  setDisabled(id: string, disabled: boolean, at: number): User | undefined {
    this.db
      .prepare('UPDATE users SET disabled = ?, updated_at = ? WHERE id = ?')
      .run(disabled ? 1 : 0, at, id);
    return this.findById(id);
  }

  setRole(id: string, role: UserRole, at: number): User | undefined {
    this.db.prepare('UPDATE users SET role = ?, updated_at = ? WHERE id = ?').run(role, at, id);
    return this.findById(id);
  }

  bumpTokenVersion(id: string, at: number): User | undefined {
    this.db
      .prepare('UPDATE users SET token_version = token_version + 1, updated_at = ? WHERE id = ?')
      .run(at, id);
    return this.findById(id);
  }

  setPasswordHash(id: string, passwordHash: string, at: number): User | undefined {
    this.db
      .prepare('UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?')
      .run(passwordHash, at, id);
    return this.findById(id);
  }

  count(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM users').get() as { n: number }).n;
  }
}
