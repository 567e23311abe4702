/**
 * Command-line options of `npm run bench`: the three size presets (full, --quick, --tiny)
 * and the flags that override single sizes.
 */
import path from 'node:path';

/** In run order: memory first, while both workers and the Node heap are still fresh. */
export const SECTIONS = ['memory', 'latency', 'signalling', 'fanout', 'density', 'join'] as const;
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
  join: { joins: number; warmupMs: number; timeoutMs: number };
  latency: { packets: number; rateHz: number; consumers: number };
  fanout: {
    videoSteps: number[];
    audioSteps: number[];
    warmupMs: number;
    stepMs: number;
    /** Consumers whose packets are read and counted; the others go to a sink that drops them. */
    sample: number;
    /** Stop stepping once a series has run this long. */
    budgetMs: number;
  };
  density: { steps: number[]; warmupMs: number; stepMs: number; sample: number; budgetMs: number };
  signalling: { clients: number; concurrency: number[]; consultSize: number };
  memory: { participants: number; consultSize: number };
}

const PRESETS: Record<Mode, Omit<BenchOptions, 'mode' | 'outDir' | 'sections' | 'janus'>> = {
  full: {
    join: { joins: 8, warmupMs: 3000, timeoutMs: 20_000 },
    latency: { packets: 1500, rateHz: 150, consumers: 4 },
    fanout: {
      videoSteps: [50, 100, 200, 300, 400, 500, 600, 800, 1000, 1500, 2000],
      audioSteps: [100, 250, 500, 750, 1000, 1500, 2000, 3000],
      warmupMs: 1000,
      stepMs: 3000,
      sample: 32,
      budgetMs: 55_000,
    },
    density: {
      steps: [5, 10, 20, 30, 40, 50, 60, 80, 100],
      warmupMs: 1000,
      stepMs: 3000,
      sample: 24,
      budgetMs: 50_000,
    },
    signalling: { clients: 400, concurrency: [1, 10, 50], consultSize: 4 },
    memory: { participants: 120, consultSize: 3 },
  },
  quick: {
    join: { joins: 3, warmupMs: 1500, timeoutMs: 15_000 },
    latency: { packets: 300, rateHz: 200, consumers: 2 },
    fanout: {
      videoSteps: [20, 100],
      audioSteps: [50, 250],
      warmupMs: 600,
      stepMs: 1500,
      sample: 8,
      budgetMs: 15_000,
    },
    density: { steps: [2, 8], warmupMs: 600, stepMs: 1500, sample: 8, budgetMs: 12_000 },
    signalling: { clients: 80, concurrency: [1, 20], consultSize: 4 },
    memory: { participants: 30, consultSize: 3 },
  },
  tiny: {
    join: { joins: 1, warmupMs: 1500, timeoutMs: 15_000 },
    latency: { packets: 60, rateHz: 200, consumers: 1 },
    fanout: {
      videoSteps: [4],
      audioSteps: [4],
      warmupMs: 400,
      stepMs: 600,
      sample: 2,
      budgetMs: 5_000,
    },
    density: { steps: [1], warmupMs: 400, stepMs: 600, sample: 2, budgetMs: 5_000 },
    signalling: { clients: 8, concurrency: [4], consultSize: 4 },
    memory: { participants: 6, consultSize: 3 },
  },
};

const USAGE = `usage: npm run bench -- [options]
  --quick                  small sizes (< 2 min)
  --tiny                   smallest sizes (used by the test suite)
  --out DIR                result directory (default bench/results)
  --only a,b               sections: ${SECTIONS.join(', ')}
  --no-janus               skip the Janus side-by-side figures
  --joins N                browser joins per system
  --fanout-video N,N,...   video fan-out steps (consumers)
  --fanout-audio N,N,...   audio fan-out steps (consumers)
  --density K,K,...        concurrent 3-party consults per step
  --step-ms MS             measuring window of each fan-out/density step
  --signalling-clients N   Socket.IO clients per concurrency level
  --memory-participants N  participants connected for the memory figures
  --latency-packets N      packets per latency path`;

function intList(flag: string, value: string | undefined): number[] {
  const list = (value ?? '').split(',').map((s) => Number(s.trim()));
  if (!list.length || list.some((n) => !Number.isInteger(n) || n <= 0)) {
    throw new Error(`${flag} takes a comma-separated list of positive integers`);
  }
  return list;
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
      case '--fanout-video':
        opts.fanout.videoSteps = intList(flag, next());
        break;
      case '--fanout-audio':
        opts.fanout.audioSteps = intList(flag, next());
        break;
      case '--density':
        opts.density.steps = intList(flag, next());
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
      case '-h':
      case '--help':
        throw new Error(USAGE);
      default:
        throw new Error(`unknown option '${flag}'\n${USAGE}`);
    }
  }
  return opts;
}
