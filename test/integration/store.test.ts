/**
 * The repositories on each backend: SQLite always, PostgreSQL too under TEST_DATABASE=postgres
 * (npm run test:postgres), each on a fresh database. Concurrency: read-modify-writes that were
 * atomic when the store was synchronous stay atomic when many run at once.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/audit/AuditLog.js';
import { AuthService } from '../../src/auth/AuthService.js';
import { ConsultService } from '../../src/consults/ConsultService.js';
import { createLogger } from '../../src/logger.js';
import { ConsultRecorder } from '../../src/clinicalRecord/ConsultRecorder.js';
import { openStore } from '../../src/store/index.js';
import type { Consult, Store, User } from '../../src/store/repositories.js';
import { createTestDatabase, usePostgres, type TestDatabase } from '../support/postgres.js';

const logger = createLogger('silent');
const backends = usePostgres ? (['sqlite', 'postgres'] as const) : (['sqlite'] as const);

describe.each(backends)('store on %s', (backend) => {
  let store: Store;
  let dir: string;
  let database: TestDatabase | undefined;
  let seq = 0;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'store-test-'));
    database = backend === 'postgres' ? await createTestDatabase() : undefined;
    store = await openStore({
      databasePath: path.join(dir, 'db.sqlite'),
      databaseUrl: database?.url,
    });
  });

  afterEach(async () => {
    await store.close();
    await database?.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Runs one raw statement on the backend itself, outside the repositories. */
  async function raw(sql: string): Promise<void> {
    if (database) {
      const c = new pg.Client({ connectionString: database.url });
      await c.connect();
      try {
        await c.query(sql);
      } finally {
        await c.end();
      }
    } else {
      const db = new Database(path.join(dir, 'db.sqlite'));
      try {
        db.prepare(sql).run();
      } finally {
        db.close();
      }
    }
  }

  const user = (role: User['role'] = 'doctor') => {
    const id = `u${++seq}`;
    return store.users.create({
      id,
      email: `${id}@test.local`,
      name: `User ${id}`,
      role,
      disabled: false,
      passwordHash: 'x',
      createdAt: 1,
      updatedAt: 1,
    });
  };

  /** The real authentication service on this store (a cheap scrypt cost). */
  const authService = () =>
    new AuthService(store, new AuditLog(store.audit, logger), {
      secret: 'test-secret-0123456789abcdef',
      accessTtlSeconds: 60,
      refreshTtlSeconds: 600,
      scryptCost: 1024,
      loginMaxFailuresPerAccount: 5,
      loginMaxFailuresPerIp: 50,
      loginAccountSlowdownFailures: 3,
      loginMaxConcurrentChecks: 4,
      loginWindowSeconds: 900,
    });

  const consult = async (host: User, fields: Partial<Consult> = {}): Promise<Consult> => {
    const c: Consult = {
      id: `c${++seq}`,
      title: 'T',
      patientRef: 'P',
      scheduledStart: 1_000,
      scheduledEnd: 2_000,
      hostId: host.id,
      specialistIds: [],
      guests: [
        { id: `g${seq}a`, name: 'First', email: null },
        { id: `g${seq}b`, name: 'Second', email: null },
      ],
      status: 'scheduled',
      createdBy: host.id,
      createdAt: 1,
      updatedAt: 1,
      startedAt: null,
      endedAt: null,
      endReason: null,
      ...fields,
    };
    await store.consults.insert(c);
    return (await store.consults.findById(c.id))!;
  };

  it('round-trips users and consults with big epoch-millisecond times and keeps guest order', async () => {
    const host = await user();
    const specialist = await user('specialist');
    const at = Date.UTC(2030, 0, 1);
    const c = await consult(host, {
      specialistIds: [specialist.id],
      scheduledStart: at,
      scheduledEnd: at + 1,
    });
    expect(c.scheduledStart).toBe(at);
    expect(c.guests.map((g) => g.name)).toEqual(['First', 'Second']);
    expect(c.specialistIds).toEqual([specialist.id]);
    expect((await store.users.findByEmailWithSecret(host.email))?.id).toBe(host.id);
    expect(await store.users.count()).toBe(2);
    const page = await store.consults.list({ participantId: specialist.id, limit: 10, offset: 0 });
    expect(page).toMatchObject({ total: 1, items: [{ id: c.id }] });
  });

  it('rolls back every write of a failed transaction, and nests with savepoints', async () => {
    const host = await user();
    await expect(
      store.transaction(async (tx) => {
        await tx.users.setRole(host.id, 'admin', 2);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect((await store.users.findById(host.id))?.role).toBe('doctor');
    // A failed inner part (a savepoint) is undone; the rest of the transaction commits.
    const c = await consult(host);
    await store.transaction(async (tx) => {
      await tx.users.setRole(host.id, 'admin', 2);
      await expect(tx.consults.update(c.id, { scheduledEnd: 0 }, 3)).rejects.toThrow();
    });
    expect((await store.users.findById(host.id))?.role).toBe('admin');
    expect((await store.consults.findById(c.id))?.scheduledEnd).toBe(2_000);
  });

  it('keeps statements from outside an open transaction out of it', async () => {
    const host = await user();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const tx = store
      .transaction(async (t) => {
        await t.users.setRole(host.id, 'admin', 2);
        await held;
        throw new Error('rolled back');
      })
      .catch(() => undefined);
    // Written while the transaction is open, by someone else: it must survive the rollback.
    const outside = store.users.setDisabled(host.id, true, 3);
    release();
    await tx;
    await outside;
    expect(await store.users.findById(host.id)).toMatchObject({ role: 'doctor', disabled: true });
  });

  it('counts concurrent redemptions of an invite exactly up to its limit', async () => {
    const host = await user();
    const c = await consult(host);
    await store.invites.insert({
      id: 'inv',
      consultId: c.id,
      guestName: 'G',
      email: null,
      createdBy: host.id,
      createdAt: 1,
      expiresAt: Number.MAX_SAFE_INTEGER,
      revokedAt: null,
      firstUsedAt: null,
      maxUses: 3,
      uses: 0,
    });
    const results = await Promise.all(
      Array.from({ length: 20 }, () => store.invites.redeem('inv', 5)),
    );
    expect(results.filter(Boolean)).toHaveLength(3);
    expect((await store.invites.findById('inv'))?.uses).toBe(3);
  });

  it('caps a consult chat exactly under concurrent posts', async () => {
    const host = await user();
    const c = await consult(host);
    const stored = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        store.records.appendChat(
          {
            id: `m${i}`,
            consultId: c.id,
            at: i,
            senderId: host.id,
            senderName: 'H',
            senderRole: 'doctor',
            text: 'x',
          },
          5,
        ),
      ),
    );
    expect(stored.filter(Boolean)).toHaveLength(5);
    expect(await store.records.chatCount(c.id)).toBe(5);
  });

  it('rotates a refresh token once when it is presented twice at the same time', async () => {
    const auth = authService();
    await auth.createUser(
      { email: 'dr@test.local', name: 'Dr', role: 'doctor', password: 'a long passphrase' },
      null,
      null,
    );
    const session = await auth.login('dr@test.local', 'a long passphrase', '127.0.0.1');
    const outcomes = await Promise.allSettled(
      Array.from({ length: 8 }, () => auth.refresh(session.refreshToken, '127.0.0.1')),
    );
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
  });

  it('creates one account when the same e-mail is added several times at once', async () => {
    const auth = authService();
    const outcomes = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) =>
        auth.createUser(
          {
            email: 'Same@test.local',
            name: `Dr ${i}`,
            role: 'doctor',
            password: 'a long passphrase',
          },
          null,
          null,
        ),
      ),
    );
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    for (const o of outcomes) {
      if (o.status === 'rejected') expect(o.reason).toMatchObject({ code: 'conflict' });
    }
    expect(await store.users.count()).toBe(1);
  });

  it('refuses to change or delete audit rows in the database itself', async () => {
    await store.audit.append({
      id: 'a1',
      at: 1,
      action: 'auth.login',
      actorId: null,
      actorLabel: null,
      sourceIp: null,
      objectType: null,
      objectId: null,
      outcome: 'success',
      details: { k: 1 },
    });
    await expect(raw("UPDATE audit_log SET action = 'x'")).rejects.toThrow(/append-only/);
    await expect(raw('DELETE FROM audit_log')).rejects.toThrow(/append-only/);
    expect((await store.audit.search({ limit: 10, offset: 0 })).items).toMatchObject([
      { id: 'a1', action: 'auth.login', details: { k: 1 } },
    ]);
  });

  it('a starting node interrupts only the live consults it hosted', async () => {
    const host = await user();
    const settings = { secret: 's', lobbyOpenMinutes: 10, inviteTtlHours: 1, joinTtlSeconds: 60 };
    const audit = new AuditLog(store.audit, logger);
    const nodeA = new ConsultService(store, audit, { ...settings, nodeId: 'node-a' });
    const nodeB = new ConsultService(store, audit, { ...settings, nodeId: 'node-b' });
    const onA = await consult(host, { scheduledEnd: Number.MAX_SAFE_INTEGER });
    const onB = await consult(host, { scheduledEnd: Number.MAX_SAFE_INTEGER });
    expect((await nodeA.markLive(onA.id))?.nodeId).toBe('node-a');
    expect((await nodeB.markLive(onB.id))?.nodeId).toBe('node-b');
    const recovered = await new ConsultRecorder(store, logger).recoverInterrupted(nodeA);
    expect(recovered).toEqual([onA.id]);
    expect(await store.consults.findById(onA.id)).toMatchObject({
      status: 'ended',
      endReason: 'interrupted',
    });
    expect(await store.consults.findById(onB.id)).toMatchObject({
      status: 'live',
      nodeId: 'node-b',
    });
  });
});
