/**
 * Grace periods of a cluster in Redis: one sorted set of seats by deadline (Redis's clock,
 * so the nodes' clocks need not agree). Every node polls it; a Lua script moves each expired
 * seat to a set of claims with a lease, atomically, so exactly one node gets it. The winner
 * ends the seat and drops the claim; a claim whose node died (or whose handler failed) is
 * handed out again when its lease runs out. A seat taken back in time is removed from the set
 * (`cancel`), on whichever node its participant reconnected to.
 */
import type { ExpiredHandler, GracePeriods, SeatRef } from '../app/gracePeriods.js';
import { seatKey, seatOfKey } from '../app/gracePeriods.js';
import type { Logger } from '../logger.js';
import { assertReady, KEY_PREFIX, type Redis } from './redis.js';

const PENDING = `${KEY_PREFIX}grace`;
const CLAIMED = `${KEY_PREFIX}grace:claimed`;

const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/** KEYS: pending. ARGV: seat, ms. */
const START = `${NOW}
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
return 1`;

/**
 * KEYS: pending, claimed. ARGV: lease ms, most seats per call. Moves the due seats of both
 * sets (expired grace periods, then claims whose lease ran out) to claimed with a new lease;
 * returns them.
 */
const CLAIM = `${NOW}
local lease, most = tonumber(ARGV[1]), tonumber(ARGV[2])
local out = {}
for i = 1, 2 do
  if #out >= most then break end
  local due = redis.call('ZRANGEBYSCORE', KEYS[i], '-inf', now, 'LIMIT', 0, most - #out)
  for _, seat in ipairs(due) do
    redis.call('ZADD', KEYS[2], now + lease, seat)
    if i == 1 then redis.call('ZREM', KEYS[1], seat) end
    out[#out + 1] = seat
  end
end
return out`;

export interface RedisGracePeriodsOptions {
  /** How often this node looks for expired grace periods. */
  pollMs?: number;
  /** How long a claimed seat is this node's to end before another node may take it. */
  leaseMs?: number;
}

export class RedisGracePeriods implements GracePeriods {
  readonly #handlers: ExpiredHandler[] = [];
  readonly #pollMs: number;
  readonly #leaseMs: number;
  #timer: NodeJS.Timeout | undefined;
  #polling = false;

  constructor(
    private readonly redis: Redis,
    private readonly logger: Logger,
    opts: RedisGracePeriodsOptions = {},
  ) {
    this.#pollMs = opts.pollMs ?? 500;
    this.#leaseMs = opts.leaseMs ?? 10_000;
  }

  async start(seat: SeatRef, ms: number): Promise<void> {
    // Not queued for after an outage: the caller keeps a timer of its own instead.
    assertReady(this.redis);
    // A new grace period of a seat whose old one is being ended starts afresh.
    await this.redis.zRem(CLAIMED, seatKey(seat));
    await this.redis.eval(START, { keys: [PENDING], arguments: [seatKey(seat), String(ms)] });
  }

  async cancel(seat: SeatRef): Promise<boolean> {
    return (await this.redis.zRem(PENDING, seatKey(seat))) === 1;
  }

  onExpired(handler: ExpiredHandler): void {
    this.#handlers.push(handler);
    this.#timer ??= setInterval(() => void this.poll(), this.#pollMs);
    this.#timer.unref();
  }

  /** Claims the expired grace periods and hands each to the handlers (also run by the timer). */
  async poll(): Promise<void> {
    if (this.#polling || !this.redis.isReady) return;
    this.#polling = true;
    try {
      const claimed = (await this.redis.eval(CLAIM, {
        keys: [PENDING, CLAIMED],
        arguments: [String(this.#leaseMs), '100'],
      })) as string[];
      await Promise.all(claimed.map((key) => this.#expire(key)));
    } catch (err) {
      this.logger.debug({ err: (err as Error).message }, 'grace periods not polled');
    } finally {
      this.#polling = false;
    }
  }

  async #expire(key: string): Promise<void> {
    const seat = seatOfKey(key);
    try {
      if (seat) for (const handle of this.#handlers) await handle(seat);
      await this.redis.zRem(CLAIMED, key);
    } catch (err) {
      // Its lease runs out and a node gets it again.
      this.logger.warn({ seat, err: (err as Error).message }, 'ending an expired seat failed');
    }
  }

  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
