/** `npm start` and `npm run token` as an operator runs them (the built dist/, real workers). */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyJoinToken } from '../../src/auth/tokens.js';
import { loadConfig } from '../../src/config.js';
import { createServices } from '../../src/gateway.js';
import { createLogger } from '../../src/logger.js';
import { mediaPortBase } from '../support/ports.js';

const root = path.resolve(import.meta.dirname, '../..');
const children: ReturnType<typeof spawn>[] = [];

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

function env(extra: Record<string, string>) {
  return {
    ...process.env,
    HOST: '127.0.0.1',
    PORT: '0',
    WORKERS: '1',
    LOG_LEVEL: 'warn',
    RTC_PORT_BASE: String(mediaPortBase()),
    ...extra,
  };
}

/**
 * The child's output once it matches `pattern`; fails when the child exits first. Start-up
 * hashes the demo passwords (scrypt at its production cost), which a loaded machine stretches
 * to many seconds: the bound is the child's own progress (or exit) and the test's timeout,
 * not a guess at how long hashing takes.
 */
function printed(child: ReturnType<typeof spawn>, pattern: RegExp, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const read = (d: Buffer) => {
      out += d;
      if (pattern.test(out)) resolve(out);
    };
    child.stdout!.on('data', read);
    child.stderr!.on('data', read);
    child.once('exit', (code) => reject(new Error(`${what} (exit code ${code}):\n${out}`)));
  });
}

const exitOf = (child: ReturnType<typeof spawn>) =>
  new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

/** What a stopped gateway left in its data directory: accounts, and whether the demo consult exists. */
async function storedDemo(dataDir: string) {
  const services = await createServices(
    loadConfig({ DATA_DIR: dataDir, SCRYPT_COST: '1024' }),
    createLogger('silent'),
  );
  try {
    return {
      users: await services.store.users.count(),
      demoConsult: (await services.consults.find('demo')) !== undefined,
    };
  } finally {
    await services.store.close();
  }
}

describe('npm start', () => {
  it('on an empty database prints demo credentials and doctor/specialist links, serves the client, stops cleanly', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-start-'));
    // What `npm start` runs, started directly so the test sees the gateway's own exit code.
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
    const [cmd, ...args] = (pkg.scripts.start as string).split(' ');
    const child = spawn(cmd!, args, { cwd: root, env: env({ DATA_DIR: dataDir }) });
    children.push(child);
    const out = await printed(child, /Specialist: \S+/, 'no links printed');
    // One demo account per role, with its password, printed on the first start only.
    for (const role of ['admin', 'doctor', 'specialist']) {
      expect(out).toMatch(new RegExp(`${role} +${role}@demo\\.local +password: \\S{12}`));
    }
    const doctorLink = out.match(/Doctor: +(\S+)/)![1]!;
    const specialistLink = out.match(/Specialist: +(\S+)/)![1]!;
    const secret = fs.readFileSync(path.join(dataDir, 'jwt-secret'), 'utf8').trim();
    const tokenOf = (link: string) => new URL(link).searchParams.get('token');
    expect(verifyJoinToken(secret, tokenOf(doctorLink))).toMatchObject({
      role: 'doctor',
      consultId: 'demo',
    });
    expect(verifyJoinToken(secret, tokenOf(specialistLink))).toMatchObject({
      role: 'specialist',
      consultId: 'demo',
    });

    const page = await fetch(doctorLink.replace('localhost', '127.0.0.1'));
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toMatch(/<script type="module"[^>]* src="\/assets\/[^"]+\.js"/);

    const exited = exitOf(child);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 90_000);

  it('outside demo mode creates no accounts and no links, and says how to create the first admin', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-start-'));
    // HOST is loopback in tests, so demo mode is turned off explicitly (as a LAN HOST does).
    const child = spawn('node', ['dist/main.js'], {
      cwd: root,
      env: env({ DATA_DIR: dataDir, DEMO: '0', DEMO_CONSULT_ID: 'demo' }),
    });
    children.push(child);
    const out = await printed(child, /then log in at/, 'no first-admin hint printed');
    expect(out).toContain('There are no accounts yet');
    expect(out).toContain('npm run user -- create --email');
    expect(out).toContain('--role admin');
    expect(out).not.toMatch(/password: \S|demo\.local|Doctor: |\?token=/);
    const exited = exitOf(child);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(await storedDemo(dataDir)).toEqual({ users: 0, demoConsult: false });
  }, 90_000);

  it('a SIGTERM while the demo is being seeded stops cleanly once the seeding is done: every demo account, nothing half-written', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-start-'));
    const child = spawn('node', ['dist/main.js'], { cwd: root, env: env({ DATA_DIR: dataDir }) });
    children.push(child);
    const exited = exitOf(child);
    // The listening line is printed just before the seeding starts (three scrypt hashes).
    await printed(child, /gateway listening on/, 'no listening line printed');
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(await storedDemo(dataDir)).toEqual({ users: 3, demoConsult: true });
  }, 90_000);

  it("without the right to raise the media workers' priority, says what to grant and starts with its workers at normal priority", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-start-'));
    // As root, setpriv drops CAP_SYS_NICE from the child (as a gateway run by an ordinary
    // user, or in a container without that capability, has it); otherwise the child has none.
    const asRoot = process.getuid?.() === 0;
    const [cmd, ...args] = asRoot
      ? ['setpriv', '--bounding-set=-sys_nice', '--inh-caps=-sys_nice', 'node', 'dist/main.js']
      : ['node', 'dist/main.js'];
    const child = spawn(cmd!, args, {
      cwd: root,
      env: env({ DATA_DIR: dataDir, DEMO: '0', WORKERS: '2' }),
    });
    children.push(child);
    const out = await printed(child, /gateway listening on/, 'the gateway did not start');
    expect(out).toContain("cannot set the media workers' priority to nice -10");
    expect(out).toContain('CAP_SYS_NICE');
    expect(out).toContain('WORKER_NICE=0');
    // Said once, not once per worker.
    expect(out.match(/cannot set the media workers' priority/g)).toHaveLength(1);
    const url = /gateway listening on (\S+)/.exec(out)![1]!;
    const health = (await (await fetch(`${url}/healthz`)).json()) as {
      status: string;
      workers: { nice: number | null }[];
    };
    expect(health.status).toBe('ok');
    expect(health.workers.map((w) => w.nice)).toEqual([null, null]);
    const exited = exitOf(child);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 90_000);

  it('refuses bad settings with one clear line per setting', () => {
    const res = spawnSync('node', ['dist/main.js'], {
      cwd: root,
      env: env({ PORT: 'http', WORKERS: 'many' }),
      encoding: 'utf8',
    });
    expect(res.status).toBe(2);
    expect(res.stderr).toContain('PORT: must be an integer between 0 and 65535 (got "http")');
    expect(res.stderr).toContain('WORKERS: must be an integer between 1 and 64 (got "many")');
    expect(res.stderr).not.toMatch(/at .*\.js:\d+/); // no stack trace
  });
});

