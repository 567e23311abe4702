/**
 * The first-key-frame chase's schedule, on a scripted consumer and a fake clock: it asks again
 * after `intervalMs`, then waits twice as long each time, and stops at the first forwarded key
 * frame. (test/integration/firstKeyFrame.test.ts runs it on a real worker.)
 */
import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { chaseFirstKeyFrame } from '../../src/sfu/firstKeyFrame.js';

/** A resumed video consumer that records when it is asked for a key frame. */
function scriptedConsumer() {
  const events = new EventEmitter();
  const asked: number[] = [];
  const consumer = {
    kind: 'video',
    type: 'simple',
    closed: false,
    paused: false,
    preferredLayers: undefined,
    rtpParameters: { codecs: [], encodings: [{}] },
    observer: new EventEmitter(),
    on: (e: string, f: (...a: unknown[]) => void) => events.on(e, f),
    off: (e: string, f: (...a: unknown[]) => void) => events.off(e, f),
    enableTraceEvent: async () => undefined,
    requestKeyFrame: async () => {
      asked.push(Date.now());
    },
  };
  const forward = () => events.emit('trace', { type: 'keyframe', direction: 'out' });
  return { consumer: consumer as unknown as types.Consumer, asked, forward };
}

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('the first-key-frame chase', () => {
  it('asks again after the interval, then after twice the wait before, up to its retries', () => {
    const { consumer, asked } = scriptedConsumer();
    chaseFirstKeyFrame(consumer, { intervalMs: 350, maxRetries: 4, startLowest: false });
    vi.advanceTimersByTime(10_000);
    expect(asked).toEqual([350, 350 + 700, 350 + 700 + 1400, 350 + 700 + 1400 + 2800]);
  });

  it('asks nothing more once a key frame is forwarded', () => {
    const { consumer, asked, forward } = scriptedConsumer();
    chaseFirstKeyFrame(consumer, { intervalMs: 350, maxRetries: 4, startLowest: false });
    vi.advanceTimersByTime(400);
    forward();
    vi.advanceTimersByTime(10_000);
    expect(asked).toEqual([350]);
  });
});
