/** SessionRevocations over a real (in-memory) SQLite store with a fake clock. */
import { beforeEach, describe, expect, it } from 'vitest';
import { SessionRevocations, type Revocation } from '../../src/auth/SessionRevocations.js';
import { defaultGrants, type JoinClaims } from '../../src/auth/tokens.js';
import { migrate, openDatabase } from '../../src/store/database.js';
import { migrations } from '../../src/store/migrations.js';
import type { Store } from '../../src/store/repositories.js';
import { createSqliteStore } from '../../src/store/sqlite/index.js';

let store: Store;
let clock: number;
const now = () => clock;

async function addUser(id: string, disabled = false) {
  await store.users.create({
    id,
    email: `${id}@test.local`,
    name: id,
    role: 'doctor',
    disabled,
    passwordHash: 'x',
    createdAt: 0,
    updatedAt: 0,
  });
}

const access = (sub: string, tv?: number, sid?: string) => ({
  sub,
  role: 'doctor' as const,
  name: sub,
  tv,
  sid,
});
const join = (sub: string, extra: Partial<JoinClaims> = {}): JoinClaims => ({
  sub,
  name: sub,
  role: 'doctor',
  consultId: 'c1',
  grants: defaultGrants('doctor'),
  ...extra,
});

beforeEach(async () => {
  store = createSqliteStore(':memory:');
  clock = 1_000_000;
  await addUser('u1');
});

describe('SessionRevocations', () => {
  it('refuses tokens behind the user version; a bump from another process counts after the cache TTL', async () => {
    const s = new SessionRevocations(store, { familyMemoryMs: 60_000, cacheTtlMs: 5_000 }, now);
    await expect(s.assertAccess(access('u1'))).resolves.toBeUndefined();
    await store.users.bumpTokenVersion('u1', clock);
    // Cached: another process's bump is seen only when the entry is read again.
    clock += 4_999;
    await expect(s.assertAccess(access('u1', 0))).resolves.toBeUndefined();
    clock += 1;
    await expect(s.assertAccess(access('u1', 0))).rejects.toThrow(/ended/);
    await expect(s.assertAccess(access('u1', 1))).resolves.toBeUndefined();
    await expect(s.assertJoin(join('u1'))).rejects.toThrow(/revoked/);
    await expect(s.assertJoin(join('u1', { tv: 1 }))).resolves.toBeUndefined();
  });

  it('userRevoked drops the cached version at once and tells listeners', async () => {
    const s = new SessionRevocations(store, { familyMemoryMs: 60_000 }, now);
    const heard: Revocation[] = [];
    s.on('sessionsRevoked', (r) => heard.push(r));
    await s.assertAccess(access('u1', 0));
    await store.users.bumpTokenVersion('u1', clock);
    s.userRevoked('u1', 'disabled');
    await expect(s.assertAccess(access('u1', 0))).rejects.toThrow();
    expect(heard).toEqual([{ userId: 'u1', reason: 'disabled' }]);
  });

  it('refuses a revoked family until its tokens would have expired, and only that family', async () => {
    const s = new SessionRevocations(store, { familyMemoryMs: 60_000 }, now);
    s.familyRevoked('u1', 'fam-a', 'logout');
    await expect(s.assertAccess(access('u1', 0, 'fam-a'))).rejects.toThrow(/ended/);
    await expect(s.assertJoin(join('u1', { sid: 'fam-a' }))).rejects.toThrow(/revoked/);
    await expect(s.assertAccess(access('u1', 0, 'fam-b'))).resolves.toBeUndefined();
    clock += 60_000;
    await expect(s.assertAccess(access('u1', 0, 'fam-a'))).resolves.toBeUndefined();
  });

  it('leaves guests and unknown subjects to their own checks, and refuses disabled accounts', async () => {
    await addUser('off', true);
    const s = new SessionRevocations(store, { familyMemoryMs: 60_000 }, now);
    await store.users.bumpTokenVersion('u1', clock);
    await expect(s.assertJoin(join('u1', { inviteId: 'i1' }))).resolves.toBeUndefined();
    await expect(s.assertJoin(join('nobody'))).resolves.toBeUndefined();
    await expect(s.assertAccess(access('nobody'))).rejects.toThrow(/disabled/);
    await expect(s.assertAccess(access('off'))).rejects.toThrow(/disabled/);
  });

  it("judges a join by the caller's own read of the user, unless a revocation landed since it noted the epoch", async () => {
    const s = new SessionRevocations(store, { familyMemoryMs: 60_000 }, now);
    const reads = { n: 0 };
    const findById = store.users.findById.bind(store.users);
    store.users.findById = (id) => (reads.n++, findById(id));
    // The connect check read the user at version 0: no second read, and it is cached.
    const epoch = s.epoch;
    const read = (await store.users.findById('u1'))!;
    reads.n = 0;
    await expect(s.assertJoin(join('u1'), { user: read, epoch })).resolves.toBeUndefined();
    await expect(s.assertJoin(join('u1'))).resolves.toBeUndefined();
    expect(reads.n).toBe(0);
    // Revoked between that read and the check: the read may predate the bump, so it is read again.
    const before = s.epoch;
    const stale = (await store.users.findById('u1'))!;
    await store.users.bumpTokenVersion('u1', clock);
    s.userRevoked('u1', 'revoked');
    await expect(s.assertJoin(join('u1'), { user: stale, epoch: before })).rejects.toThrow(
      /revoked/,
    );
  });

  it('keeps at most cacheSize users and still answers for the ones it dropped', async () => {
    for (const id of ['u2', 'u3', 'u4']) await addUser(id);
    const s = new SessionRevocations(store, { familyMemoryMs: 60_000, cacheSize: 2 }, now);
    for (const id of ['u1', 'u2', 'u3', 'u4']) await s.assertAccess(access(id));
    await store.users.bumpTokenVersion('u1', clock);
    // u1 was dropped from the cache, so the bump is read at once.
    await expect(s.assertAccess(access('u1', 0))).rejects.toThrow();
  });
});

describe('migration 5', () => {
  it('starts accounts disabled before it at version 1, so their tokens without tv stay refused', async () => {
    const db = openDatabase(
      ':memory:',
      migrations.filter((m) => m.version < 5),
    );
    const insert = db.prepare(
      `INSERT INTO users (id, email, name, role, password_hash, disabled, created_at, updated_at)
       VALUES (?, ?, ?, 'doctor', 'x', ?, 0, 0)`,
    );
    insert.run('on', 'on@test.local', 'On', 0);
    insert.run('off', 'off@test.local', 'Off', 1);
    expect(migrate(db, migrations)).toContain(5);
    const versions = db.prepare('SELECT id, token_version AS v FROM users ORDER BY id').all();
    expect(versions).toEqual([
      { id: 'off', v: 1 },
      { id: 'on', v: 0 },
    ]);
    db.close();
  });
});
