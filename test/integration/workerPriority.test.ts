/**
 * The media workers' scheduling priority (WORKER_NICE), read from the kernel's own account of
 * each worker process (/proc/PID/stat), on the real gateway with real mediasoup workers. The
 * refused case (no root, no CAP_SYS_NICE) is in cli.test.ts, where a child gateway can run
 * without that capability.
 */
import fs from 'node:fs';
import os from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

let gw: TestGateway | undefined;

afterEach(async () => {
  await gw?.stop();
  gw = undefined;
});

/** The nice value the kernel holds for `pid` (field 19 of /proc/PID/stat, after the command). */
function kernelNice(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[19 - 3]);
}

/** Whether this process may raise a priority: CAP_SYS_NICE (bit 23) in its effective set. */
function maySetPriority(): boolean {
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  const eff = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1] ?? '0';
  return (BigInt(`0x${eff}`) & (1n << 23n)) !== 0n;
}

async function healthWorkers(g: TestGateway) {
  const res = await fetch(`${g.url}/healthz`);
  return ((await res.json()) as { workers: { pid: number; nice: number | null }[] }).workers;
}

describe('media worker priority', () => {
  // The test set-up runs as root (the README's test command installs services as root); a
  // developer running it without CAP_SYS_NICE gets the refused path, tested in cli.test.ts.
  it.runIf(maySetPriority())(
    'by default every worker runs at nice -10, shown in /healthz, and so does a replacement for one that died',
    async () => {
      gw = await startTestGateway({ WORKERS: '2' });
      const pids = gw.pool.slots.map((s) => s.worker.pid);
      expect(pids.map(kernelNice)).toEqual([-10, -10]);
      expect((await healthWorkers(gw)).map((w) => w.nice)).toEqual([-10, -10]);

      const slot = gw.pool.slots[1]!;
      const dead = slot.worker.pid;
      const replaced = new Promise<void>((resolve) =>
        gw!.pool.once('workerReplaced', () => resolve()),
      );
      process.kill(dead, 'SIGKILL');
      await replaced;
      expect(slot.worker.pid).not.toBe(dead);
      expect(kernelNice(slot.worker.pid)).toBe(-10);
      const after = await healthWorkers(gw);
      expect(after.map((w) => w.nice)).toEqual([-10, -10]);
      expect(after[1]!.pid).toBe(slot.worker.pid);
    },
    60_000,
  );

  it('WORKER_NICE=0 leaves the workers at the priority they inherit', async () => {
    gw = await startTestGateway({ WORKER_NICE: '0' });
    const own = os.getPriority();
    expect(kernelNice(gw.pool.slots[0]!.worker.pid)).toBe(own);
    expect((await healthWorkers(gw)).map((w) => w.nice)).toEqual([null]);
  });

  it.runIf(maySetPriority())('WORKER_NICE=5 runs them below ordinary processes', async () => {
    gw = await startTestGateway({ WORKER_NICE: '5' });
    expect(kernelNice(gw.pool.slots[0]!.worker.pid)).toBe(5);
  });
});
