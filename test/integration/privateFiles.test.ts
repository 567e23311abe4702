/**
 * The data directory and every file in it are for the gateway's account only, and the logs carry
 * no secrets. A real gateway writes to a real SQLite file under the test's (usual 022) umask.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startGateway } from '../../src/gateway.js';
import { createLogger } from '../../src/logger.js';
import { startTestGateway, TEST_PASSWORD, type TestGateway } from '../support/gateway.js';
import { apiClient } from '../support/http.js';
import { mediaPortBase } from '../support/ports.js';

let gw: TestGateway | undefined;
const dirs: string[] = [];

afterEach(async () => {
  await gw?.stop();
  gw = undefined;
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const mode = (p: string) => `0${(fs.statSync(p).mode & 0o777).toString(8)}`;

/** Settings for a gateway that generates and keeps its own JWT secret in `dataDir`. */
const ownSecretEnv = (dataDir: string) => ({
  HOST: '127.0.0.1',
  PORT: '0',
  WORKERS: '1',
  DATA_DIR: dataDir,
  RTC_PORT_BASE: String(mediaPortBase()),
  DEMO_CONSULT_ID: '',
  SCRYPT_COST: '1024',
});

function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-private-'));
  dirs.push(d);
  return d;
}

/** Every line the logger wrote, parsed. */
function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l));
      done();
    },
  });
  return { lines, logger: createLogger('debug', 'test', stream) };
}

describe('private files', () => {
  it('creates the data directory 0700 and the database, -wal and -shm 0600 once written', async () => {
    const parent = tempDir();
    const dataDir = path.join(parent, 'data');
    // The SQLite files are what is checked here, whichever store the other tests use.
    gw = await startTestGateway({ DATA_DIR: dataDir, DATABASE_URL: '' });
    const doctor = await gw.user('doctor');
    const consult = await gw.consult(doctor);
    await gw.consults.end(consult.id, 'ended_by_host', { id: doctor.id }, null);

    expect(mode(dataDir)).toBe('0700');
    const db = path.join(dataDir, 'gateway.db');
    for (const f of [db, `${db}-wal`, `${db}-shm`]) expect(mode(f), f).toBe('0600');
  });

  it('tightens an existing world-readable directory and files at start, and logs it', async () => {
    const dataDir = path.join(tempDir(), 'data');
    const env = ownSecretEnv(dataDir);
    // A first run of the old code path: a generated secret and a database, then opened up.
    const first = await startGateway(loadConfig(env), createLogger('silent'));
    await first.auth.createUser(
      { email: 'a@test.local', name: 'A', role: 'admin', password: TEST_PASSWORD },
      null,
      null,
    );
    await first.close();
    const db = path.join(dataDir, 'gateway.db');
    const secret = path.join(dataDir, 'jwt-secret');
    fs.chmodSync(dataDir, 0o755);
    for (const f of [db, secret]) fs.chmodSync(f, 0o644);

    const { lines, logger } = capture();
    const second = await startGateway(loadConfig(env), logger);
    try {
      await second.auth.createUser(
        { email: 'b@test.local', name: 'B', role: 'doctor', password: TEST_PASSWORD },
        null,
        null,
      );
      expect(mode(dataDir)).toBe('0700');
      for (const f of [db, `${db}-wal`, `${db}-shm`, secret]) expect(mode(f), f).toBe('0600');
      const fixed = lines.filter((l) => /restricted it to this account/.test(String(l.msg)));
      expect(fixed.map((l) => [l.path, l.was, l.now]).sort()).toEqual(
        [
          [dataDir, '0755', '0700'],
          [db, '0644', '0600'],
          [secret, '0644', '0600'],
        ].sort(),
      );
    } finally {
      await second.close();
    }
  });
});

describe('logs', () => {
  it('never carry passwords, tokens or the signing secret', async () => {
    const { lines, logger } = capture();
    logger.info(
      {
        password: 'hunter2-password',
        body: { refreshToken: 'refresh-token-value', password: 'body-password' },
        req: { headers: { authorization: 'Bearer access-token-value' } },
        err: { config: { jwtSecret: 'the-signing-secret' } },
        entry: { details: { token: 'grant-token-value' } },
      },
      'something happened',
    );
    const text = JSON.stringify(lines);
    for (const secret of [
      'hunter2-password',
      'refresh-token-value',
      'body-password',
      'access-token-value',
      'the-signing-secret',
      'grant-token-value',
    ])
      expect(text).not.toContain(secret);
    expect(lines[0]).toMatchObject({ msg: 'something happened', password: '[redacted]' });
  });

  it('a real login, a failed login and token refresh log no secret at debug level', async () => {
    const { lines, logger } = capture();
    const dataDir = tempDir();
    const gateway = await startGateway(loadConfig(ownSecretEnv(dataDir)), logger);
    try {
      const user = await gateway.auth.createUser(
        { email: 'd@test.local', name: 'D', role: 'doctor', password: TEST_PASSWORD },
        null,
        null,
      );
      const api = apiClient(gateway.url);
      const login = await api.post('/auth/login', { email: user.email, password: TEST_PASSWORD });
      await api.post('/auth/login', { email: user.email, password: 'a wrong password!' });
      await api.post('/auth/refresh', { refreshToken: login.body.refreshToken });
      await api.post('/auth/refresh', { refreshToken: 'not-a-token' });
      const text = JSON.stringify(lines);
      const secret = fs.readFileSync(path.join(dataDir, 'jwt-secret'), 'utf8').trim();
      for (const s of [
        TEST_PASSWORD,
        'a wrong password!',
        login.body.accessToken,
        login.body.refreshToken,
        secret,
      ])
        expect(text).not.toContain(s);
    } finally {
      await gateway.close();
    }
  });
});
