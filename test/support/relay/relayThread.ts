/**
 * The worker-thread side of `ThreadedRelay`: runs an ImpairmentRelay on this thread's own
 * event loop and answers the main thread's calls, each with a reply and a wake-up of the
 * caller (which waits synchronously, so `set()` and `stats()` stay synchronous).
 */
import { execFileSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import {
  ImpairmentRelay,
  type FlowInfo,
  type FlowScope,
  type RelayOptions,
} from './ImpairmentRelay.js';
import type { ThreadScope } from './ThreadedRelay.js';

interface Call {
  method: string;
  args: unknown[];
  signal: Int32Array;
}

const { options, port } = workerData as { options: RelayOptions; port: MessagePort };
/**
 * A network link does not slow down when the machine is busy; a relay thread that waits
 * its turn for the CPU does, by hundreds of ms at a load of 10 on 2 cores (measured). So
 * this thread (its own thread id, from /proc/thread-self) asks Linux for the real-time
 * FIFO class, which runs before every ordinary task: a raised nice value
 * is not enough where the kernel groups tasks by session (sched_autogroup, on by default):
 * nice then only ranks threads within their own session, and every other session's load
 * still comes first half of the time. Measured at a load of 16 on 2 cores, timers 5 ms
 * apart ran late by p99 39 ms / max 148 ms at nice -15, 5.6 ms / 9 ms as SCHED_FIFO. The
 * relay is event-driven and light; the kernel's real-time throttling (95 % of each second)
 * bounds it even so. Without the right to (not root, no CAP_SYS_NICE, no chrt) it tries
 * nice, then runs as it is, and says which once.
 */
function raisePriority(): string {
  let tid: number;
  try {
    tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
  } catch (err) {
    return `normal priority (${(err as Error).message})`;
  }
  try {
    execFileSync('chrt', ['--fifo', '--pid', String(RELAY_RT_PRIORITY), String(tid)], {
      stdio: 'ignore',
    });
    return `SCHED_FIFO ${RELAY_RT_PRIORITY}`;
  } catch {
    // No chrt, or no right to real-time scheduling: a raised nice value helps a little.
  }
  try {
    setPriority(tid, RELAY_NICE);
    return `nice ${RELAY_NICE}`;
  } catch (err) {
    return `normal priority (${(err as Error).message})`;
  }
}
const RELAY_RT_PRIORITY = 10;
const RELAY_NICE = -15;
const priority = raisePriority();
const lag = monitorEventLoopDelay({ resolution: 5 });
lag.enable();

/** Replies to one call and wakes the caller. */
function reply(signal: Int32Array, message: { result?: unknown; error?: string }): void {
  port.postMessage(message);
  Atomics.store(signal, 0, 1);
  Atomics.notify(signal, 0);
}

/** Each party's gateway ufrags, and one matcher per party (the relay keys a scope by it). */
const parties = new Map<string, { ufrags: Set<string>; matches: (flow: FlowInfo) => boolean }>();

function party(name: string): { ufrags: Set<string>; matches: (flow: FlowInfo) => boolean } {
  let p = parties.get(name);
  if (!p) {
    const ufrags = new Set<string>();
    p = { ufrags, matches: (flow) => flow.ufrags.some((u) => ufrags.has(u)) };
    parties.set(name, p);
  }
  return p;
}

/** The relay's scope for one from the main thread: a party stands for its ufrags' flows. */
const scopeOf = (scope: ThreadScope | undefined): FlowScope | undefined =>
  scope && 'party' in scope ? party(scope.party).matches : scope;

try {
  const relay = await ImpairmentRelay.start(options);
  const methods: Record<string, (...args: never[]) => unknown> = {
    seed: () => relay.seed,
    set: (patch: never, scope?: ThreadScope) => void relay.set(patch, scopeOf(scope)),
    reset: (scope?: ThreadScope) => void relay.reset(scopeOf(scope)),
    // The caller keeps its own clock for the cut's end; reply at once.
    cut: (ms: never, scope?: ThreadScope) => void relay.cut(ms, scopeOf(scope)),
    handover: (scope?: ThreadScope) => relay.handover(scopeOf(scope)),
    flows: () => relay.flows(),
    stats: (scope?: ThreadScope) => relay.stats(scopeOf(scope)),
    addToParty: (name: string, ufrags: string[]) => {
      for (const u of ufrags) party(name).ufrags.add(u);
    },
    lag: () => {
      const ms = (ns: number) => Math.round(ns / 1e5) / 10;
      const out = {
        p50: ms(lag.percentile(50)),
        p99: ms(lag.percentile(99)),
        max: ms(lag.max),
        priority,
      };
      lag.reset();
      return out;
    },
    close: () => relay.close(),
  };
  port.on('message', ({ method, args, signal }: Call) => {
    void (async () => {
      try {
        const fn = methods[method];
        if (!fn) throw new Error(`relay thread: no method ${method}`);
        reply(signal, { result: await fn(...(args as never[])) });
      } catch (err) {
        reply(signal, { error: (err as Error).message });
      }
      if (method === 'close') port.close();
    })();
  });
  parentPort?.postMessage({ ready: true });
} catch (err) {
  parentPort?.postMessage({ error: (err as Error).message });
  port.close();
}
