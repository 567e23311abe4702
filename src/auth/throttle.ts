/**
 * Login throttling, decided before any password is hashed. Synchronous on purpose: the check
 * and the count happen in one turn of the event loop, so parallel guesses cannot all pass the
 * check before the first one is counted. State is in memory (one node); README "Login
 * throttling" explains the model.
 */
import { isIPv6 } from 'node:net';

export interface LoginLimits {
  /** Failed attempts one address may make on one account per window. */
  failuresPerAccountAddress: number;
  /** Failed attempts one address may make on all accounts per window (then blocked, with backoff). */
  failuresPerAddress: number;
  /** Failures on one account from all addresses per window before it is "under attack". */
  accountSlowdownFailures: number;
  windowMs: number;
  /** Password checks running at once (each holds a libuv thread); the rest are refused. */
  maxConcurrentChecks: number;
  /** Password checks running at once for one account. */
  maxConcurrentChecksPerAccount: number;
}

/** Why an attempt was refused: the address is blocked, this address may not try this account now, or the server is busy. */
export type RefusalReason = 'address' | 'account' | 'busy';

/** A refused attempt: the reason, and seconds to wait (at least 1). */
export interface Refusal {
  ok: false;
  reason: RefusalReason;
  retryAfter: number;
}

/** A reserved attempt: counted as a failure until `finish(true)` refunds it; frees its slot either way. */
export interface Attempt {
  ok: true;
  finish(succeeded: boolean): void;
}

interface Counter {
  count: number;
  resetAt: number;
}

interface AddressState extends Counter {
  /** Times this address used up its budget; each doubles the next block. Forgotten after a day. */
  strikes: number;
  strikesUntil: number;
  /** This window's budget is used up and its strike counted. */
  struck: boolean;
}

const DAY_MS = 24 * 3600_000;
const BUSY_RETRY_SECONDS = 1;

/** The key of an address: IPv4 as is, IPv6 by its /64 (one host usually holds a whole /64). */
export function addressKey(ip: string): string {
  const bare = ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
  if (!isIPv6(bare)) return bare;
  const [head = '', tail = ''] = bare.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = bare.includes('::')
    ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}

/**
 * Where login attempts are counted: `LoginThrottle` in memory (one node), or shared through
 * Redis in a cluster (`RedisLoginThrottle`), so an address's guesses count on every node.
 */
export interface LoginAttempts {
  /** Checks and, if allowed, counts an attempt on `account` from `ip` and takes a check slot. */
  reserve(account: string, ip: string): Attempt | Refusal | Promise<Attempt | Refusal>;
}

export class LoginThrottle implements LoginAttempts {
  readonly #pairs = new Map<string, Counter>();
  readonly #accounts = new Map<string, Counter>();
  readonly #addresses = new Map<string, AddressState>();
  readonly #running = new Map<string, number>();
  #runningTotal = 0;
  #nextSweep = 0;

  constructor(
    private readonly limits: LoginLimits,
    private readonly now: () => number = Date.now,
  ) {}

