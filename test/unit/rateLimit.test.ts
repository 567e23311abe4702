/** The token bucket and the flood detector, on a fake clock. */
import { describe, expect, it } from 'vitest';
import { EventLimiter, TokenBucket } from '../../src/signalling/rateLimit.js';

function fakeClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('TokenBucket', () => {
  it('allows a burst, then the rate, and refills over time up to the burst', () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(2, 5, clock.now);
    const burst = Array.from({ length: 7 }, () => bucket.take());
    expect(burst).toEqual([true, true, true, true, true, false, false]);
    clock.advance(500);
    expect([bucket.take(), bucket.take()]).toEqual([true, false]);
    clock.advance(60_000);
    expect(Array.from({ length: 6 }, () => bucket.take()).filter(Boolean)).toHaveLength(5);
  });

  it('says how long to wait for the next token', () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(0.2, 1, clock.now);
    bucket.take();
    expect(bucket.take()).toBe(false);
    expect(bucket.waitSeconds()).toBe(5);
  });
});

describe('EventLimiter', () => {
  const limits = { perSecond: 10, burst: 20, floodFactor: 10, floodSeconds: 5 };

  it('refuses events past the burst and rate without flagging a flood', () => {
    const clock = fakeClock();
    const limiter = new EventLimiter(limits, clock.now);
    const verdicts = Array.from({ length: 30 }, () => limiter.check());
    expect(verdicts.filter((v) => v === 'ok')).toHaveLength(20);
    expect(verdicts.filter((v) => v === 'limited')).toHaveLength(10);
    clock.advance(1000);
    expect(limiter.check()).toBe('ok');
  });

  it('flags a flood only after 10x the rate for the whole window', () => {
    const clock = fakeClock();
    const limiter = new EventLimiter(limits, clock.now);
    // 10x the rate (100/s) for 5 s: 500 events, the limit of the window, is not yet a flood.
    let flooded = false;
    for (let s = 0; s < 5; s++) {
      for (let i = 0; i < 100; i++) flooded ||= limiter.check() === 'flood';
      clock.advance(1000);
    }
    expect(flooded).toBe(false);
    // Past 10x: the window's count goes over and the socket is flagged.
    for (let i = 0; i < 100; i++) flooded ||= limiter.check() === 'flood';
    expect(limiter.check()).toBe('flood');
  });

  it('forgets old seconds: a short burst followed by quiet is never a flood', () => {
    const clock = fakeClock();
    const limiter = new EventLimiter(limits, clock.now);
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 400; i++) expect(limiter.check()).not.toBe('flood');
      clock.advance(6000);
    }
  });
});
