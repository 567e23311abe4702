/**
 * Rate limits shared by every node of a cluster: each check is one Lua script in Redis (check
 * and count in one step, so two nodes cannot both pass the last token), timed by Redis's own
 * clock. While Redis is unreachable (or slower than `timeoutMs`) each check falls back to this
 * node's memory: limits then hold per node (N nodes: up to N times the limit) instead of
 * refusing everyone or no one. A hospital is never locked out by a Redis blip, and nothing is
 * left unbounded.
 */
import type { Logger } from '../logger.js';
import type { Rate, RateLimits, Take } from '../signalling/rateLimit.js';
import { BoundedScripts, KEY_PREFIX, type Redis } from './redis.js';

/** A token bucket: refills at ARGV[1] tokens per ms up to ARGV[2]; takes ARGV[3]. */
const TAKE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local s = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(s[1]) or burst
local at = tonumber(s[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local ok = 0
if tokens >= cost then
  tokens = tokens - cost
  ok = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate) + 1000)
return {ok, tostring(tokens)}
`;

/** Fixed-window counters: fields 1..n of KEYS[1]; ARGV: window ms, then n costs, then n limits. */
const COUNT = `
local window = tonumber(ARGV[1])
local n = (#ARGV - 1) / 2
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('DEL', KEYS[1])
  ttl = window
end
for i = 1, n do
  local used = tonumber(redis.call('HGET', KEYS[1], tostring(i)) or '0')
  if used + tonumber(ARGV[1 + i]) > tonumber(ARGV[1 + n + i]) then return {0, ttl} end
end
for i = 1, n do redis.call('HINCRBY', KEYS[1], tostring(i), ARGV[1 + i]) end
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], window) end
return {1, ttl}
`;

export interface RedisRateLimitsOptions {
  /** Longest a check waits for Redis before it falls back to memory. */
  timeoutMs?: number;
}

export class RedisRateLimits implements RateLimits {
  readonly #scripts: BoundedScripts;

  constructor(
    private readonly redis: Redis,
    /** This node's limits, used while Redis does not answer. */
    private readonly fallback: RateLimits,
    private readonly logger: Logger,
    opts: RedisRateLimitsOptions = {},
  ) {
    this.#scripts = new BoundedScripts(redis, opts.timeoutMs ?? 250, logger, {
      down: 'rate limits fall back to this node until Redis answers',
      back: 'rate limits are shared through Redis again',
    });
  }

  async take(key: string, rate: Rate, cost = 1): Promise<Take> {
    const reply = await this.#eval(TAKE, key, [
      String(rate.perSecond / 1000),
      String(rate.burst),
      String(cost),
    ]);
    if (!reply) return this.fallback.take(key, rate, cost);
    const [ok, tokens] = reply as [number, string];
    if (ok === 1) return { ok: true, waitSeconds: 0 };
    const wait = Math.ceil((cost - Number(tokens)) / rate.perSecond);
    return { ok: false, waitSeconds: Math.max(1, wait) };
  }

  async count(key: string, windowMs: number, costs: number[], limits: number[]): Promise<Take> {
    const reply = await this.#eval(COUNT, key, [
      String(windowMs),
      ...costs.map(String),
      ...limits.map(String),
    ]);
    if (!reply) return this.fallback.count(key, windowMs, costs, limits);
    const [ok, ttl] = reply as [number, number];
    return ok === 1
      ? { ok: true, waitSeconds: 0 }
      : { ok: false, waitSeconds: Math.max(1, Math.ceil(ttl / 1000)) };
  }

  forget(prefix: string): void {
    // Redis keys expire by themselves once refilled (buckets) or past their window.
    this.fallback.forget(prefix);
  }

  /** Runs a script on `rl:<key>`; undefined when Redis is down or slow (the caller falls back). */
  #eval(script: string, key: string, args: string[]): Promise<unknown> {
    return this.#scripts.eval(script, [`${KEY_PREFIX}rl:${key}`], args);
  }
}
