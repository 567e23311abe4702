/**
 * One direction of the impairment relay's link (`Link`), without sockets: its loss, delay,
 * jitter, rate and cut decisions with a seeded random source and a fake clock, so what is
 * measured is the model alone, the same on every run and on a busy machine. The bounds are
 * statistical: each holds for any seed (several are tried), so a broken model fails them.
 * test/unit/relay.test.ts checks that the relay applies this model to real sockets.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  burstLoss,
  DEFAULT_LINK,
  Link,
  seededRandom,
  type LinkSettings,
} from '../support/relay/index.js';

const SEEDS = [1, 2, 3, 0xdecaf];

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** A datagram link on the fake clock; records each delivery with its time. */
function link(settings: Partial<LinkSettings>, seed = 1, cutUntil?: () => number) {
  const delivered: { at: number; packet: Buffer }[] = [];
  // The link reads its settings per packet: built once unless a cut changes them.
  const fixed = { ...DEFAULT_LINK, ...settings, cutUntil: 0, blocked: false };
  const l = new Link({
    mode: 'datagram',
    settings: cutUntil ? () => ({ ...fixed, cutUntil: cutUntil() }) : () => fixed,
    random: seededRandom(seed),
    jitterRandom: seededRandom(seed + 1_000_000),
    now: () => Date.now(),
    deliver: (packet) => delivered.push({ at: Date.now(), packet }),
  });
  return { link: l, delivered };
}

/** A numbered packet, with the fake time it was offered. */
const packet = (seq: number, size = 100) => {
  const p = Buffer.alloc(size);
  p.writeUInt32BE(seq, 0);
  p.writeDoubleBE(Date.now(), 4);
  return p;
};
const seqOf = (p: Buffer) => p.readUInt32BE(0);
const sentAt = (p: Buffer) => p.readDoubleBE(4);

/** Offers `count` packets back to back (no rate, no delay: decided and delivered at once). */
function lossPattern(settings: Partial<LinkSettings>, count: number, seed: number): boolean[] {
  const { link: l } = link(settings, seed);
  const lost = Array.from({ length: count }, (_, i) => !l.push(packet(i)));
  // Every packet is accounted for: delivered, or counted as lost.
  expect(l.stats.delivered + l.stats.droppedLoss).toBe(count);
  expect(l.stats.droppedLoss).toBe(lost.filter(Boolean).length);
  return lost;
}

/** The loss rate and the mean length of runs of consecutive losses. */
function lossFigures(lost: boolean[]) {
  const runs: number[] = [];
  let run = 0;
  for (const l of [...lost, false]) {
    if (l) run++;
    else if (run) {
      runs.push(run);
      run = 0;
    }
  }
  return {
    rate: lost.filter(Boolean).length / lost.length,
    meanRun: runs.reduce((a, b) => a + b, 0) / runs.length,
  };
}

const quantile = (xs: number[], q: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
};

// Hundreds of thousands of draws: CPU only, no waiting, so a starved machine (a parallel
// test file, a real-time relay thread) only makes them slower; the bound is not about time.
describe('Link: loss', { timeout: 120_000 }, () => {
  it('random loss: the rate it was told, each packet on its own (runs as short as chance makes them)', () => {
    for (const seed of SEEDS) {
      // 20 000 draws at 10 %: standard error 0.21 %; the bounds are 4 of them.
      const { rate, meanRun } = lossFigures(lossPattern({ loss: 0.1 }, 20_000, seed));
      expect(rate, `seed ${seed}`).toBeGreaterThan(0.092);
      expect(rate, `seed ${seed}`).toBeLessThan(0.108);
      // Independent losses: mean run 1 / (1 - 0.1) ≈ 1.11.
      expect(meanRun, `seed ${seed}`).toBeLessThan(1.2);
    }
  });

  it('bursts (Gilbert-Elliott): the mean rate and burst length it was told', () => {
    for (const seed of SEEDS) {
      // 60 000 packets at 10 % in bursts of 4: ~1500 bursts. Standard errors: 0.3 % on the
      // rate (correlated draws), 0.09 on the mean burst; the bounds are 4-5 of them.
      const { rate, meanRun } = lossFigures(
        lossPattern({ burst: burstLoss(0.1, 4) }, 60_000, seed),
      );
      expect(rate, `seed ${seed}`).toBeGreaterThan(0.085);
      expect(rate, `seed ${seed}`).toBeLessThan(0.115);
      expect(meanRun, `seed ${seed}`).toBeGreaterThan(3.6);
      expect(meanRun, `seed ${seed}`).toBeLessThan(4.4);
    }
  });

  it('a seed replays the same losses; another seed draws others; jitter does not shift them', () => {
    const burst = { burst: burstLoss(0.1, 4) };
    const a = lossPattern(burst, 5000, 7);
    expect(lossPattern(burst, 5000, 7)).toEqual(a);
    expect(lossPattern(burst, 5000, 8)).not.toEqual(a);
    // Jitter draws from its own stream: the same packets are lost with it.
    const { link: jittered } = link({ ...burst, delayMs: 10, jitterMs: 5 }, 7);
    expect(Array.from({ length: 5000 }, (_, i) => !jittered.push(packet(i)))).toEqual(a);
  });
});

