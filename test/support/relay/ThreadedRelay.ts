/**
 * The impairment relay on a worker thread of its own. A relay on the test's main thread
 * shares its event loop with the gateway, the browsers' drivers and the test's polling; on a
 * busy machine that loop stalls for tens to hundreds of milliseconds, the relay then holds
 * every packet as long and releases them in a burst, and the receiver's congestion
 * controller reads each stall as a queue on the link (its estimate drops to what was acked).
 * On its own thread the relay waits only for the CPU.
 *
 * Same calls as ImpairmentRelay (synchronous where it is), but a scope must be `{ ufrag }`
 * or `{ party }` (a function cannot cross to the thread): a party is a name the caller files
 * gateway ufrags under (`addToParty`), so one scope follows a participant across ICE restarts
 * and new transports.
 */
import { performance } from 'node:perf_hooks';
import {
  MessageChannel,
  receiveMessageOnPort,
  Worker,
  type MessagePort,
} from 'node:worker_threads';
import type { FlowStats, RelayOptions, RelayPatch } from './ImpairmentRelay.js';
import { defaultSeed } from './settings.js';
import type { LinkStats } from './link.js';

/** The flows of one gateway ufrag, or of every ufrag filed under a party. */
export type ThreadScope = { ufrag: string } | { party: string };

/** How long a call may wait for the relay thread, ms (it answers in well under one). */
const CALL_BOUND_MS = 10_000;

export class ThreadedRelay {
  readonly #worker: Worker;
  readonly #port: MessagePort;
  readonly #options: RelayOptions;
  #seed = 0;
  #closed = false;

  private constructor(worker: Worker, port: MessagePort, options: RelayOptions) {
    this.#worker = worker;
    this.#port = port;
    this.#options = options;
  }

  /** Starts the relay thread and binds its sockets; rejects if the port is taken. */
  static async start(options: RelayOptions): Promise<ThreadedRelay> {
    const { port1, port2 } = new MessageChannel();
    const seeded = { ...options, seed: options.seed ?? defaultSeed() };
    const worker = new Worker(new URL('./threadBoot.js', import.meta.url), {
      workerData: {
        entry: new URL('./relayThread.ts', import.meta.url).href,
        options: seeded,
        port: port2,
      },
      transferList: [port2],
    });
    worker.unref();
    const ready = await new Promise<{ ready?: true; error?: string }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    if (ready.error) {
      await worker.terminate();
      throw new Error(`relay thread did not start: ${ready.error}`);
    }
    const relay = new ThreadedRelay(worker, port1, seeded);
    relay.#seed = relay.#call('seed') as number;
    return relay;
  }

  /** The seed of this relay's losses and jitter: print it with a failure, replay with RELAY_SEED. */
  get seed(): number {
    return this.#seed;
  }

  get address(): { host: string; port: number } {
    return { host: this.#options.listenHost, port: this.#options.listenPort };
  }

  /** Changes settings for every flow, or only for the flows of one gateway ufrag; returns this. */
  set(patch: RelayPatch, scope?: ThreadScope): this {
    this.#call('set', patch, scope);
    return this;
  }

  /** Back to no impairment (for every flow; with a scope, drops that scope's settings). */
  reset(scope?: ThreadScope): this {
    this.#call('reset', scope);
    return this;
  }

  /** Cuts the link (both directions) for `ms`. Resolves when it is back. */
  cut(ms: number, scope?: ThreadScope): Promise<void> {
    const until = performance.now() + ms;
    this.#call('cut', ms, scope);
    return new Promise((resolve) => setTimeout(resolve, until - performance.now()).unref());
  }

  /** A handover / NAT rebinding of the matching flows (see ImpairmentRelay.handover). */
  handover(scope?: ThreadScope): Promise<{ from: number; to: number }[]> {
    return Promise.resolve(this.#call('handover', scope) as { from: number; to: number }[]);
  }

  /**
   * Files gateway ufrags under `party`: its scope matches their flows from now on. Call when
   * the gateway issues a ufrag, before the browser can send checks with it.
   */
  addToParty(party: string, ufrags: readonly string[]): this {
    this.#call('addToParty', party, ufrags);
    return this;
  }

  flows(): FlowStats[] {
    return this.#call('flows') as FlowStats[];
  }

  stats(scope?: ThreadScope): { up: LinkStats; down: LinkStats } {
    return this.#call('stats', scope) as { up: LinkStats; down: LinkStats };
  }

  /** The relay thread's event loop delay since the last call, ms (how late its timers ran). */
  lag(): { p50: number; p99: number; max: number; priority: string } {
    return this.#call('lag') as { p50: number; p99: number; max: number; priority: string };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#call('close');
    } finally {
      await this.#worker.terminate();
    }
  }

  /** Calls the relay on its thread and waits for the answer (the thread's loop is not ours). */
  #call(method: string, ...args: unknown[]): unknown {
    if (this.#closed && method !== 'close') throw new Error('relay thread closed');
    const signal = new Int32Array(new SharedArrayBuffer(4));
    this.#port.postMessage({ method, args, signal });
    if (Atomics.wait(signal, 0, 0, CALL_BOUND_MS) === 'timed-out') {
      throw new Error(`relay thread did not answer ${method} within ${CALL_BOUND_MS} ms`);
    }
    const answer = receiveMessageOnPort(this.#port)?.message as
      { result?: unknown; error?: string } | undefined;
    if (!answer) throw new Error(`relay thread gave no answer to ${method}`);
    if (answer.error) throw new Error(answer.error);
    return answer.result;
  }
}
