/**
 * The login throttle of a cluster: the failure counters (per address, per account and address,
 * per account) live in Redis, checked and counted by one Lua script, so guesses spread over
 * the nodes count as if sent to one. The password checks running at once stay per node (they
 * guard this node's threads). While Redis does not answer, attempts are counted in this node's
 * memory (the one-node `LoginThrottle`): brute force stays bounded (per node) and logins go on.
 */
import type { Logger } from '../logger.js';
import {
  addressKey,
  LoginThrottle,
  refuse,
  type Attempt,
  type LoginAttempts,
  type LoginLimits,
  type Refusal,
} from '../auth/throttle.js';
import { BoundedScripts, KEY_PREFIX, type Redis } from './redis.js';

const DAY_MS = 24 * 3600_000;

/** KEYS: address, pair, account. ARGV: failures per address, per pair, slowdown, window ms. */
const RESERVE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local perAddress, perPair, slowdown, window =
  tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local a = redis.call('HMGET', KEYS[1], 'count', 'resetAt', 'strikes', 'strikesUntil', 'struck')
local count, resetAt = tonumber(a[1]) or 0, tonumber(a[2]) or 0
local strikes, strikesUntil, struck = tonumber(a[3]) or 0, tonumber(a[4]) or 0, tonumber(a[5]) or 0
if resetAt > now and count >= perAddress then return {0, 'address', resetAt - now} end
local pair = tonumber(redis.call('GET', KEYS[2]) or '0')
local account = tonumber(redis.call('GET', KEYS[3]) or '0')
local pairLimit = perPair
if account >= slowdown then pairLimit = 1 end
if pair >= pairLimit then return {0, 'account', redis.call('PTTL', KEYS[2])} end
if redis.call('INCR', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], window) end
if redis.call('INCR', KEYS[3]) == 1 then redis.call('PEXPIRE', KEYS[3], window) end
if strikesUntil <= now then strikes = 0 end
if resetAt <= now then
  count, resetAt, struck = 0, now + window, 0
end
count = count + 1
redis.call('HSET', KEYS[1], 'count', count, 'resetAt', resetAt, 'strikes', strikes,
  'strikesUntil', strikesUntil, 'struck', struck)
redis.call('PEXPIRE', KEYS[1], math.max(resetAt, strikesUntil) - now)
return {1, '', 0}
`;

/** KEYS: address, pair, account. ARGV: succeeded (1/0), failures per address, window ms, day ms. */
const FINISH = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local a = redis.call('HMGET', KEYS[1], 'count', 'strikes', 'struck')
local count, strikes, struck = tonumber(a[1]) or 0, tonumber(a[2]) or 0, tonumber(a[3]) or 0
if ARGV[1] == '1' then
  redis.call('DEL', KEYS[2])
  if tonumber(redis.call('GET', KEYS[3]) or '0') > 0 then redis.call('DECR', KEYS[3]) end
  if count > 0 then redis.call('HSET', KEYS[1], 'count', count - 1) end
  return 0
end
local perAddress, window, day = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if count >= perAddress and struck ~= 1 then
  strikes = strikes + 1
  local resetAt = now + math.min(day, window * 2 ^ (strikes - 1))
  redis.call('HSET', KEYS[1], 'struck', 1, 'strikes', strikes, 'strikesUntil', now + day,
    'resetAt', resetAt)
  redis.call('PEXPIRE', KEYS[1], day)
end
return 0
`;

export interface RedisLoginThrottleOptions {
  /** Longest a check waits for Redis before it counts in memory instead. */
  timeoutMs?: number;
}

export class RedisLoginThrottle implements LoginAttempts {
  readonly #running = new Map<string, number>();
  #runningTotal = 0;
  /** Counts attempts while Redis does not answer (its own check-slot limits are off: ours hold). */
  readonly #local: LoginThrottle;
  readonly #scripts: BoundedScripts;

  constructor(
    private readonly redis: Redis,
    private readonly limits: LoginLimits,
    private readonly logger: Logger,
    opts: RedisLoginThrottleOptions = {},
  ) {
    this.#scripts = new BoundedScripts(redis, opts.timeoutMs ?? 500, logger, {
      down: 'login attempts are counted on this node until Redis answers',
      back: 'login attempts are counted in Redis again',
    });
    this.#local = new LoginThrottle({
      ...limits,
      maxConcurrentChecks: Infinity,
      maxConcurrentChecksPerAccount: Infinity,
    });
  }

  /** Password checks running on this node now. */
  get running(): number {
    return this.#runningTotal;
  }

  async reserve(account: string, ip: string): Promise<Attempt | Refusal> {
    // The slot is taken before anything is awaited: parallel attempts cannot all pass it.
    const running = this.#running.get(account) ?? 0;
    if (
      this.#runningTotal >= this.limits.maxConcurrentChecks ||
      running >= this.limits.maxConcurrentChecksPerAccount
    )
      return refuse('busy', 1000);
    this.#running.set(account, running + 1);
    this.#runningTotal++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.#runningTotal--;
      const left = (this.#running.get(account) ?? 1) - 1;
      if (left > 0) this.#running.set(account, left);
      else this.#running.delete(account);
    };
    const addr = addressKey(ip);
    const keys = [
      `${KEY_PREFIX}login:addr:${addr}`,
      `${KEY_PREFIX}login:pair:${account}\n${addr}`,
      `${KEY_PREFIX}login:account:${account}`,
    ];
    const l = this.limits;
    const reply = (await this.#eval(RESERVE, keys, [
      l.failuresPerAddress,
      l.failuresPerAccountAddress,
      l.accountSlowdownFailures,
      l.windowMs,
    ])) as [number, string, number] | undefined;
    if (!reply) {
      const attempt = this.#local.reserve(account, ip);
      if (!attempt.ok) release();
      return attempt.ok
        ? { ok: true, finish: (succeeded) => (release(), attempt.finish(succeeded)) }
        : attempt;
    }
    if (reply[0] !== 1) {
      release();
      return refuse(reply[1] as 'address' | 'account', reply[2]);
    }
    return {
      ok: true,
      finish: (succeeded) => {
        if (released) return;
        release();
        void this.#eval(FINISH, keys, [
          succeeded ? 1 : 0,
          l.failuresPerAddress,
          l.windowMs,
          DAY_MS,
        ]);
      },
    };
  }

  /** Runs a script; undefined when Redis is down or slow (the caller counts in memory). */
  #eval(script: string, keys: string[], args: number[]): Promise<unknown> {
    return this.#scripts.eval(script, keys, args.map(String));
  }
}
