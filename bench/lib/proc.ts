/** CPU time and memory of processes, read from /proc (Linux). */
import fs from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** User + system CPU seconds a process (all its threads) has used so far. */
export function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may contain spaces: fields start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / TICKS_PER_SECOND;
}

/** Resident set size in MiB. */
export function rssMiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

/** Measures the CPU share (percent of one core) of some processes over a window. */
export class CpuWindow {
  readonly #start: Map<number, number>;
  readonly #t0 = process.hrtime.bigint();

  constructor(readonly pids: number[]) {
    this.#start = new Map(pids.map((pid) => [pid, cpuSeconds(pid)]));
  }

  /** Percent of one core used by each pid since construction. */
  stop(): Map<number, number> {
    const elapsed = Number(process.hrtime.bigint() - this.#t0) / 1e9;
    const out = new Map<number, number>();
    for (const pid of this.pids) {
      out.set(pid, ((cpuSeconds(pid) - this.#start.get(pid)!) / elapsed) * 100);
    }
    return out;
  }
}

/** Receive-buffer drops per local UDP port (IPv4), from /proc/net/udp. */
export function udpDrops(): Map<number, number> {
  const out = new Map<number, number>();
  let text = '';
  try {
    text = fs.readFileSync('/proc/net/udp', 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 13) continue;
    const port = parseInt(cols[1]!.split(':')[1]!, 16);
    out.set(port, (out.get(port) ?? 0) + Number(cols[12]));
  }
  return out;
}

/** Pids of a process's descendants whose command name matches `name` (e.g. a browser's processes). */
export function descendants(root: number, name: RegExp): number[] {
  const parent = new Map<number, { ppid: number; comm: string }>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(entry), { ppid, comm });
    } catch {
      // exited while listing
    }
  }
  const isBelow = (pid: number): boolean => {
    for (let p = parent.get(pid)?.ppid; p !== undefined && p > 1; p = parent.get(p)?.ppid) {
      if (p === root) return true;
    }
    return false;
  };
  return [...parent].filter(([pid, x]) => name.test(x.comm) && isBelow(pid)).map(([pid]) => pid);
}

/** CPU seconds used so far by a set of processes (those that exited count as 0). */
export function cpuSecondsOf(pids: number[]): number {
  let sum = 0;
  for (const pid of pids) {
    try {
      sum += cpuSeconds(pid);
    } catch {
      // exited
    }
  }
  return sum;
}
