import { describe, expect, it } from 'vitest';
import {
  addressKey,
  inWords,
  LoginThrottle,
  OncePerWindow,
  type LoginLimits,
} from '../../src/auth/throttle.js';

const WINDOW = 15 * 60_000;
const limits: LoginLimits = {
  failuresPerAccountAddress: 5,
  failuresPerAddress: 20,
  accountSlowdownFailures: 50,
  windowMs: WINDOW,
  maxConcurrentChecks: 2,
  maxConcurrentChecksPerAccount: 1,
};

function setup(overrides: Partial<LoginLimits> = {}) {
  let now = 1_000_000;
  const throttle = new LoginThrottle({ ...limits, ...overrides }, () => now);
  /** One attempt that runs to completion (the password check finished). */
  const attempt = (account: string, ip: string, succeeded = false) => {
    const a = throttle.reserve(account, ip);
    if (a.ok) a.finish(succeeded);
    return a;
  };
  return { throttle, attempt, advance: (ms: number) => (now += ms) };
}

describe('LoginThrottle', () => {
  it('lets only the allowed number of checks run at once; the rest are refused at once, uncounted', () => {
    const { throttle, attempt } = setup();
    const first = throttle.reserve('a@x', '203.0.113.1');
    expect(first.ok).toBe(true);
    // Same account: one check at a time.
    expect(throttle.reserve('a@x', '203.0.113.1')).toEqual({
      ok: false,
      reason: 'busy',
      retryAfter: 1,
    });
    expect(throttle.reserve('b@x', '203.0.113.2').ok).toBe(true);
    // Two running in all: a third account is refused too.
    expect(throttle.reserve('c@x', '203.0.113.3')).toMatchObject({ reason: 'busy' });
    expect(throttle.running).toBe(2);
    if (first.ok) first.finish(false);
    expect(throttle.running).toBe(1);
    // Busy refusals were not counted: four more failures still fit the limit of five.
    for (let i = 0; i < 4; i++) expect(attempt('a@x', '203.0.113.1').ok).toBe(true);
    expect(attempt('a@x', '203.0.113.1')).toMatchObject({ ok: false, reason: 'account' });
  });

  it('counts an attempt when it is reserved, before its check finishes', () => {
    const { throttle } = setup({ maxConcurrentChecks: 10, maxConcurrentChecksPerAccount: 10 });
    const running = Array.from({ length: 8 }, () => throttle.reserve('a@x', '203.0.113.1'));
    expect(running.filter((a) => a.ok)).toHaveLength(5);
    expect(running.slice(5)).toEqual(
      Array(3).fill({ ok: false, reason: 'account', retryAfter: 900 }),
    );
  });

  it('limits an address per account without locking the account for other addresses', () => {
    const { attempt, advance } = setup();
    for (let i = 0; i < 5; i++) attempt('a@x', '203.0.113.1');
    advance(60_000);
    expect(attempt('a@x', '203.0.113.1', true)).toMatchObject({
      ok: false,
      reason: 'account',
      retryAfter: 14 * 60,
    });
    expect(attempt('a@x', '198.51.100.9', true).ok).toBe(true);
    // Other accounts from the guessing address are still allowed (until the per-address limit).
    expect(attempt('b@x', '203.0.113.1', true).ok).toBe(true);
    advance(14 * 60_000);
    expect(attempt('a@x', '203.0.113.1').ok).toBe(true);
  });

  it('forgives an address its failures on an account once it logs in there', () => {
    const { attempt } = setup();
    for (let i = 0; i < 4; i++) attempt('a@x', '203.0.113.1');
    attempt('a@x', '203.0.113.1', true);
    for (let i = 0; i < 5; i++) expect(attempt('a@x', '203.0.113.1').ok).toBe(true);
    expect(attempt('a@x', '203.0.113.1').ok).toBe(false);
  });

  it('blocks an address that used up its budget, each time twice as long (backoff)', () => {
    const { attempt, advance } = setup();
    for (let i = 0; i < 20; i++) expect(attempt(`u${i}@x`, '203.0.113.1').ok).toBe(true);
    expect(attempt('new@x', '203.0.113.1')).toMatchObject({ reason: 'address', retryAfter: 900 });
    advance(WINDOW);
    for (let i = 0; i < 20; i++) expect(attempt(`v${i}@x`, '203.0.113.1').ok).toBe(true);
    expect(attempt('new@x', '203.0.113.1')).toMatchObject({ reason: 'address', retryAfter: 1800 });
    advance(2 * WINDOW);
    for (let i = 0; i < 20; i++) attempt(`w${i}@x`, '203.0.113.1');
    expect(attempt('new@x', '203.0.113.1')).toMatchObject({ retryAfter: 3600 });
    // Other addresses are unaffected.
    expect(attempt('new@x', '198.51.100.9', true).ok).toBe(true);
  });

  it('under attack from many addresses, gives each address one try on the account; clean addresses still get in', () => {
    const { attempt } = setup();
    for (let a = 0; a < 10; a++) for (let i = 0; i < 5; i++) attempt('a@x', `203.0.113.${a}`);
    // Now 50 failures on a@x: an address with one failure there waits for the window...
    attempt('a@x', '192.0.2.1');
    expect(attempt('a@x', '192.0.2.1')).toMatchObject({ ok: false, reason: 'account' });
    // ...while an address without failures on a@x logs in.
    expect(attempt('a@x', '198.51.100.9', true).ok).toBe(true);
  });

  it('keys IPv6 addresses by their /64', () => {
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:2:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('::ffff:198.51.100.7')).toBe('198.51.100.7');
    expect(addressKey('198.51.100.7')).toBe('198.51.100.7');
    const { attempt } = setup();
    for (let i = 0; i < 5; i++) attempt('a@x', `2001:db8:1:2::${i + 1}`);
    expect(attempt('a@x', '2001:db8:1:2::99')).toMatchObject({ reason: 'account' });
  });
});

describe('OncePerWindow', () => {
  it('lets the first event per key through once per window', () => {
    let now = 0;
    const once = new OncePerWindow(1000, () => now);
    expect([once.first('k'), once.first('k'), once.first('j')]).toEqual([true, false, true]);
    now = 999;
    expect(once.first('k')).toBe(false);
    now = 1000;
    expect(once.first('k')).toBe(true);
  });
});

it('says waits in words', () => {
  expect([1, 30, 60, 61, 900].map(inWords)).toEqual([
    '1 second',
    '30 seconds',
    '1 minute',
    '2 minutes',
    '15 minutes',
  ]);
});
