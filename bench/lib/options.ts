/**
 * Command-line options of `npm run bench`: the three size presets (full, --quick, --tiny)
 * and the flags that override single sizes.
 */
import path from 'node:path';
import type { LimitSearch } from './stats.js';

/** In run order: memory first, while both workers and the Node heap are still fresh. */
export const SECTIONS = [
  'memory',
  'latency',
  'signalling',
  'fanout',
  'density',
  'join',
  'crossnode',
  'workers',
  'failover',
] as const;
export type SectionName = (typeof SECTIONS)[number];

export type Mode = 'full' | 'quick' | 'tiny';

export interface BenchOptions {
  mode: Mode;
  /** Where the .json and .md result files go. */
  outDir: string;
  /** Sections to run (all by default). */
  sections: SectionName[];
  /** Run the Janus side-by-side measurements (skipped, with a reason, when Janus is missing). */
  janus: boolean;
  /**
   * Cores' worth of CPU other processes may use before a section (measured over an idle
   * window). Above it the bench waits up to loadWaitS, then skips the section (its figures
   * say why) unless allowLoad, which runs it and flags every figure.
   */
  maxLoad: number;
  loadWaitS: number;
  allowLoad: boolean;
  /** Joins per system; the systems take turns, join by join. */
  join: { joins: number; warmupMs: number; timeoutMs: number };
  latency: { packets: number; rateHz: number; consumers: number };
  /** Limits are searched (grown geometrically, then bisected), see findLimit. */
  fanout: {
    video: LimitSearch;
    audio: LimitSearch;
    /** Video to WebRTC subscribers in a browser (the subscribers share the machine). */
    webrtc: LimitSearch;
    warmupMs: number;
    stepMs: number;
    /** Consumers whose packets are read and counted; the others go to a sink that drops them. */
    sample: number;
    /** Stop searching once a series has run this long. */
    budgetMs: number;
    /** The same for a WebRTC series (its probes set up browser peer connections). */
    webrtcBudgetMs: number;
  };
  density: {
    search: LimitSearch;
    warmupMs: number;
    stepMs: number;
    sample: number;
    budgetMs: number;
  };
  signalling: { clients: number; concurrency: number[]; consultSize: number };
  memory: { participants: number; consultSize: number };
  /** Packets through the one-node and the two-node path (sent once, read on both). */
  crossnode: { packets: number; rateHz: number };
  /** SIGKILLs of the node carrying a sender, and joins timed per side (same node, other node). */
  failover: { kills: number; joins: number };
  /** One sender's receivers on `count` workers of one node, against one worker. */
  workers: {
    count: number;
    search: LimitSearch;
    warmupMs: number;
    stepMs: number;
    sample: number;
    budgetMs: number;
  };
}

type Preset = Omit<
  BenchOptions,
  'mode' | 'outDir' | 'sections' | 'janus' | 'maxLoad' | 'loadWaitS' | 'allowLoad'
>;

const search = (start: number, max: number, resolution = 0.05): LimitSearch => ({
  start,
  max,
  factor: 2,
  resolution,
});

const PRESETS: Record<Mode, Preset> = {
  full: {
    join: { joins: 20, warmupMs: 3000, timeoutMs: 20_000 },
    latency: { packets: 1500, rateHz: 150, consumers: 4 },
    fanout: {
      video: search(50, 3200),
      audio: search(100, 6400),
      webrtc: search(10, 320),
      warmupMs: 1000,
      stepMs: 3000,
      sample: 32,
      budgetMs: 120_000,
      webrtcBudgetMs: 90_000,
    },
    density: {
      search: search(5, 320),
      warmupMs: 1000,
      stepMs: 3000,
      sample: 24,
      budgetMs: 120_000,
    },
    signalling: { clients: 400, concurrency: [1, 10, 50], consultSize: 4 },
    memory: { participants: 120, consultSize: 3 },
    crossnode: { packets: 1500, rateHz: 150 },
    failover: { kills: 10, joins: 20 },
    workers: {
      count: 2,
      search: search(50, 3200),
      warmupMs: 1000,
      stepMs: 3000,
      sample: 32,
      budgetMs: 120_000,
    },
  },
  quick: {
    join: { joins: 5, warmupMs: 1500, timeoutMs: 15_000 },
    latency: { packets: 300, rateHz: 200, consumers: 2 },
    fanout: {
      video: search(20, 160, 0.25),
      audio: search(50, 400, 0.25),
      webrtc: search(4, 32, 0.25),
      warmupMs: 600,
      stepMs: 1500,
      sample: 8,
      budgetMs: 15_000,
      webrtcBudgetMs: 15_000,
    },
    density: {
      search: search(2, 16, 0.25),
      warmupMs: 600,
      stepMs: 1500,
      sample: 8,
      budgetMs: 12_000,
    },
    signalling: { clients: 80, concurrency: [1, 20], consultSize: 4 },
    memory: { participants: 30, consultSize: 3 },
    crossnode: { packets: 300, rateHz: 200 },
    failover: { kills: 3, joins: 6 },
    workers: {
      count: 2,
      search: search(20, 160, 0.25),
      warmupMs: 600,
      stepMs: 1500,
      sample: 8,
      budgetMs: 15_000,
    },
  },
  tiny: {
    join: { joins: 1, warmupMs: 1500, timeoutMs: 15_000 },
    latency: { packets: 60, rateHz: 200, consumers: 1 },
    fanout: {
      video: search(4, 4),
      audio: search(4, 4),
      webrtc: search(2, 2),
      warmupMs: 400,
      stepMs: 600,
      sample: 2,
      budgetMs: 5_000,
      webrtcBudgetMs: 5_000,
    },
    density: { search: search(1, 1), warmupMs: 400, stepMs: 600, sample: 2, budgetMs: 5_000 },
    signalling: { clients: 8, concurrency: [4], consultSize: 4 },
    memory: { participants: 6, consultSize: 3 },
    crossnode: { packets: 60, rateHz: 200 },
    failover: { kills: 1, joins: 2 },
    workers: {
      count: 2,
      search: search(4, 4),
      warmupMs: 400,
      stepMs: 600,
      sample: 2,
      budgetMs: 5_000,
    },
  },
};

