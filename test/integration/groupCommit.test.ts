/**
 * Group commit (SQLite): the writes of one event-loop turn share one COMMIT (one fsync), and
 * none is acknowledged before it is on disk. Then, on either store: what a join acknowledged
 * is in the record when the gateway stops right after it.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/database.js';
import { openStore } from '../../src/store/index.js';
import { sqlStore } from '../../src/store/sql/index.js';
import { SqliteSql } from '../../src/store/sqlite/SqliteSql.js';
import type { AuditEntry, Store } from '../../src/store/repositories.js';
import type { TestClient } from '../support/client.js';
import { joinAsHost } from '../support/consult.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { createTestDatabase, usePostgres, type TestDatabase } from '../support/postgres.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const entry = (action: string, id = randomUUID()): AuditEntry => ({
  id,
  at: Date.now(),
  action,
  actorId: null,
  actorLabel: null,
  sourceIp: null,
  objectType: null,
  objectId: null,
  outcome: 'success',
  details: null,
});

describe('SQLite group commit', () => {
  async function open(): Promise<{ store: Store; other: Database.Database }> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'group-commit-'));
    const file = path.join(dir, 'db.sqlite');
    const store = await openStore({ databasePath: file });
    // A second connection sees only what was committed.
    const other = new Database(file, { readonly: true });
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    cleanups.push(() => store.close());
    cleanups.push(() => {
      other.close();
    });
    return { store, other };
  }
  const committed = (other: Database.Database, ids: string[]) =>
    ids.filter((id) => other.prepare('SELECT 1 FROM audit_log WHERE id = ?').get(id)).length;

  it('acknowledges each write only once it is committed, the whole turn in one commit', async () => {
    const { store, other } = await open();
    const ids = Array.from({ length: 20 }, () => randomUUID());
    const seen: number[] = [];
    const writes = ids.map((id) =>
      store.audit.append(entry('test.write', id)).then(() => seen.push(committed(other, ids))),
    );
    // Written on this connection (its reads see them), not committed yet.
    expect((await store.audit.search({ action: 'test.write', limit: 50, offset: 0 })).total).toBe(
      20,
    );
    expect(committed(other, ids)).toBe(0);
    await Promise.all(writes);
    // Every acknowledgement came after the commit of all twenty: one commit.
    expect(seen).toEqual(ids.map(() => 20));
  });

  it('fails a bad write alone; a failed transaction is undone alone; the others land', async () => {
    const { store, other } = await open();
    const good = [randomUUID(), randomUUID(), randomUUID()];
    const taken = randomUUID();
    await store.audit.append(entry('test.first', taken));
    const results = await Promise.allSettled([
      store.audit.append(entry('test.good', good[0])),
      store.audit.append(entry('test.duplicate', taken)),
      store.transaction(async (tx) => {
        await tx.audit.append(entry('test.undone'));
        throw new Error('changed my mind');
      }),
      store.audit.append(entry('test.good', good[1])),
      store.transaction((tx) => tx.audit.append(entry('test.good', good[2]))),
    ]);
    expect(results.map((r) => r.status)).toEqual([
      'fulfilled',
      'rejected',
      'rejected',
      'fulfilled',
      'fulfilled',
    ]);
    expect(committed(other, good)).toBe(3);
    expect(
      other.prepare("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'test.undone'").get(),
    ).toEqual({ n: 0 });
  });

  it('acknowledges a committed write only once the WAL sync is done', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'group-commit-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'db.sqlite');
    const db = openDatabase(file);
    let release!: () => void;
    let syncs = 0;
    const sql = new SqliteSql(db, {
      durable: () => {
        syncs++;
        return new Promise<void>((resolve) => (release = resolve));
      },
    });
    const store = sqlStore(sql, async () => {
      await sql.settle();
      db.close();
    });
    cleanups.push(() => store.close());
    const other = new Database(file, { readonly: true });
    cleanups.push(() => {
      other.close();
    });
    const id = randomUUID();
    let acknowledged = false;
    const written = store.audit.append(entry('test.synced', id)).then(() => (acknowledged = true));
    // The batch commits when the turn ends; its sync is under way.
    await new Promise((resolve) => setImmediate(resolve));
    expect(committed(other, [id])).toBe(1);
    expect(syncs).toBe(1);
    expect(acknowledged).toBe(false);
    release();
    await written;
    expect(acknowledged).toBe(true);
  });

  it('commits the writes of the turn when the store closes', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'group-commit-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'db.sqlite');
    const store = await openStore({ databasePath: file });
    const id = randomUUID();
    const written = store.audit.append(entry('test.at-close', id));
    await store.close();
    await written;
    const db = new Database(file, { readonly: true });
    expect(db.prepare('SELECT action FROM audit_log WHERE id = ?').get(id)).toEqual({
      action: 'test.at-close',
    });
    db.close();
  });
});

describe('a gateway stopped right after a join', () => {
  it('keeps the join in the record: audit row, participation and joined event', async () => {
    const database: TestDatabase | undefined = usePostgres ? await createTestDatabase() : undefined;
    if (database) cleanups.push(() => database.drop());
    const gw: TestGateway = await startTestGateway(database ? { DATABASE_URL: database.url } : {});
    const clients: TestClient[] = [];
    cleanups.push(async () => {
      for (const c of clients) c.close();
      fs.rmSync(gw.dataDir, { recursive: true, force: true });
    });
    const host = await gw.user('doctor');
    const consult = await gw.consult(host);
    clients.push((await joinAsHost(gw, consult.id, await gw.grant(consult.id, host))).client);
    await gw.close();

    const store = await openStore({
      databasePath: gw.config.databasePath,
      databaseUrl: gw.config.databaseUrl,
    });
    try {
      const audit = await store.audit.search({
        action: 'consult.join',
        objectId: consult.id,
        limit: 10,
        offset: 0,
      });
      expect(audit.items.map((a) => a.actorId)).toEqual([host.id]);
      const [participation, ...more] = await store.records.participations(consult.id);
      expect(more).toEqual([]);
      expect(participation).toMatchObject({ participantId: host.id });
      const types = (await store.records.events(consult.id)).map((e) => e.type);
      expect(types).toContain('participant.joined');
    } finally {
      await store.close();
    }
  });
});