describe('Link: delay and jitter (fake clock)', () => {
  it('adds exactly the delay it was told, never early, in order', () => {
    const { link: l, delivered } = link({ delayMs: 40 });
    for (let i = 0; i < 100; i++) {
      l.push(packet(i));
      vi.advanceTimersByTime(5);
    }
    vi.advanceTimersByTime(100);
    expect(delivered.map((d) => seqOf(d.packet))).toEqual([...Array(100).keys()]);
    for (const d of delivered) expect(d.at - sentAt(d.packet)).toBe(40);
  });

  it('spreads delay uniformly by the jitter it was told; without reorder nothing overtakes', () => {
    for (const seed of SEEDS) {
      const { link: l, delivered } = link({ delayMs: 50, jitterMs: 20, reorder: true }, seed);
      for (let i = 0; i < 2000; i++) {
        l.push(packet(i));
        vi.advanceTimersByTime(3);
      }
      vi.advanceTimersByTime(200);
      expect(delivered).toHaveLength(2000);
      const d = delivered.map((x) => x.at - sentAt(x.packet));
      // Uniform on [30, 70] ms (timers fire on whole milliseconds: ±1 ms).
      expect(Math.min(...d)).toBeGreaterThanOrEqual(29);
      expect(Math.max(...d)).toBeLessThanOrEqual(71);
      // Quartiles at 40, 50 and 60 ms; 2000 draws put each within ~1 ms.
      expect(Math.abs(quantile(d, 0.25) - 40), `seed ${seed}`).toBeLessThan(2.5);
      expect(Math.abs(quantile(d, 0.5) - 50), `seed ${seed}`).toBeLessThan(2.5);
      expect(Math.abs(quantile(d, 0.75) - 60), `seed ${seed}`).toBeLessThan(2.5);
      // With reorder, some packets do overtake.
      const seqs = delivered.map((x) => seqOf(x.packet));
      expect(seqs).not.toEqual([...seqs].sort((a, b) => a - b));
    }
    const { link: l, delivered } = link({ delayMs: 50, jitterMs: 20, reorder: false });
    for (let i = 0; i < 500; i++) {
      l.push(packet(i));
      vi.advanceTimersByTime(3);
    }
    vi.advanceTimersByTime(200);
    expect(delivered.map((d) => seqOf(d.packet))).toEqual([...Array(500).keys()]);
    expect(Math.min(...delivered.map((x) => x.at - sentAt(x.packet)))).toBeGreaterThanOrEqual(29);
  });
});

describe('Link: rate cap (fake clock)', () => {
  it('passes the rate it was told, drops the excess at the tail of a queue of 300 ms', () => {
    const t0 = Date.now();
    const { link: l, delivered } = link({ rateBps: 400_000 });
    // 1 Mbit/s offered for 3 s: 1000-byte packets, 5 every 40 ms.
    for (let i = 0; i < 375; i += 5) {
      for (let j = 0; j < 5; j++) l.push(packet(i + j, 1000));
      vi.advanceTimersByTime(40);
    }
    vi.advanceTimersByTime(1000);
    // Steady state, 1 s to 3 s: 400 kbit/s is 100 000 bytes in 2 s, give or take a packet.
    const bytes = delivered
      .filter((d) => d.at - t0 >= 1000 && d.at - t0 < 3000)
      .reduce((n, d) => n + d.packet.length, 0);
    expect(bytes).toBeGreaterThanOrEqual(99_000);
    expect(bytes).toBeLessThanOrEqual(101_000);
    expect(l.stats.droppedQueue).toBeGreaterThan(150);
    expect(l.stats.delivered + l.stats.droppedQueue).toBe(375);
    // 15 000 bytes of queue drain in 300 ms at 400 kbit/s; one more packet may be in service.
    const waits = delivered.map((d) => d.at - sentAt(d.packet));
    expect(Math.max(...waits)).toBeLessThanOrEqual(300 + 20 + 1);
    expect(quantile(waits, 0.5)).toBeGreaterThan(250); // the queue stays full under overload
  });
});

describe('Link: cut (fake clock)', () => {
  it('drops what is offered during a cut and what was still on its way; nothing after', () => {
    let cutUntil = 0;
    const { link: l, delivered } = link({ delayMs: 20 }, 1, () => cutUntil);
    const send = (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        l.push(packet(i));
        vi.advanceTimersByTime(10);
      }
    };
    const t0 = Date.now();
    send(0, 40); // 0.4 s
    cutUntil = Date.now() + 500;
    const cutAt = Date.now();
    send(40, 90); // 0.5 s, all during the cut
    send(90, 140);
    vi.advanceTimersByTime(100);
    const got = delivered.map((d) => seqOf(d.packet));
    // Due (offered + 20 ms) by the time the cut began: delivered. Due later: lost.
    expect(got.filter((s) => s < 40)).toEqual([...Array(39).keys()]);
    expect(got.some((s) => s >= 39 && s < 90)).toBe(false);
    expect(got.filter((s) => s >= 90)).toEqual(Array.from({ length: 50 }, (_, i) => 90 + i));
    expect(l.stats.droppedCut).toBe(140 - got.length);
    expect(delivered.every((d) => d.at <= cutAt || d.at >= cutUntil)).toBe(true);
    expect(cutAt - t0).toBe(400);
  });
});
