/** What the figures were measured on: recorded in every result file. */
import { execFileSync, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import os from 'node:os';

export interface MachineInfo {
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  os: string;
  kernel: string;
  node: string;
  mediasoup: string;
  mediasoupWorkerBin: string;
  chromium: string | null;
  janus: string | null;
}

function versionOf(cmd: string, args: string[], pattern: RegExp): string | null {
  // Some programs (janus) print their version and exit non-zero: read the output anyway.
  const res = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000 });
  if (res.error) return null;
  const out = `${res.stdout ?? ''}${res.stderr ?? ''}`;
  return pattern.exec(out)?.[1] ?? null;
}

export function janusVersion(bin = 'janus'): string | null {
  return versionOf(bin, ['--version'], /Janus version: \d+ \(([^)]+)\)/);
}

export function machineInfo(chromiumPath: string): MachineInfo {
  const require = createRequire(import.meta.url);
  const cpus = os.cpus();
  let osName = `${os.type()} ${os.release()}`;
  try {
    const rel = execFileSync('cat', ['/etc/os-release'], { encoding: 'utf8' });
    osName = /PRETTY_NAME="([^"]+)"/.exec(rel)?.[1] ?? osName;
  } catch {
    // not Linux-like: keep the generic name
  }
  return {
    cores: os.availableParallelism(),
    cpuModel: cpus[0]?.model ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: osName,
    kernel: os.release(),
    node: process.version,
    mediasoup: (require('mediasoup/package.json') as { version: string }).version,
    mediasoupWorkerBin: process.env.MEDIASOUP_WORKER_BIN ?? 'default',
    chromium: versionOf(chromiumPath, ['--version'], /Chromium ([\d.]+)/),
    janus: janusVersion(),
  };
}
