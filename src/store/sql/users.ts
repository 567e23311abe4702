import type {
  Page,
  User,
  UserFilter,
  UserRepository,
  UserRole,
  UserWithSecret,
} from '../repositories.js';
import { GatewayError } from '../../errors.js';
import { isUniqueViolation, type Sql } from './executor.js';

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

export class SqlUserRepository implements UserRepository {
  constructor(private readonly db: Sql) {}

  /** Inserts a user; `conflict` when the e-mail is taken (also by an insert racing this one). */
  async create(u: Omit<UserWithSecret, 'tokenVersion'>): Promise<User> {
    try {
      await this.db.run(
        `INSERT INTO users (id, email, name, role, password_hash, disabled, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          u.id,
          u.email,
          u.name,
          u.role,
          u.passwordHash,
          u.disabled ? 1 : 0,
          u.createdAt,
          u.updatedAt,
        ],
      );
    } catch (err) {
      if (isUniqueViolation(err)) {
        throw new GatewayError('conflict', `a user with e-mail ${u.email} already exists`);
      }
      throw err;
    }
    return (await this.findById(u.id))!;
  }

  async findById(id: string): Promise<User | undefined> {
    const row = await this.db.get<Row>('SELECT * FROM users WHERE id = ?', [id]);
    return row && toUser(row);
  }

  async findByEmailWithSecret(email: string): Promise<UserWithSecret | undefined> {
    const row = await this.db.get<Row>('SELECT * FROM users WHERE email = ?', [email]);
    return row && { ...toUser(row), passwordHash: row.password_hash };
  }

  async list({ role, roles, enabledOnly, limit, offset }: UserFilter): Promise<Page<User>> {
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
    const rows = await this.db.all<Row>(
      `SELECT * FROM users ${where} ORDER BY name, id LIMIT ? OFFSET ?`,
      [...args, limit, offset],
    );
    const { n } = (await this.db.get<{ n: number }>(
      `SELECT COUNT(*) AS n FROM users ${where}`,
      args,
    ))!;
    return { items: rows.map(toUser), total: n };
  }

  async setDisabled(id: string, disabled: boolean, at: number): Promise<User | undefined> {
    await this.db.run('UPDATE users SET disabled = ?, updated_at = ? WHERE id = ?', [
      disabled ? 1 : 0,
      at,
      id,
    ]);
    return this.findById(id);
  }

  async setRole(id: string, role: UserRole, at: number): Promise<User | undefined> {
    await this.db.run('UPDATE users SET role = ?, updated_at = ? WHERE id = ?', [role, at, id]);
    return this.findById(id);
  }

  async bumpTokenVersion(id: string, at: number): Promise<User | undefined> {
    await this.db.run(
      'UPDATE users SET token_version = token_version + 1, updated_at = ? WHERE id = ?',
      [at, id],
    );
    return this.findById(id);
  }

  async setPasswordHash(id: string, passwordHash: string, at: number): Promise<User | undefined> {
    await this.db.run('UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?', [
      passwordHash,
      at,
      id,
    ]);
    return this.findById(id);
  }

  async count(): Promise<number> {
    return (await this.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM users'))!.n;
  }
}
