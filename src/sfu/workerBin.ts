/**
 * Points mediasoup at our locally built worker binary. mediasoup reads MEDIASOUP_WORKER_BIN
 * once, when its module loads, so this module must be imported before 'mediasoup'.
 * The path matches scripts/lib.sh (worker_bin_path), which builds and caches it.
 */
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

export function defaultWorkerBin(): string {
  const require = createRequire(import.meta.url);
  const { version } = require('mediasoup/package.json') as { version: string };
  const cacheRoot =
    process.env.GATEWAY_CACHE_DIR ??
    path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'telemed-gateway');
  return path.join(cacheRoot, `mediasoup-worker-${version}`, 'mediasoup-worker');
}

process.env.MEDIASOUP_WORKER_BIN ||= defaultWorkerBin();
