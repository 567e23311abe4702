/** The built gateway (dist/main.js) as a separate process, so tests can kill it like a crash would. */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { mediaPortBase } from './ports.js';

const root = path.resolve(import.meta.dirname, '../..');

export interface GatewayProcess {
  url: string;
  child: ChildProcess;
  output(): string;
  /** SIGKILL: no shutdown code runs, as in a crash. */
  crash(): Promise<void>;
  stop(): Promise<number | null>;
}

export async function startGatewayProcess(env: Record<string, string>): Promise<GatewayProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce({ RTC_PORT_BASE: String(mediaPortBase()), ...env });
    } catch (err) {
      // Another test's gateway drew the same media port: draw again (unless the test chose it).
      const clash = /address already in use/.test((err as Error).message);
      if (!clash || env.RTC_PORT_BASE !== undefined || attempt >= 5) throw err;
    }
  }
}

async function startOnce(env: Record<string, string>): Promise<GatewayProcess> {
  const child = spawn(process.execPath, ['dist/main.js'], {
    cwd: root,
    env: {
      ...process.env,
      HOST: '127.0.0.1',
      PORT: '0',
      WORKERS: '1',
      LOG_LEVEL: 'warn',
      DEMO_CONSULT_ID: '',
      ...env,
    },
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  // The bound is the child's own progress (its "listening" line, or its exit); the deadline only
  // ends a hang. A fresh clone at load 20-30 took over 20 s to start one (node, the media
  // worker, the database), so it is 45 s.
  const deadline = Date.now() + 45_000;
  let match: RegExpMatchArray | null = null;
  while (!(match = out.match(/listening on (http\S+)/))) {
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`gateway did not start:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: match[1]!.replace('localhost', '127.0.0.1'),
    child,
    output: () => out,
    async crash() {
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      child.kill('SIGTERM');
      return exited;
    },
  };
}
