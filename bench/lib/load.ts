/**
 * The machine's load before a section: CPU used by processes other than the bench's own,
 * measured over a short idle window from /proc/stat (Linux). The 1-min load average is
 * recorded too, but not used to decide: it still carries the bench's own previous section.
 */
import fs from 'node:fs';
import os from 'node:os';
import { cpuSeconds } from './proc.js';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

export interface LoadSample {
  /** Cores' worth of CPU used by everything on the machine during the window. */
  busyCores: number;
  /** The share of that used by the bench's own processes. */
  ownCores: number;
  /** busyCores - ownCores: what other processes took. */
  otherCores: number;
  loadAvg1: number;
  windowMs: number;
}

/** CPU seconds the whole machine has been busy (all cores), from /proc/stat. */
export function busySeconds(): number {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const [, ...ticks] = line.trim().split(/\s+/).map(Number);
  // user nice system idle iowait irq softirq steal: idle and iowait are not busy.
  const total = ticks.slice(0, 8).reduce((a, b) => a + b, 0);
  return (total - ticks[3]! - ticks[4]!) / TICKS_PER_SECOND;
}

function ownSeconds(pids: number[]): number {
  let sum = 0;
  for (const pid of pids) {
    try {
      sum += cpuSeconds(pid);
    } catch {
      // exited: it no longer adds load
    }
  }
  return sum;
}

/** Measures the load over windowMs while the bench itself is idle. */
export async function sampleLoad(ownPids: number[], windowMs = 2000): Promise<LoadSample> {
  const t0 = performance.now();
  const busy0 = busySeconds();
  const own0 = ownSeconds(ownPids);
  await new Promise((r) => setTimeout(r, windowMs));
  const elapsed = (performance.now() - t0) / 1000;
  const busyCores = Math.max(0, (busySeconds() - busy0) / elapsed);
  const ownCores = Math.max(0, (ownSeconds(ownPids) - own0) / elapsed);
  return {
    busyCores,
    ownCores,
    otherCores: Math.max(0, busyCores - ownCores),
    loadAvg1: os.loadavg()[0]!,
    windowMs,
  };
}

/**
 * Waits (re-sampling) until other processes use at most maxCores, for up to waitMs.
 * Returns the last sample and whether the machine was quiet enough.
 */
export async function waitForQuiet(
  ownPids: number[],
  maxCores: number,
  waitMs: number,
  log: (message: string) => void,
  windowMs = 2000,
): Promise<{ sample: LoadSample; quiet: boolean }> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const sample = await sampleLoad(ownPids, windowMs);
    if (sample.otherCores <= maxCores) return { sample, quiet: true };
    if (Date.now() >= deadline) return { sample, quiet: false };
    log(
      `machine busy: ${sample.otherCores.toFixed(2)} cores used by other processes (limit ${maxCores}); waiting`,
    );
    await new Promise((r) => setTimeout(r, 3000));
  }
}
