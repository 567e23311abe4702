/** `npm start` and `npm run token` as an operator runs them (the built dist/, real workers). */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyJoinToken } from '../../src/auth/tokens.js';

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
    RTC_PORT_BASE: String(20000 + Math.floor(Math.random() * 20000)),
    ...extra,
  };
}

describe('npm start', () => {
  it('serves the client, prints doctor and specialist links for the demo consult, and stops cleanly', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-start-'));
    // What `npm start` runs, started directly so the test sees the gateway's own exit code.
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
    const [cmd, ...args] = (pkg.scripts.start as string).split(' ');
    const child = spawn(cmd!, args, { cwd: root, env: env({ DATA_DIR: dataDir }) });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    const deadline = Date.now() + 20_000;
    while (!/Specialist: \S+/.test(out)) {
      if (Date.now() > deadline || child.exitCode !== null)
        throw new Error(`no links printed:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
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
    expect(await page.text()).toContain('data-testid');

    const exited = new Promise<number | null>((resolve) =>
      child.once('exit', (code) => resolve(code)),
    );
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

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

describe('npm run token', () => {
  it('prints a token signed with the configured JWT_SECRET', () => {
    const secret = 'operator-secret-0123456789';
    const res = spawnSync(
      'npm',
      [
        'run',
        '--silent',
        'token',
        '--',
        '--consult',
        'c-42',
        '--role',
        'doctor',
        '--name',
        'Dr. Ops',
      ],
      { cwd: root, env: env({ JWT_SECRET: secret }), encoding: 'utf8' },
    );
    expect(res.status).toBe(0);
    expect(verifyJoinToken(secret, res.stdout.trim())).toMatchObject({
      consultId: 'c-42',
      role: 'doctor',
      name: 'Dr. Ops',
    });
  });

  it('explains a missing or wrong argument', () => {
    const res = spawnSync('npm', ['run', '--silent', 'token', '--', '--role', 'surgeon'], {
      cwd: root,
      env: env({ JWT_SECRET: 'operator-secret-0123456789' }),
      encoding: 'utf8',
    });
    expect(res.status).toBe(2);
    expect(res.stderr).toContain('--consult');
    expect(res.stderr).toContain('--role');
    expect(res.stderr).toContain('usage: npm run token');
  });
});
