/**
 * Load generators run in child processes, so their CPU never counts as the gateway's and
 * the gateway's event loop never delays their clocks. This is the tiny RPC between the
 * bench (parent) and such an agent (child) over Node's IPC channel.
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';

type Handler = (args: never) => unknown;

interface Request {
  id: number;
  method: string;
  args: unknown;
}
type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

export const BENCH_ROOT = path.resolve(import.meta.dirname, '..', '..');

/** Parent side: a forked agent script and promise-returning calls into it. */
export class Agent {
  #nextId = 1;
  readonly #pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void }
  >();
  #exited = false;

  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    child.on('message', (msg: Reply) => {
      const p = this.#pending.get(msg.id);
      if (!p) return;
      this.#pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new Error(`${name}: ${msg.error}`));
    });
    child.on('exit', (code, signal) => {
      this.#exited = true;
      for (const p of this.#pending.values()) {
        p.reject(new Error(`${name} agent exited (${signal ?? code})`));
      }
      this.#pending.clear();
    });
  }

  /** Forks bench/agents/<name>.ts and waits until it says it is ready. */
  static async start(name: string, maxLifetimeMs = 15 * 60_000): Promise<Agent> {
    const script = path.join(BENCH_ROOT, 'bench', 'agents', `${name}.ts`);
    const child = fork(script, [], {
      cwd: BENCH_ROOT,
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, BENCH_AGENT_LIFETIME_MS: String(maxLifetimeMs) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const agent = new Agent(name, child);
    await new Promise<void>((resolve, reject) => {
      const onMessage = (msg: unknown) => {
        if (msg === 'ready') {
          child.off('message', onMessage);
          resolve();
        }
      };
      child.on('message', onMessage);
      child.once('exit', (code) => reject(new Error(`${name} agent exited at start (${code})`)));
    });
    return agent;
  }

  get pid(): number {
    return this.child.pid!;
  }

  call<T>(method: string, args: unknown = {}): Promise<T> {
    if (this.#exited) return Promise.reject(new Error(`${this.name} agent is not running`));
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ id, method, args } satisfies Request);
    });
  }

  /** Ends the agent (its own process only) and waits for it to exit. */
  async stop(): Promise<void> {
    if (this.#exited) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  }
}

/** Child side: answers the parent's calls with the given handlers; exits with the parent. */
export function serveAgent(handlers: Record<string, Handler>): void {
  const lifetime = Number(process.env.BENCH_AGENT_LIFETIME_MS ?? 15 * 60_000);
  // Bounded in time whatever happens to the parent.
  setTimeout(() => process.exit(0), lifetime).unref();
  process.on('disconnect', () => process.exit(0));
  process.on('message', async (msg: Request) => {
    const handler = handlers[msg.method];
    try {
      if (!handler) throw new Error(`unknown method ${msg.method}`);
      const result = await handler(msg.args as never);
      process.send!({ id: msg.id, ok: true, result: result ?? null } satisfies Reply);
    } catch (err) {
      process.send!({
        id: msg.id,
        ok: false,
        error: (err as Error).stack ?? String(err),
      } satisfies Reply);
    }
  });
  process.send!('ready');
}