const USAGE = `usage: npm run bench -- [options]
  --quick                  small sizes (< 2 min)
  --tiny                   smallest sizes (used by the test suite)
  --out DIR                result directory (default bench/results)
  --only a,b               sections: ${SECTIONS.join(', ')}
  --no-janus               skip the Janus side-by-side figures
  --max-load CORES         CPU other processes may use before a section (default 0.3)
  --load-wait S            how long to wait for a quiet machine per section (default 60)
  --allow-load             run on a busy machine anyway, flagging every figure
  --joins N                browser joins per system (BENCH_JOIN_AB=DIR: a fourth system, the
                           gateway serving the client built in DIR, e.g. the old client/dist)
  --fanout-video FROM,MAX  video fan-out limit search range (consumers)
  --fanout-audio FROM,MAX  audio fan-out limit search range (consumers)
  --fanout-webrtc FROM,MAX video fan-out to WebRTC subscribers: search range (subscribers)
  --density FROM,MAX       limit search range of concurrent 3-party consults
  --step-ms MS             measuring window of each fan-out/density probe
  --signalling-clients N   Socket.IO clients per concurrency level
  --memory-participants N  participants connected for the memory figures
  --latency-packets N      packets per latency path
  --crossnode-packets N    packets through the one-node and two-node paths
  --failover-kills N       SIGKILLs of the sender's node (BENCH_FAILOVER_AB=1: N more, old policy)
  --failover-joins N       joins timed per side (same node, other node)
  --workers-search FROM,MAX  one-worker limit search range of the workers section`;

function intList(flag: string, value: string | undefined): number[] {
  const list = (value ?? '').split(',').map((s) => Number(s.trim()));
  if (!list.length || list.some((n) => !Number.isInteger(n) || n <= 0)) {
    throw new Error(`${flag} takes a comma-separated list of positive integers`);
  }
  return list;
}

function range(flag: string, value: string | undefined, into: LimitSearch): void {
  const list = intList(flag, value);
  if (list.length !== 2 || list[0]! > list[1]!) throw new Error(`${flag} takes FROM,MAX`);
  [into.start, into.max] = list as [number, number];
}

function num(flag: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${flag} takes a number ≥ 0`);
  return n;
}

function int(flag: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${flag} takes a positive integer`);
  return n;
}

/** Parses argv (without node and script); throws with the usage text on a bad flag. */
export function parseOptions(argv: string[], root: string): BenchOptions {
  const mode: Mode = argv.includes('--tiny') ? 'tiny' : argv.includes('--quick') ? 'quick' : 'full';
  const preset = structuredClone(PRESETS[mode]);
  const opts: BenchOptions = {
    mode,
    outDir: path.join(root, 'bench', 'results'),
    sections: [...SECTIONS],
    janus: true,
    maxLoad: 0.3,
    loadWaitS: mode === 'full' ? 60 : 10,
    allowLoad: false,
    ...preset,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const next = () => argv[++i];
    switch (flag) {
      case '--quick':
      case '--tiny':
        break;
      case '--out':
        opts.outDir = path.resolve(next() ?? '.');
        break;
      case '--only': {
        const names = (next() ?? '').split(',').map((s) => s.trim());
        for (const n of names) {
          if (!(SECTIONS as readonly string[]).includes(n))
            throw new Error(`unknown section '${n}'\n${USAGE}`);
        }
        opts.sections = SECTIONS.filter((s) => names.includes(s));
        break;
      }
      case '--no-janus':
        opts.janus = false;
        break;
      case '--joins':
        opts.join.joins = int(flag, next());
        break;
      case '--max-load':
        opts.maxLoad = num(flag, next());
        break;
      case '--load-wait':
        opts.loadWaitS = num(flag, next());
        break;
      case '--allow-load':
        opts.allowLoad = true;
        break;
      case '--fanout-video':
        range(flag, next(), opts.fanout.video);
        break;
      case '--fanout-audio':
        range(flag, next(), opts.fanout.audio);
        break;
      case '--fanout-webrtc':
        range(flag, next(), opts.fanout.webrtc);
        break;
      case '--density':
        range(flag, next(), opts.density.search);
        break;
      case '--step-ms':
        opts.fanout.stepMs = opts.density.stepMs = int(flag, next());
        break;
      case '--signalling-clients':
        opts.signalling.clients = int(flag, next());
        break;
      case '--memory-participants':
        opts.memory.participants = int(flag, next());
        break;
      case '--latency-packets':
        opts.latency.packets = int(flag, next());
        break;
      case '--crossnode-packets':
        opts.crossnode.packets = int(flag, next());
        break;
      case '--failover-kills':
        opts.failover.kills = int(flag, next());
        break;
      case '--failover-joins':
        opts.failover.joins = int(flag, next());
        break;
      case '--workers-search':
        range(flag, next(), opts.workers.search);
        break;
      case '-h':
      case '--help':
        throw new Error(USAGE);
      default:
        throw new Error(`unknown option '${flag}'\n${USAGE}`);
    }
  }
  return opts;
}
