/**
 * The layer watch's rules, on a fake clock and a stand-in producer whose per-layer packet
 * counters the test advances (a real sender stopping a layer is in
 * test/integration/bandwidth.test.ts).
 */
import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_LAYER_WATCH, LayerWatch } from '../../src/sfu/LayerWatch.js';

const { intervalMs, stallMs, resumeMs } = DEFAULT_LAYER_WATCH;

/** A producer with `layers` simulcast encodings; `sending[i]` says whether layer i sends. */
function fakeProducer(layers: number) {
  const packets = Array.from({ length: layers }, () => 0);
  const sending = Array.from({ length: layers }, () => true);
  let statsCalls = 0;
  const observer = new EventEmitter();
  const producer = {
    kind: 'video',
    closed: false,
    observer,
    rtpParameters: { encodings: packets.map((_, i) => ({ rid: `r${i}` })) },
    getStats: async () => {
      statsCalls++;
      return packets.map((_, i) => ({ rid: `r${i}`, packetCount: packets[i] }));
    },
  };
  return {
    producer: producer as unknown as types.Producer,
    sending,
    get statsCalls() {
      return statsCalls;
    },
    /** Runs the clock for `ms`, the sending layers sending a packet every 20 ms. */
    async run(ms: number) {
      for (let t = 0; t < ms; t += 20) {
        sending.forEach((on, i) => {
          if (on) packets[i]!++;
        });
        await vi.advanceTimersByTimeAsync(20);
      }
    },
    close: () => observer.emit('close'),
  };
}

/** A held watch of a sender with `layers` layers, all of them sent for a second; its changes. */
async function watching(layers: number) {
  const sender = fakeProducer(layers);
  const watch = LayerWatch.for(sender.producer)!;
  const changes: (number | null)[] = [];
  watch.on('change', (limit) => changes.push(limit));
  watch.retain();
  await sender.run(1000);
  return { sender, watch, changes };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('LayerWatch', () => {
  it('sets no limit while every layer is sent, and the highest layer still sent once the best one stops', async () => {
    const { sender, watch, changes } = await watching(3);
    expect(watch.limit).toBeNull();

    sender.sending[2] = false;
    await sender.run(stallMs + 2 * intervalMs);
    expect(watch.limit).toBe(1);
    sender.sending[1] = false;
    await sender.run(stallMs + 2 * intervalMs);
    expect(watch.limit).toBe(0);
    expect(changes).toEqual([1, 0]);
  });

  it('counts a layer that comes back only once it has been sent for a while', async () => {
    const { sender, watch } = await watching(3);
    sender.sending[2] = false;
    await sender.run(stallMs + 2 * intervalMs);
    expect(watch.limit).toBe(1);

    sender.sending[2] = true;
    await sender.run(resumeMs / 2);
    expect(watch.limit).toBe(1);
    await sender.run(resumeMs / 2 + 2 * intervalMs);
    expect(watch.limit).toBeNull();
  });

  it('sets no limit when the sender sends nothing at all (paused or cut off)', async () => {
    const { sender, watch, changes } = await watching(3);
    sender.sending.fill(false);
    await sender.run(stallMs + 2 * intervalMs);
    expect(watch.limit).toBeNull();
    // All back at once: nothing to recover from as far as receivers are concerned.
    sender.sending.fill(true);
    await sender.run(2 * intervalMs);
    expect(watch.limit).toBeNull();
    expect(changes).toEqual([]);
  });

  it('keeps its limit while every layer is silent at once (an encoder restarting), and the layers that were sent count again at once', async () => {
    const { sender, watch, changes } = await watching(3);
    sender.sending[2] = false;
    await sender.run(stallMs + 2 * intervalMs);
    expect(watch.limit).toBe(1);
    // Chromium restarts its encoder when a layer is turned off: nothing is sent for a while.
    sender.sending[0] = sender.sending[1] = false;
    await sender.run(stallMs + 3 * intervalMs);
    expect(watch.limit).toBe(1);
    sender.sending[0] = sender.sending[1] = true;
    await sender.run(2 * intervalMs);
    expect(watch.limit).toBe(1);
    // The stopped layer still has to hold before it counts.
    sender.sending[2] = true;
    await sender.run(resumeMs / 2);
    expect(watch.limit).toBe(1);
    await sender.run(resumeMs / 2 + 2 * intervalMs);
    expect(watch.limit).toBeNull();
    expect(changes).toEqual([1, null]);
  });

  it('after a pause, a layer that does not come back with the others is limited at once', async () => {
    const { sender, watch } = await watching(3);
    sender.sending.fill(false);
    await sender.run(3000);
    expect(watch.limit).toBeNull();
    sender.sending[0] = sender.sending[1] = true;
    await sender.run(stallMs + 2 * intervalMs);
    expect(watch.limit).toBe(1);
  });

  it('is shared per producer, polls only while held, and only for simulcast video', async () => {
    const sender = fakeProducer(2);
    const watch = LayerWatch.for(sender.producer)!;
    expect(LayerWatch.for(sender.producer)).toBe(watch);
    await sender.run(1000);
    expect(sender.statsCalls).toBe(0);

    const release = watch.retain();
    await sender.run(1000);
    const polled = sender.statsCalls;
    expect(polled).toBeGreaterThanOrEqual(1000 / intervalMs - 1);
    release();
    await sender.run(1000);
    expect(sender.statsCalls).toBe(polled);

    // A closed producer's watch is gone; the next one starts afresh.
    sender.close();
    expect(LayerWatch.for(sender.producer)).not.toBe(watch);

    const single = fakeProducer(1);
    expect(LayerWatch.for(single.producer)).toBeNull();
    const audio = { ...fakeProducer(2).producer, kind: 'audio' } as types.Producer;
    expect(LayerWatch.for(audio)).toBeNull();
  });
});
