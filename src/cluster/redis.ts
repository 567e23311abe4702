/** The cluster's Redis connection: reconnects by itself, logs its outages once, fails fast at start. */
import { createClient } from 'redis';
import type { Logger } from '../logger.js';

export type Redis = ReturnType<typeof createClient>;

/** Key prefix of everything the gateway keeps in Redis. */
export const KEY_PREFIX = 'telemed:';

/**
 * Connects to REDIS_URL; rejects with a message saying what to check when Redis cannot be
 * reached within `timeoutMs`. Later outages are retried forever (every ≤ 1 s).
 */
export async function connectRedis(url: string, logger: Logger, timeoutMs = 5000): Promise<Redis> {
  const client: Redis = createClient({
    url,
    socket: {
      connectTimeout: timeoutMs,
      reconnectStrategy: (retries) => Math.min(50 * 2 ** retries, 1000),
    },
  });
  let down = false;
  client.on('error', (err: Error) => {
    if (down) return;
    down = true;
    logger.error({ err: err.message }, 'Redis connection lost; retrying');
  });
  client.on('ready', () => {
    if (down) logger.warn('Redis connection restored');
    down = false;
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.connect(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('timed out')), timeoutMs);
      }),
    ]);
  } catch (err) {
    client.destroy();
    const shown = new URL(url);
    shown.password = '';
    throw new Error(
      `cannot reach Redis at ${shown.toString()} (${(err as Error).message}): start it or fix REDIS_URL`,
    );
  } finally {
    clearTimeout(timer);
  }
  return client;
}
