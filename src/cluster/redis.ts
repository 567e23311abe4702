/** The cluster's Redis connection: reconnects by itself, logs its outages once, fails fast at start. */
import { createClient } from 'redis';
import { GatewayError } from '../errors.js';
import type { Logger } from '../logger.js';

export type Redis = ReturnType<typeof createClient>;

/** Key prefix of everything the gateway keeps in Redis. */
export const KEY_PREFIX = 'telemed:';

/**
 * Throws `unavailable` while the connection is down, so a request that needs Redis gets a
 * clear answer at once instead of waiting in the client's queue for as long as the outage lasts.
 */
export function assertReady(redis: Redis): void {
  if (!redis.isReady) {
    throw new GatewayError(
      'unavailable',
      "the cluster's Redis is unreachable (restarting?); try again in a few seconds",
    );
  }
}

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

/**
 * Runs Lua scripts with a deadline: answers undefined when Redis is disconnected, fails or
 * does not answer in `timeoutMs`, so the caller falls back to this node's memory. Logs the
 * outage once, and once more when Redis answers again.
 */
export class BoundedScripts {
  #down = false;

  constructor(
    private readonly redis: Redis,
    private readonly timeoutMs: number,
    private readonly logger: Logger,
    private readonly say: { down: string; back: string },
  ) {}

  async eval(script: string, keys: string[], args: string[]): Promise<unknown> {
    if (!this.redis.isReady) return this.#unavailable('Redis is not connected');
    let timer: NodeJS.Timeout | undefined;
    try {
      const reply = await Promise.race([
        this.redis.eval(script, { keys, arguments: args }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer within ${this.timeoutMs} ms`)),
            this.timeoutMs,
          );
        }),
      ]);
      if (this.#down) this.logger.warn(this.say.back);
      this.#down = false;
      return reply;
    } catch (err) {
      return this.#unavailable((err as Error).message);
    } finally {
      clearTimeout(timer);
    }
  }

  #unavailable(why: string): undefined {
    if (!this.#down) this.logger.error({ why }, this.say.down);
    this.#down = true;
    return undefined;
  }
}