// Each test runs `npm run` (npm, then tsx compiling the command) in a child: seconds on a quiet
// machine, but a loaded one stretched a single `npm run token` past the default 30 s, so these
// have the same 90 s as the start-up tests above.
describe('operator commands', () => {
  const secret = 'operator-secret-0123456789';

  it('npm run user creates an account from the shell (password on stdin) that can log in', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-user-'));
    const res = spawnSync(
      'npm',
      [
        'run',
        '--silent',
        'user',
        '--',
        'create',
        '--email',
        'Chief@Hospital.example',
        '--name',
        'Chief Admin',
        '--role',
        'admin',
      ],
      {
        cwd: root,
        env: env({ JWT_SECRET: secret, DATA_DIR: dataDir }),
        input: 'a long enough passphrase\n',
        encoding: 'utf8',
      },
    );
    expect(res.stderr).toBe('');
    expect(res.status).toBe(0);
    expect(res.stdout).toMatch(/created admin chief@hospital\.example/);
    const services = await createServices(
      loadConfig({ JWT_SECRET: secret, DATA_DIR: dataDir }),
      createLogger('silent'),
    );
    try {
      const session = await services.auth.login(
        'chief@hospital.example',
        'a long enough passphrase',
        '127.0.0.1',
      );
      expect(session.user.role).toBe('admin');
    } finally {
      await services.store.close();
    }
    const weak = spawnSync(
      'npm',
      [
        'run',
        '--silent',
        'user',
        '--',
        'create',
        '--email',
        'x@y.example',
        '--name',
        'X',
        '--role',
        'doctor',
      ],
      {
        cwd: root,
        env: env({ JWT_SECRET: secret, DATA_DIR: dataDir }),
        input: 'short\n',
        encoding: 'utf8',
      },
    );
    expect(weak.status).toBe(2);
    expect(weak.stderr).toContain('password: must be at least 12 characters');
  }, 90_000);

  it("npm run user passwd sets a new password from stdin and ends the user's sessions", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-passwd-'));
    const config = loadConfig({ JWT_SECRET: secret, DATA_DIR: dataDir, SCRYPT_COST: '1024' });
    let services = await createServices(config, createLogger('silent'));
    await services.auth.createUser(
      { email: 'dr.who@h.example', name: 'Dr. Who', role: 'doctor', password: 'old passphrase!' },
      null,
      null,
    );
    const session = await services.auth.login('dr.who@h.example', 'old passphrase!', '127.0.0.1');
    await services.store.close();
    const passwd = (email: string, input: string) =>
      spawnSync('npm', ['run', '--silent', 'user', '--', 'passwd', email], {
        cwd: root,
        env: env({ JWT_SECRET: secret, DATA_DIR: dataDir, SCRYPT_COST: '1024' }),
        input,
        encoding: 'utf8',
      });
    const weak = passwd('dr.who@h.example', 'short\n');
    expect(weak.status).toBe(2);
    expect(weak.stderr).toContain('password: must be at least 12 characters');
    const unknown = passwd('nobody@h.example', 'a long enough passphrase\n');
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toContain('no account with e-mail nobody@h.example');
    const missing = passwd('', '');
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('usage: npm run user');

    const res = passwd('Dr.Who@h.example', 'a new long passphrase\n');
    expect(res.stderr).toBe('');
    expect(res.status).toBe(0);
    expect(res.stdout).toMatch(/changed the password of dr\.who@h\.example/);
    services = await createServices(config, createLogger('silent'));
    try {
      await expect(
        services.auth.login('dr.who@h.example', 'old passphrase!', '127.0.0.1'),
      ).rejects.toMatchObject({ code: 'unauthorized' });
      await expect(
        services.auth.login('dr.who@h.example', 'a new long passphrase', '127.0.0.1'),
      ).resolves.toMatchObject({ user: { role: 'doctor' } });
      await expect(services.auth.refresh(session.refreshToken, '127.0.0.1')).rejects.toThrow(
        /invalid or expired refresh token/,
      );
      const audit = (
        await services.audit.search({
          action: 'user.password.reset',
          limit: 10,
          offset: 0,
        })
      ).items;
      expect(audit).toHaveLength(1);
      expect(audit[0]).toMatchObject({ actorLabel: 'operator (npm run user)' });
    } finally {
      await services.store.close();
    }
  }, 90_000);

  it('npm run token prints a grant for an existing consult and participant, signed with JWT_SECRET', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-token-'));
    const services = await createServices(
      loadConfig({ JWT_SECRET: secret, DATA_DIR: dataDir, SCRYPT_COST: '1024' }),
      createLogger('silent'),
    );
    const doctor = await services.auth.createUser(
      { email: 'ops@h.example', name: 'Dr. Ops', role: 'doctor', password: 'x'.repeat(12) },
      null,
      null,
    );
    const consult = await services.consults.create(
      { claims: { sub: doctor.id, role: 'doctor', name: doctor.name }, ip: null },
      {
        title: 'Ward round',
        patientRef: 'P-1',
        scheduledStart: Date.now(),
        scheduledEnd: Date.now() + 3600_000,
        hostId: doctor.id,
        specialistIds: [],
        guests: [],
      },
    );
    await services.store.close();
    const run = (...args: string[]) =>
      spawnSync('npm', ['run', '--silent', 'token', '--', ...args], {
        cwd: root,
        env: env({ JWT_SECRET: secret, DATA_DIR: dataDir }),
        encoding: 'utf8',
      });
    const res = run('--consult', consult.id, '--role', 'doctor', '--name', 'Dr. Ops');
    expect(res.stderr).toBe('');
    expect(res.status).toBe(0);
    expect(verifyJoinToken(secret, res.stdout.trim())).toMatchObject({
      consultId: consult.id,
      sub: doctor.id,
      role: 'doctor',
      grants: { admit: true, end: true },
    });
    const missing = run('--consult', 'no-such-consult', '--user', 'ops@h.example');
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('no consult no-such-consult');
  }, 90_000);

  it('npm run token explains a missing or wrong argument', () => {
    const res = spawnSync('npm', ['run', '--silent', 'token', '--', '--role', 'surgeon'], {
      cwd: root,
      env: env({ JWT_SECRET: secret }),
      encoding: 'utf8',
    });
    expect(res.status).toBe(2);
    expect(res.stderr).toContain('--consult');
    expect(res.stderr).toContain('--role');
    expect(res.stderr).toContain('usage: npm run token');
  }, 90_000);
});