  /** Checks and, if allowed, counts an attempt on `account` from `ip` and takes a check slot. */
  reserve(account: string, ip: string): Attempt | Refusal {
    const now = this.now();
    this.#sweep(now);
    const addr = addressKey(ip);
    const pairKey = `${account}\n${addr}`;
    const address = this.#live(this.#addresses, addr, now);
    if (address && address.count >= this.limits.failuresPerAddress)
      return refuse('address', address.resetAt - now);
    const pair = this.#live(this.#pairs, pairKey, now);
    const accountWide = this.#live(this.#accounts, account, now);
    // Under attack from many addresses, an address that already failed on this account waits
    // for the window to end; addresses without failures here still get their attempts.
    const pairLimit =
      accountWide && accountWide.count >= this.limits.accountSlowdownFailures
        ? 1
        : this.limits.failuresPerAccountAddress;
    if (pair && pair.count >= pairLimit) return refuse('account', pair.resetAt - now);
    const running = this.#running.get(account) ?? 0;
    if (
      this.#runningTotal >= this.limits.maxConcurrentChecks ||
      running >= this.limits.maxConcurrentChecksPerAccount
    )
      return refuse('busy', BUSY_RETRY_SECONDS * 1000);

    const windowEnd = now + this.limits.windowMs;
    const counted = [
      this.#count(this.#pairs, pairKey, now, windowEnd),
      this.#count(this.#accounts, account, now, windowEnd),
    ];
    const addressState = this.#countAddress(addr, now, windowEnd);
    this.#running.set(account, running + 1);
    this.#runningTotal++;
    let finished = false;
    return {
      ok: true,
      finish: (succeeded) => {
        if (finished) return;
        finished = true;
        this.#runningTotal--;
        const left = (this.#running.get(account) ?? 1) - 1;
        if (left > 0) this.#running.set(account, left);
        else this.#running.delete(account);
        if (succeeded) {
          // The address knows this account's password: its failures on it are forgiven.
          this.#pairs.delete(pairKey);
          for (const c of [counted[1]!, addressState]) c.count = Math.max(0, c.count - 1);
        } else if (addressState.count >= this.limits.failuresPerAddress && !addressState.struck) {
          addressState.struck = true;
          addressState.strikes++;
          const at = this.now();
          addressState.strikesUntil = at + DAY_MS;
          addressState.resetAt =
            at + Math.min(DAY_MS, this.limits.windowMs * 2 ** (addressState.strikes - 1));
        }
      },
    };
  }

  /** Password checks running now (for tests and metrics). */
  get running(): number {
    return this.#runningTotal;
  }

  #live<T extends Counter>(map: Map<string, T>, key: string, now: number): T | undefined {
    const c = map.get(key);
    return c && c.resetAt > now ? c : undefined;
  }

  #count(map: Map<string, Counter>, key: string, now: number, windowEnd: number): Counter {
    let c = this.#live(map, key, now);
    if (!c) map.set(key, (c = { count: 0, resetAt: windowEnd }));
    c.count++;
    return c;
  }

  #countAddress(addr: string, now: number, windowEnd: number): AddressState {
    let a = this.#addresses.get(addr);
    if (!a) {
      a = { count: 0, resetAt: 0, strikes: 0, strikesUntil: 0, struck: false };
      this.#addresses.set(addr, a);
    }
    if (a.strikesUntil <= now) a.strikes = 0;
    if (a.resetAt <= now) Object.assign(a, { count: 0, resetAt: windowEnd, struck: false });
    a.count++;
    return a;
  }

  /** Drops expired entries once a minute, so memory follows the addresses of the last window. */
  #sweep(now: number): void {
    if (now < this.#nextSweep) return;
    this.#nextSweep = now + 60_000;
    for (const map of [this.#pairs, this.#accounts])
      for (const [k, c] of map) if (c.resetAt <= now) map.delete(k);
    for (const [k, a] of this.#addresses)
      if (a.resetAt <= now && a.strikesUntil <= now) this.#addresses.delete(k);
  }
}

export function refuse(reason: RefusalReason, waitMs: number): Refusal {
  return { ok: false, reason, retryAfter: Math.max(1, Math.ceil(waitMs / 1000)) };
}

/** Lets the first event per key through once per window (for aggregating audit rows). */
export class OncePerWindow {
  readonly #until = new Map<string, number>();
  #nextSweep = 0;

  constructor(
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** True for the first call per key in a window, false until that window ends. */
  first(key: string): boolean {
    const now = this.now();
    if (now >= this.#nextSweep) {
      this.#nextSweep = now + 60_000;
      for (const [k, t] of this.#until) if (t <= now) this.#until.delete(k);
    }
    if ((this.#until.get(key) ?? 0) > now) return false;
    this.#until.set(key, now + this.windowMs);
    return true;
  }
}

/** "15 minutes", "1 minute", "30 seconds": a wait in words for people. */
export function inWords(seconds: number): string {
  if (seconds < 60) return seconds === 1 ? '1 second' : `${seconds} seconds`;
  const minutes = Math.ceil(seconds / 60);
  return minutes === 1 ? '1 minute' : `${minutes} minutes`;
}
