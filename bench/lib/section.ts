/** What every bench section declares (its figures) and receives (the shared services). */
import type { Agent } from './agent.js';
import type { BareServer } from './bareServer.js';
import type { BenchGateway } from './gateway.js';
import type { JanusServer } from './janus.js';
import type { BenchOptions } from './options.js';

/** A figure a section always reports, measured or not. */
export interface FigureSpec {
  id: string;
  label: string;
  unit: string;
  better: 'lower' | 'higher';
  baselineLabel: string;
}

export interface Measured {
  value: number | null;
  baseline: number | null;
  note?: string;
  reason?: string;
  /** Set when a limit search stopped without failing: the load it stopped at. */
  notReached?: { value?: number; baseline?: number };
}

export interface SectionOutput {
  values: Record<string, Measured>;
  details: unknown;
}

export interface Services {
  opts: BenchOptions;
  log(message: string): void;
  gateway: BenchGateway;
  bare: BareServer;
  /** Null when Janus is disabled or cannot run; janusReason then says why. */
  janus: JanusServer | null;
  janusReason: string | null;
  /** A sink agent's port: packets sent there are dropped by the kernel, unread. */
  sinkPort(): Promise<number>;
  /** Starts an agent that is stopped when the section ends. */
  agent(name: string): Promise<Agent>;
}

export interface Section {
  name: string;
  specs: FigureSpec[];
  run(s: Services): Promise<SectionOutput>;
}
