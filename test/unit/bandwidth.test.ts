/** The bandwidth-adaptation decisions, on fake measurements and a fake clock. */
import type { types } from 'mediasoup';
import { describe, expect, it } from 'vitest';
import {
  allocate,
  decide,
  DEFAULT_POLICY,
  FULL,
  videoBudget,
  type Cap,
  type PolicyInput,
  type PolicyMemory,
  type PolicyOptions,
  type VideoConsumerInput,
  trialFloor,
  type VideoLevel,
} from '../../src/sfu/bandwidthPolicy.js';
import {
  delayBound,
  newDelayState,
  newProbeState,
  probeDue,
} from '../../src/sfu/bandwidthSignals.js';
import { videoLevels } from '../../src/sfu/layers.js';

/** A simulcast camera as the client sends it: 7.5/15/30 fps at 160p, then 320p and 640p. */
const cameraLevels: VideoLevel[] = [
  { spatialLayer: 0, temporalLayer: 0, bitrate: 40_000 },
  { spatialLayer: 0, temporalLayer: 1, bitrate: 70_000 },
  { spatialLayer: 0, temporalLayer: 2, bitrate: 100_000 },
  { spatialLayer: 1, temporalLayer: 2, bitrate: 300_000 },
  { spatialLayer: 2, temporalLayer: 2, bitrate: 900_000 },
];
const camera = (id: string): VideoConsumerInput => ({ id, source: 'camera', levels: cameraLevels });
const screen = (id: string, bitrate = 500_000): VideoConsumerInput => ({
  id,
  source: 'screen',
  levels: [{ spatialLayer: 0, temporalLayer: 0, bitrate }],
});

describe('allocate()', () => {
  it('gives every consumer full quality when the budget allows', () => {
    expect(allocate(2_000_000, [camera('a'), camera('b')])).toEqual(
      new Map([
        ['a', 4],
        ['b', 4],
      ]),
    );
  });

  it('spreads a tight budget: everyone gets a level before anyone gets two', () => {
    // 2 × 100 k at 30 fps fits, a 320p layer for one of them does not.
    expect(allocate(250_000, [camera('a'), camera('b')])).toEqual(
      new Map([
        ['a', 2],
        ['b', 2],
      ]),
    );
    expect(allocate(50_000, [camera('a'), camera('b')])).toEqual(
      new Map([
        ['a', 0],
        ['b', -1],
      ]),
    );
  });

  it('serves screen share first: its bitrate before any camera', () => {
    // Listed camera-first on purpose: the order of the input does not matter.
    const got = allocate(550_000, [camera('cam'), screen('scr', 500_000)]);
    expect(got.get('scr')).toBe(0);
    expect(got.get('cam')).toBe(0); // 40 k left for the 7.5 fps 160p level
    const tight = allocate(520_000, [camera('cam'), screen('scr', 500_000)]);
    expect(tight).toEqual(
      new Map([
        ['scr', 0],
        ['cam', -1],
      ]),
    );
  });

  it('never counts a level as cheaper than the one below it (encoders ramp unevenly)', () => {
    const uneven: VideoConsumerInput = {
      id: 'u',
      source: 'camera',
      levels: [
        { spatialLayer: 0, temporalLayer: 2, bitrate: 150_000 },
        { spatialLayer: 1, temporalLayer: 2, bitrate: 90_000 },
      ],
    };
    expect(allocate(149_000, [uneven]).get('u')).toBe(-1);
    expect(allocate(150_000, [uneven]).get('u')).toBe(1);
  });
});

describe('videoBudget()', () => {
  const input = (over: Partial<PolicyInput>): PolicyInput => ({
    now: 0,
    availableBitrate: 1_000_000,
    audioBitrate: 50_000,
    congested: false,
    consumers: [],
    ...over,
  });

  it('reserves audio off the top, after the headroom', () => {
    expect(videoBudget(input({}), DEFAULT_POLICY)).toBeCloseTo(850_000 - 50_000);
    expect(videoBudget(input({ availableBitrate: 50_000 }), DEFAULT_POLICY)).toBe(0);
  });

  it('trusts the estimate less while the receiver loses packets', () => {
    expect(videoBudget(input({ congested: true }), DEFAULT_POLICY)).toBeCloseTo(
      850_000 * 0.7 - 50_000,
    );
  });
});

describe('decide(): hysteresis over time', () => {
  /** Runs decisions once a second over a bitrate profile; returns the cap after each. */
  function run(
    profile: number[],
    consumers: VideoConsumerInput[] = [camera('a')],
    memory: PolicyMemory = new Map(),
    audioBitrate = 40_000,
    lossAt: (second: number) => boolean = () => false,
  ) {
    return profile.map((availableBitrate, second) => {
      const congested = lossAt(second);
      const { caps } = decide(
        { now: second * 1000, availableBitrate, audioBitrate, congested, consumers },
        memory,
      );
      return Object.fromEntries(caps) as Record<string, Cap>;
    });
  }
  const spatial = (cap: Cap) => (cap === null ? 'paused' : cap === FULL ? 'full' : cap);
  /** Decisions for camera 'a' at given seconds (with `ceiling`: a live estimate of mediasoup's). */
  const cameraAt =
    (memory: PolicyMemory, ceiling?: number) =>
    (second: number, availableBitrate: number, overloaded = false) => {
      const d = decide(
        {
          now: second * 1000,
          availableBitrate,
          ...(ceiling === undefined ? {} : { estimateCeiling: ceiling }),
          audioBitrate: 40_000,
          congested: false,
          overloaded,
          consumers: [camera('a')],
        },
        memory,
      );
      return { cap: spatial(d.caps.get('a')!), trial: d.trials.includes('a') };
    };

  it('starts at full quality and drops at once when the estimate falls with loss', () => {
    const profile = [2_000_000, 2_000_000, 430_000];
    const caps = run(profile, undefined, undefined, undefined, (s) => s === 2);
    expect(caps.map((c) => spatial(c.a!)).slice(0, 2)).toEqual(['full', 'full']);
    // 430 k × 0.85 × 0.7 (congested) − 40 k audio = 216 k: the 30 fps 160p level (100 k).
    expect(spatial(caps[2]!.a!)).toEqual({ spatialLayer: 0, temporalLayer: 2 });
  });

  it('on the estimate alone, lowers the cap only once the estimate has stayed low for downgradeAfterMs', () => {
    // A 1 s dip with no loss (a starved machine's delay jitter) leaves the cap: mediasoup's
    // own allocation follows it, and the camera is back on top as soon as the estimate is.
    const dip = run([2_000_000, 300_000, 2_000_000, 2_000_000]).map((c) => spatial(c.a!));
    expect(dip).toEqual(['full', 'full', 'full', 'full']);
    // A lasting drop: lowered 2 s after it was first seen.
    const drop = run([2_000_000, 300_000, 300_000, 300_000]).map((c) => spatial(c.a!));
    expect(drop.slice(0, 3)).toEqual(['full', 'full', 'full']);
    // 300 k × 0.85 − 40 k audio = 215 k: the 30 fps 160p level (100 k).
    expect(drop[3]).toEqual({ spatialLayer: 0, temporalLayer: 2 });
  });

  it('pauses video only after nothing has fitted for pauseAfterMs, audio keeps its share', () => {
    const caps = run([2_000_000, 60_000, 60_000, 60_000]).map((c) => spatial(c.a!));
    // 60 k × 0.85 − 40 k = 11 k: not even 7.5 fps 160p (40 k) fits.
    expect(caps[1]).toEqual({ spatialLayer: 0, temporalLayer: 0 });
    expect(caps[2]).toBe('paused');
    expect(caps[3]).toBe('paused');
  });

  it('a brief dip lowers the layer but does not pause', () => {
    const caps = run([2_000_000, 60_000, 300_000, 300_000]).map((c) => spatial(c.a!));
    expect(caps[1]).toEqual({ spatialLayer: 0, temporalLayer: 0 });
    expect(caps.slice(2)).not.toContain('paused');
  });

  it('resumes and raises only after the hold time, then climbs to full quality', () => {
    const profile = [2_000_000, 60_000, 60_000, 60_000, ...Array(12).fill(2_000_000)];
    const caps = run(profile).map((c) => spatial(c.a!));
    const firstUp = caps.findIndex((c, i) => i > 3 && c !== 'paused');
    // Paused at t=2 s; resumed no sooner than 4 s later, straight to what fits with margin.
    expect(firstUp).toBe(6);
    expect(caps[6]).toBe('full');
    expect(caps.slice(6)).toEqual(Array(profile.length - 6).fill('full'));
  });

  it('a resume that the estimate allows while all video is paused is a trial, which overload ends silently', () => {
    // Paused under a cap; with only audio flowing the estimate stays at 120 k, where the
    // lowest level (40 k) seems to fit with margin (120 k × 0.85 − 40 k = 62 k): the link was
    // not seen since the pause, so the resume is on trial, and the queue it builds ends it.
    const memory: PolicyMemory = new Map();
    const at = cameraAt(memory);
    at(0, 2_000_000);
    at(1, 60_000, true);
    expect(at(2, 60_000, true).cap).toBe('paused');
    for (let t = 3; t < 6; t++) expect(at(t, 120_000).cap).toBe('paused');
    expect(at(6, 120_000)).toEqual({ cap: { spatialLayer: 0, temporalLayer: 0 }, trial: true });
    expect(at(7, 120_000, true)).toEqual({ cap: 'paused', trial: false });
  });

  it('tries paused video again at its lowest level after the hold, and backs off when that fails', () => {
    const memory: PolicyMemory = new Map();
    const seen = Array.from({ length: 21 }, (_, second) => {
      const d = decide(
        {
          now: second * 1000,
          availableBitrate: second === 0 ? 2_000_000 : 60_000,
          audioBitrate: 40_000,
          congested: false,
          consumers: [camera('a')],
        },
        memory,
      );
      return { cap: spatial(d.caps.get('a')!), trial: d.trials.includes('a') };
    });
    const lowest = { spatialLayer: 0, temporalLayer: 0 };
    expect(seen[1]!.cap).toEqual(lowest);
    expect(seen.slice(2, 6).map((s) => s.cap)).toEqual(Array(4).fill('paused'));
    // Four seconds after the pause: a trial at the lowest level for 3 s; the estimate did not
    // come up, so it is paused again.
    expect(seen[6]).toEqual({ cap: lowest, trial: true });
    expect(seen.slice(7, 9)).toEqual([
      { cap: lowest, trial: true },
      { cap: lowest, trial: true },
    ]);
    expect(seen[9]).toEqual({ cap: 'paused', trial: false });
    // The failed trial grew the hold by half: the next one comes 6 s after that pause.
    expect(seen.slice(10, 15).every((s) => s.cap === 'paused' && !s.trial)).toBe(true);
    expect(seen[15]).toEqual({ cap: lowest, trial: true });
  });

  it('ends a trial at once when the receiver reports overload, and keeps one that fits', () => {
    const run2 = (estimate: (second: number) => number, overloadedAt: number | null) => {
      const memory: PolicyMemory = new Map();
      return Array.from({ length: 10 }, (_, second) => {
        const d = decide(
          {
            now: second * 1000,
            availableBitrate: second === 0 ? 2_000_000 : estimate(second),
            audioBitrate: 40_000,
            congested: false,
            overloaded: second === overloadedAt,
            consumers: [camera('a')],
          },
          memory,
        );
        return spatial(d.caps.get('a')!);
      });
    };
    // Trial at 6 s; overload reported at 7 s: paused again at once.
    expect(run2(() => 60_000, 7)[7]).toBe('paused');
    // Trial at 6 s; the probe found the link open at 8 s: at 9 s the trial holds.
    const opened = run2((s) => (s >= 8 ? 400_000 : 60_000), null);
    expect(opened[9]).not.toBe('paused');
  });

  it('a trial held at its floor keeps its lowest level when the link carries it', () => {
    // The adapter holds the estimate at trialFloor() while the trial runs: at that estimate
    // the trial must hold at its end (a floor any lower would end every trial in a pause).
    const memory: PolicyMemory = new Map();
    const at = (second: number, availableBitrate: number) =>
      decide(
        {
          now: second * 1000,
          availableBitrate,
          audioBitrate: 40_000,
          congested: false,
          overloaded: false,
          consumers: [camera('a')],
        },
        memory,
      );
    let floor = 0;
    const caps: ReturnType<typeof spatial>[] = [];
    for (let second = 0; second < 10; second++) {
      const d = at(second, second === 0 ? 2_000_000 : Math.max(30_000, floor));
      floor = trialFloor(
        { consumers: [camera('a')], audioBitrate: 40_000 },
        d.trials,
        DEFAULT_POLICY,
      );
      caps.push(spatial(d.caps.get('a')!));
      if (second === 6) expect(floor).toBeGreaterThan(30_000); // on trial: a floor is held
    }
    expect(caps[5]).toBe('paused');
    expect(caps[6]).not.toBe('paused');
    expect(caps[9]).not.toBe('paused'); // it held
    expect(floor).toBe(0); // and the floor is gone once it has
  });

  it('after a trial held, keeps its floor while the video stays on its lowest level, until evidence says otherwise', () => {
    // As the adapter does: the estimate is the estimator's own (70 k: fed only the lowest
    // level, it lags) or the floor held for the decision before, whichever is higher.
    const memory: PolicyMemory = new Map();
    let floor = 0;
    const seen = Array.from({ length: 18 }, (_, second) => {
      const own = second === 0 ? 2_000_000 : second < 3 ? 60_000 : 70_000;
      const d = decide(
        {
          now: second * 1000,
          // From 15 s a queue: the adapter's delay bound caps the estimate at what got through.
          availableBitrate: second >= 15 ? 50_000 : Math.max(own, floor),
          audioBitrate: 40_000,
          congested: false,
          overloaded: second === 1 || second === 2 || second >= 15,
          consumers: [camera('a')],
        },
        memory,
      );
      floor = trialFloor(
        { consumers: [camera('a')], audioBitrate: 40_000 },
        d.floors,
        DEFAULT_POLICY,
      );
      return { cap: spatial(d.caps.get('a')!), trial: d.trials.includes('a'), floor };
    });
    const lowest = { spatialLayer: 0, temporalLayer: 0 };
    expect(seen[2]!.cap).toBe('paused');
    expect(seen[6]).toMatchObject({ cap: lowest, trial: true });
    expect(seen[9]).toMatchObject({ cap: lowest, trial: false }); // it held
    // Without the floor the estimate (70 k × 0.85 − 40 k = 20 k) would pause it a second
    // later, and the client would hear "paused" right after "resumed".
    expect(seen.slice(9, 15).every((s) => s.cap !== 'paused' && s.floor > 0)).toBe(true);
    // A queue is evidence about the link: the floor is gone at once, and the video paused
    // once its lowest level has not fitted for pauseAfterMs.
    expect(seen[15]).toEqual({ cap: lowest, trial: false, floor: 0 });
    expect(seen[16]).toEqual({ cap: 'paused', trial: false, floor: 0 });
  });

  it('does not try paused video while other video still flows (the estimate can see the link)', () => {
    const memory: PolicyMemory = new Map();
    const consumers = [camera('cam'), screen('scr', 300_000)];
    const trials = Array.from({ length: 15 }, (_, second) =>
      decide(
        {
          now: second * 1000,
          availableBitrate: second === 0 ? 2_000_000 : 430_000,
          audioBitrate: 40_000,
          congested: false,
          consumers,
        },
        memory,
      ),
    );
    // 430 k × 0.85 − 40 k ≈ 325 k: the screen (300 k) fits, then not 40 k for the camera.
    // (After each hold the camera is raised for a second or two: with the upgrade margin the
    // screen does not fit, so the camera's levels do; the next decision lowers it again.)
    expect(trials.every((d) => d.caps.get('scr') === FULL)).toBe(true);
    expect(trials.slice(2).filter((d) => d.caps.get('cam') === null).length).toBeGreaterThanOrEqual(
      9,
    );
    expect(trials.flatMap((d) => d.trials)).toEqual([]);
  });

  it('needs a margin above a level to climb to it', () => {
    // 1.2 M × 0.85 − 40 k = 980 k: 640p (900 k) fits, but not with a 10 % margin (990 k),
    // so a camera lowered to 160p climbs to 320p and stays there.
    const profile = [300_000, 300_000, 300_000, ...Array(10).fill(1_200_000)];
    const caps = run(profile).map((c) => spatial(c.a!));
    expect(caps[2]).toEqual({ spatialLayer: 0, temporalLayer: 2 });
    expect(caps.slice(3)).not.toContain('full');
    expect(caps[12]).toEqual({ spatialLayer: 1, temporalLayer: 2 });
  });

  it('backs off after failed upgrades instead of flapping on a link that cannot carry them', () => {
    // Three seconds that look good, one with loss that does not, for a minute: each upgrade fails.
    const bad = (i: number) => i % 4 === 3;
    const profile = Array.from({ length: 60 }, (_, i) => (bad(i) ? 600_000 : 1_400_000));
    const caps = run(profile, undefined, undefined, undefined, bad).map((c) =>
      JSON.stringify(spatial(c.a!)),
    );
    const ups = caps.flatMap((c, i) => (i > 0 && c === '"full"' && caps[i - 1] !== c ? [i] : []));
    // Without back-off it would climb every 4 s (15 times); the hold grows to 8 s instead
    // (and the next good stretch of this 4 s cycle comes after that).
    expect(ups.length).toBeGreaterThan(1);
    expect(ups.length).toBeLessThanOrEqual(6);
    const gaps = ups.slice(1).map((t, i) => t - ups[i]!);
    expect(gaps[gaps.length - 1]).toBeGreaterThanOrEqual(12);
  });

  it('treats an estimate at mediasoup\'s ceiling as "the link is not the limit"', () => {
    // mediasoup bounds the estimate at 1.35 × the 900 k the camera could use: 1.215 M.
    // The hold of a carried level is off: this is about the ceiling, not about drops.
    const options = { ...DEFAULT_POLICY, levelHoldMs: 0 };
    const memory: PolicyMemory = new Map();
    const at = (now: number, availableBitrate: number) =>
      decide(
        {
          now,
          availableBitrate,
          estimateCeiling: 1_215_000,
          audioBitrate: 40_000,
          congested: false,
          consumers: [camera('a')],
        },
        memory,
        options,
      ).caps.get('a');
    expect(at(0, 1_215_000)).toBe(FULL);
    expect(at(1000, 1_000_000)).toBe(FULL); // not yet: no loss, and only just lower
    expect(at(3000, 1_000_000)).toEqual({ spatialLayer: 1, temporalLayer: 2 });
    expect(at(8000, 1_215_000)).toEqual({ spatialLayer: 1, temporalLayer: 2 });
    expect(at(10_000, 1_215_000)).toBe(FULL);
  });

  describe('a level held through a drop of the estimate alone (a starved machine)', () => {
    /** mediasoup's ceiling for the camera and audio: 1.35 × (900 k + 40 k). */
    const CEILING = 1_269_000;
    /**
     * The adapter's loop: each second the estimate read is the estimator's own, but never
     * below the floor the previous decision held (mediasoup's minimum outgoing bitrate); a
     * queue, when reported, bounds it by what got through (`bound`).
     */
    function watch(
      seconds: number,
      own: (second: number) => number,
      bound: (second: number) => number | null = () => null,
      memory: PolicyMemory = new Map(),
      options: PolicyOptions = DEFAULT_POLICY,
    ) {
      let floor = 0;
      return Array.from({ length: seconds }, (_, second) => {
        const queue = bound(second);
        const estimate = Math.max(own(second), floor);
        const input: PolicyInput = {
          now: second * 1000,
          availableBitrate: queue === null ? estimate : Math.min(estimate, queue),
          ...(queue === null ? { estimateCeiling: CEILING } : {}),
          audioBitrate: 40_000,
          congested: false,
          overloaded: queue !== null,
          consumers: [camera('a')],
        };
        const d = decide(input, memory, options);
        floor = trialFloor(input, d.floors, options, d.caps);
        return { cap: spatial(d.caps.get('a')!), held: d.held.includes('a'), floor };
      });
    }

    it('keeps full quality on a clean link while the estimate alone collapses for 5 s, its floor held', () => {
      // Under CPU load a probe burst read as overuse: 590 k, under full quality's 900 k.
      const seen = watch(12, (s) => (s >= 2 && s < 7 ? 590_000 : CEILING));
      expect(seen.map((s) => s.cap)).toEqual(Array(12).fill('full'));
      // Held from the first low reading for fullHoldMs, the floor at full quality's need:
      // (900 k + 40 k) / 0.85 × 1.1 = 1.216 M, so mediasoup keeps forwarding the top layer.
      expect(seen.map((s) => s.held)).toEqual(
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map((s) => s >= 2 && s < 6),
      );
      expect(seen[2]!.floor).toBeCloseTo(((900_000 + 40_000) / 0.85) * 1.1, -3);
      expect(seen[11]!.floor).toBe(0);
    });

    it('a queue ends the hold at once: a real cap lowers the camera as before', () => {
      // The cap lands at 2 s: the estimate falls first, the floored stream overflows the
      // queue a second later and the reports bound the link at 400 k.
      const seen = watch(
        6,
        (s) => (s < 2 ? CEILING : 590_000),
        (s) => (s >= 3 ? 400_000 : null),
      );
      expect(seen[2]).toEqual({ cap: 'full', held: true, floor: expect.any(Number) as number });
      // 400 k × 0.85 − 40 k = 300 k: 320p.
      expect(seen[3]).toEqual({
        cap: { spatialLayer: 1, temporalLayer: 2 },
        held: false,
        floor: 0,
      });
      expect(seen.slice(3).every((s) => !s.held && s.floor === 0)).toBe(true);
    });

    it('an estimate that stays low lowers the camera after the hold and downgradeAfterMs, and is not held again at once', () => {
      // Up to 13 s: from then a climb tries full quality again, its floor held (see below).
      const seen = watch(13, (s) => (s < 2 ? CEILING : 590_000));
      const lowered = seen.findIndex((s) => s.cap !== 'full');
      // Held 2-6 s; its floor is lifted at 6 s, the estimate read low from 7 s, 2 s more.
      expect(lowered).toBe(9);
      // 590 k × 0.85 − 40 k = 461 k: 320p.
      expect(seen[lowered]!.cap).toEqual({ spatialLayer: 1, temporalLayer: 2 });
      expect(seen.filter((s) => s.held)).toHaveLength(4);
    });

    it('holds only what the estimate carried at full quality: a new consumer on a low estimate is not held', () => {
      const seen = watch(4, () => 590_000);
      expect(seen.some((s) => s.held || s.floor > 0)).toBe(false);
      expect(seen[2]!.cap).toEqual({ spatialLayer: 1, temporalLayer: 2 });
    });

    /** 160p at 30 fps: what a 300 kbit/s cap left the camera on. */
    const LOW = { spatialLayer: 0, temporalLayer: 2 };
    /** Camera 'a' lowered to 160p at 30 fps by a queue a second ago (so no climb for 3 s). */
    const onLowLevel = (): PolicyMemory => {
      const memory: PolicyMemory = new Map();
      const input = (now: number, availableBitrate: number, overloaded: boolean) => ({
        now,
        availableBitrate,
        audioBitrate: 40_000,
        congested: false,
        overloaded,
        consumers: [camera('a')],
      });
      decide(input(-20_000, 2_000_000, false), memory);
      // 173 k × 0.85 − 40 k = 107 k: 160p at 30 fps (100 k).
      decide(input(-1000, 173_000, true), memory);
      expect(memory.get('a')!.cap).toEqual(LOW);
      return memory;
    };

    it('holds a low level the estimate carried when the estimate alone collapses, its floor held: no pause', () => {
      // Right after a lifted cap on a loaded machine: 173 k, then 41 k for 3 s, clean reports.
      const own = (s: number) => (s === 0 || s >= 4 ? 173_000 : 41_000);
      const seen = watch(6, own, () => null, onLowLevel());
      // Never paused, never below 160p at 30 fps (before: 160p at 7.5 fps at 1 s, paused at 2 s,
      // tried again only after the hold, and climbing from the bottom after that).
      expect(seen.map((s) => s.cap)).not.toContain('paused');
      expect(seen.slice(0, 3).map((s) => s.cap)).toEqual([LOW, LOW, LOW]);
      // Held from the first low reading, the floor at the level's need:
      // (100 k + 40 k) / 0.85 × 1.1 = 181 k, so mediasoup keeps forwarding it.
      expect(seen[0]!.held).toBe(false);
      expect(seen[1]!.held).toBe(true);
      expect(seen[1]!.floor).toBeCloseTo(((100_000 + 40_000) / 0.85) * 1.1, -3);
      // With the old rule (full quality only) the same readings pause the video.
      const old = watch(6, own, () => null, onLowLevel(), {
        ...DEFAULT_POLICY,
        holdBelowFull: false,
      });
      expect(old.map((s) => s.cap)).toContain('paused');
    });

    it('a queue ends the hold of a low level at once: a real cap still pauses the video', () => {
      // A 60 k cap: the estimate falls first, the floored stream overflows the queue a second
      // later, and the reports bound the link at 50 k, which not even 7.5 fps 160p fits.
      const seen = watch(
        6,
        (s) => (s === 0 ? 173_000 : 41_000),
        (s) => (s >= 2 ? 50_000 : null),
        onLowLevel(),
      );
      expect(seen[1]).toEqual({ cap: LOW, held: true, floor: expect.any(Number) as number });
      // Lowered at once, paused after pauseAfterMs (as without a hold), no floor from then on.
      expect(seen[2]).toEqual({
        cap: { spatialLayer: 0, temporalLayer: 0 },
        held: false,
        floor: 0,
      });
      expect(seen[3]!.cap).toBe('paused');
      expect(seen.slice(2).every((s) => !s.held && s.floor === 0)).toBe(true);
    });

    it('holds no level that loss or a queue chose, until the estimate alone has carried it', () => {
      // Lowered by a queue to 160p at 30 fps; the estimate never carried it since.
      const seen = watch(
        3,
        () => 41_000,
        () => null,
        onLowLevel(),
      );
      expect(seen.some((s) => s.held || s.floor > 0)).toBe(false);
      expect(seen[0]!.cap).toEqual({ spatialLayer: 0, temporalLayer: 0 });
    });
  });

  describe('an estimate that opens up (a lifted cap)', () => {
    /** Decisions with a live estimate (mediasoup's ceiling known: 1.35 × a 2.2 M camera). */
    const live = (memory: PolicyMemory) => cameraAt(memory, 3_000_000);

    it('a trial that failed under a cap, lifted since, does not hold video back once the estimate opens', () => {
      const at = live(new Map());
      at(0, 2_000_000);
      at(1, 60_000, true);
      expect(at(2, 60_000, true).cap).toBe('paused');
      for (let t = 3; t < 6; t++) expect(at(t, 60_000).cap).toBe('paused');
      expect(at(6, 60_000).trial).toBe(true);
      // The trial fails on the capped link: the hold doubles to 8 s.
      expect(at(7, 100_000, true)).toEqual({ cap: 'paused', trial: false });
      // The cap is lifted; a probe finds the link open (2 M × 0.85 − 40 k = 1.66 M: full
      // quality, 900 k, fits with the upgrade and the open margin, 1.49 M). Full quality at
      // once, announced (no trial): before, paused until 15 s and on trial until 18 s.
      expect(at(8, 2_000_000)).toEqual({ cap: 'full', trial: false });
      expect(at(9, 2_000_000)).toEqual({ cap: 'full', trial: false });
    });

    it('climbs to full quality at once, not after the hold, when the estimate opens; a narrower rise waits', () => {
      const opened = live(new Map());
      for (let t = 0; t < 3; t++) opened(t, 300_000);
      expect(opened(2, 300_000).cap).toEqual({ spatialLayer: 0, temporalLayer: 2 });
      expect(opened(3, 2_000_000).cap).toBe('full');
      // 1.3 M × 0.85 − 40 k = 1.065 M: full quality fits with the upgrade margin, not the
      // open margin. The ordinary rules apply: 2 s of fitting and the 4 s hold after the
      // downgrade at 2 s.
      const rose = live(new Map());
      for (let t = 0; t < 3; t++) rose(t, 300_000);
      const caps = [3, 4, 5, 6].map((t) => rose(t, 1_300_000).cap);
      expect(caps.slice(0, 3)).not.toContain('full');
      expect(caps[3]).toBe('full');
    });

    it('an upgrade the open estimate made that then fails is not made again on the same estimate', () => {
      // Three seconds at 2 M, one with a queue at 600 k, for a minute: the wide estimate is
      // wrong about the link. The back-off holds as on any link that cannot carry full quality.
      const at = live(new Map());
      const caps = Array.from({ length: 60 }, (_, t) =>
        t % 4 === 3 ? at(t, 600_000, true).cap : at(t, 2_000_000).cap,
      ).map((c) => JSON.stringify(c));
      const ups = caps.flatMap((c, i) => (i > 0 && c === '"full"' && caps[i - 1] !== c ? [i] : []));
      expect(ups.length).toBeGreaterThan(1);
      expect(ups.length).toBeLessThanOrEqual(6);
    });
  });

  describe('climbing when the estimate alone holds video down', () => {
    /**
     * The adapter's loop on a simulated link of `linkBps`: each second the estimator reads
     * what libwebrtc's would (it cannot rise past 1.5 times what it is fed, nor past the
     * link, nor sink below the floor the adapter holds), the receiver reports a queue while
     * more is sent than the link carries, and the floor of each decision is held for the next.
     */
    function simulate(
      seconds: number,
      linkBps: (second: number) => number,
      start: {
        estimate: number;
        memory?: PolicyMemory;
        probeEveryS?: number;
        /** A starved machine's misreading: what the estimator says that second (above any floor). */
        misread?: (second: number) => number | undefined;
        options?: PolicyOptions;
      },
    ) {
      const memory = start.memory ?? new Map();
      const audioBitrate = 40_000;
      let floor = 0;
      let own = start.estimate;
      let sent = 0;
      /** What the last probe found (the estimate keeps it while the link carries it). */
      let probed = 0;
      const options = start.options ?? DEFAULT_POLICY;
      return Array.from({ length: seconds }, (_, second) => {
        const input: PolicyInput = {
          now: second * 1000,
          availableBitrate: Math.max(start.misread?.(second) ?? Math.max(own, probed), floor),
          estimateCeiling: 1.35 * (900_000 + audioBitrate),
          audioBitrate,
          congested: false,
          overloaded: sent > linkBps(second),
          consumers: [camera('a')],
        };
        const d = decide(input, memory, options);
        floor = trialFloor(input, d.floors, options, d.caps);
        const cap = d.caps.get('a')!;
        const index =
          cap === null
            ? -1
            : cap === FULL
              ? 4
              : cameraLevels.findIndex(
                  (l) =>
                    l.spatialLayer === cap.spatialLayer && l.temporalLayer === cap.temporalLayer,
                );
        sent = (index < 0 ? 0 : cameraLevels[index]!.bitrate) + audioBitrate;
        own = Math.min(linkBps(second), 1.5 * sent);
        // mediasoup's periodic probe (libwebrtc's ALR probe at twice the estimate) sees further.
        const every = start.probeEveryS;
        if (every && second % every === every - 1)
          probed = Math.max(own, 2 * Math.max(own, probed));
        probed = Math.min(probed, linkBps(second));
        return { cap: spatial(cap), climb: d.climbs.includes('a'), floor };
      });
    }
    /** Camera 'a' lowered to its lowest level by a cap a while ago. */
    const lowered = (): PolicyMemory => {
      const memory: PolicyMemory = new Map();
      decide(
        {
          now: -20_000,
          availableBitrate: 2_000_000,
          audioBitrate: 40_000,
          congested: false,
          consumers: [camera('a')],
        },
        memory,
      );
      decide(
        {
          now: -19_000,
          availableBitrate: 60_000,
          audioBitrate: 40_000,
          congested: true,
          overloaded: true,
          consumers: [camera('a')],
        },
        memory,
      );
      expect(spatial(memory.get('a')!.cap)).toEqual({ spatialLayer: 0, temporalLayer: 0 });
      return memory;
    };

    it('after a lifted cap, climbs a step at a time with its floor held, to full quality within 10 s', () => {
      // Fed only 7.5 fps 160p (40 k) and audio, the estimator stops at 120 k: on the estimate
      // alone the camera would stay there for good.
      const seen = simulate(12, () => 10_000_000, { estimate: 120_000, memory: lowered() });
      const full = seen.findIndex((s) => s.cap === 'full');
      expect(full).toBeGreaterThan(0);
      expect(full).toBeLessThanOrEqual(10);
      // One step at a time: 160p at 30 fps, 320p, then full quality; each on trial with its floor.
      const steps = seen.filter(
        (s, i) => s.climb && JSON.stringify(s.cap) !== JSON.stringify(seen[i - 1]?.cap),
      );
      expect(steps.map((s) => s.cap)).toEqual([
        { spatialLayer: 0, temporalLayer: 2 },
        { spatialLayer: 1, temporalLayer: 2 },
        'full',
      ]);
      expect(seen.filter((s) => s.climb).every((s) => s.floor > 0)).toBe(true);
      // At full quality the estimator is fed all there is: no floor is held.
      expect(seen[seen.length - 1]).toEqual({ cap: 'full', climb: false, floor: 0 });
    });

    it('on a link that stays capped, a climb the link cannot carry goes back and the next waits longer', () => {
      // 300 k carries 160p at 30 fps (140 k with audio), not 320p (340 k).
      const seen = simulate(60, () => 300_000, { estimate: 120_000, memory: lowered() });
      const starts = seen.flatMap((s, i) =>
        s.climb && JSON.stringify(s.cap) !== JSON.stringify(seen[i - 1]?.cap) ? [i] : [],
      );
      const to320 = starts.filter(
        (i) => JSON.stringify(seen[i]!.cap) === '{"spatialLayer":1,"temporalLayer":2}',
      );
      // A minute of a capped link: tries ever further apart, then one per 8 s hold and more
      // (each try is one short overload of the link, audio included).
      expect(to320.length).toBeGreaterThan(1);
      expect(to320.length).toBeLessThanOrEqual(7);
      const gaps = to320.slice(1).map((at, i) => at - to320[i]!);
      expect(gaps.every((gap, i) => i === 0 || gap >= gaps[i - 1]!)).toBe(true);
      expect(gaps[gaps.length - 1]).toBeGreaterThanOrEqual(8);
      // Never paused, never above 320p, and back on 160p at 30 fps between tries.
      expect(seen.map((s) => s.cap)).not.toContain('paused');
      expect(seen.map((s) => s.cap)).not.toContain('full');
      expect(seen[59]!.cap).toEqual({ spatialLayer: 0, temporalLayer: 2 });
    });

    /**
     * Under a 300 k cap the climbs to 320p fail, the hold grows to 6-8 s; mediasoup probes
     * every 5 s. The run, and the second of a failure after the first 10 s.
     */
    const failedClimbUnderCap = () => {
      const capped = simulate(40, () => 300_000, {
        estimate: 120_000,
        memory: lowered(),
        probeEveryS: 5,
      });
      const failedAt = capped.findIndex(
        (s, i) =>
          i > 10 &&
          JSON.stringify(capped[i - 1]!.cap) === '{"spatialLayer":1,"temporalLayer":2}' &&
          JSON.stringify(s.cap) !== JSON.stringify(capped[i - 1]!.cap),
      );
      return { capped, failedAt };
    };

    it('a cap lifted just after a failed climb: a probe that sees past the cap ends the doubled hold', () => {
      // Lift the cap the second after a failure.
      const { capped, failedAt } = failedClimbUnderCap();
      expect(failedAt).toBeGreaterThan(10);
      const liftAt = failedAt + 1;
      const seen = simulate(liftAt + 15, (s) => (s < liftAt ? 300_000 : 10_000_000), {
        estimate: 120_000,
        memory: lowered(),
        probeEveryS: 5,
      });
      const full = seen.findIndex((s, i) => i >= liftAt && s.cap === 'full');
      // Before: the 8-12 s hold from the failure, then the climb: 12-16 s after the lift.
      // (Lifted just after the third failure, with the hold at its 8 s maximum: 9 s.)
      expect(full - liftAt).toBeLessThanOrEqual(10);
      // On the capped link the probes never pass the cap: the hold stays (no more tries).
      const starts = capped.filter(
        (s, i) => s.climb && JSON.stringify(s.cap) !== JSON.stringify(capped[i - 1]?.cap),
      );
      expect(starts.length).toBeLessThanOrEqual(6);
      expect(capped.map((s) => s.cap)).not.toContain('full');
    });

    it('a cap lifted just after a failed climb, the estimate alone collapsing at the lift: full quality within 10 s, never paused', () => {
      // As above, and for the 3 s after the lift a starved machine's estimator reads 41 k
      // (a burst read as overuse); the receiver's reports stay clean.
      const liftAt = failedClimbUnderCap().failedAt + 1;
      const run = (options: PolicyOptions) =>
        simulate(liftAt + 20, (s) => (s < liftAt ? 300_000 : 10_000_000), {
          estimate: 120_000,
          memory: lowered(),
          probeEveryS: 5,
          misread: (s) => (s >= liftAt && s < liftAt + 3 ? 41_000 : undefined),
          options,
        });
      const seen = run(DEFAULT_POLICY);
      // Back on 160p at 30 fps after the failed climb: the level the estimate carried before it.
      expect(seen[liftAt]!.cap).toEqual({ spatialLayer: 0, temporalLayer: 2 });
      expect(seen.slice(liftAt).map((s) => s.cap)).not.toContain('paused');
      expect(seen[liftAt]!.floor).toBeGreaterThan(0); // held, its floor at 160p's need
      const full = seen.findIndex((s, i) => i >= liftAt && s.cap === 'full');
      expect(full - liftAt).toBeLessThanOrEqual(10);
      // With the old rule the misreading pauses the video (the 19.4 s path of a loaded machine,
      // where no probe runs while the video is paused).
      const old = run({ ...DEFAULT_POLICY, holdBelowFull: false });
      expect(old.slice(liftAt).map((s) => s.cap)).toContain('paused');
    });

    it('holds full quality that a climb reached on an estimate at its ceiling against a misreading the next second', () => {
      // The climb to full quality ends at once when the estimate reaches mediasoup's ceiling
      // (the link opened): the estimate carried it then, so a collapse a second later is held.
      const seen = simulate(12, () => 10_000_000, {
        estimate: 120_000,
        memory: lowered(),
        misread: (s) => (s === 6 || s === 7 ? 41_000 : undefined),
      });
      const full = seen.findIndex((s) => s.cap === 'full');
      expect(full).toBeLessThan(6);
      expect(seen.slice(full).every((s) => s.cap === 'full')).toBe(true);
    });

    it('climbs one consumer at a time', () => {
      const memory: PolicyMemory = new Map();
      const consumers = [camera('a'), camera('b')];
      const input = (second: number, availableBitrate: number, overloaded = false) => ({
        now: second * 1000,
        availableBitrate,
        estimateCeiling: 2_500_000,
        audioBitrate: 40_000,
        congested: false,
        overloaded,
        consumers,
      });
      decide(input(-20, 2_000_000), memory);
      decide(input(-19, 100_000, true), memory);
      // Both held down by an estimate fed only their lowest levels: they take turns.
      const climbs = Array.from(
        { length: 8 },
        (_, second) => decide(input(second, 250_000), memory).climbs,
      );
      expect(climbs.every((c) => c.length <= 1)).toBe(true);
      expect(new Set(climbs.flat())).toEqual(new Set(['a', 'b']));
    });

    it('climbs only on a live estimate, with no loss or queue, steady for climbAfterMs and past the hold', () => {
      const memory = lowered();
      memory.get('a')!.cap = { spatialLayer: 0, temporalLayer: 2 };
      memory.get('a')!.steadySince = 0;
      const at = (second: number, over: Partial<PolicyInput> = {}) =>
        decide(
          {
            now: second * 1000,
            availableBitrate: 200_000,
            estimateCeiling: 1_269_000,
            audioBitrate: 40_000,
            congested: false,
            consumers: [camera('a')],
            ...over,
          },
          memory,
        ).climbs;
      expect(at(1)).toEqual([]); // steady for 1 s only
      expect(at(2, { estimateCeiling: undefined })).toEqual([]); // an old stats reading
      expect(at(3, { overloaded: true })).toEqual([]); // a queue: steady again from here
      expect(at(4)).toEqual([]);
      expect(at(5)).toEqual(['a']);
    });
  });

  it("with probeHeadroom, climbs only as far as leaves room for mediasoup's own probe", () => {
    // Below the estimate's ceiling, with no loss or queue evidence, an upgrade may fill 60 %
    // of the estimate instead of 85 %, so the sender stays "application limited" and
    // libwebrtc's periodic probe runs. What the camera already has is not taken away.
    // Climbs off: this is about how far the estimate alone takes a camera.
    const noClimbs = { ...DEFAULT_POLICY, climbAfterMs: 0 };
    const options = { ...noClimbs, probeHeadroom: 0.6 };
    const climb = (
      profile: number[],
      over: Partial<PolicyInput> = {},
      memory: PolicyMemory = new Map(),
    ) =>
      profile.map((availableBitrate, second) =>
        decide(
          {
            now: second * 1000,
            availableBitrate,
            estimateCeiling: 1_215_000,
            audioBitrate: 40_000,
            congested: false,
            consumers: [camera('a')],
            ...over,
          },
          memory,
          options,
        ).caps.get('a'),
      );
    // Three seconds at 300 k: lowered to 160p (an estimate-only drop needs 2 s).
    const LOW = [300_000, 300_000, 300_000];
    // 600 k × 0.85 − 40 k = 470 k takes 320p (300 k) with margin; 600 k × 0.6 − 40 k = 320 k does not.
    const capped = climb([...LOW, ...Array(10).fill(600_000)]);
    expect(capped[12]).toEqual({ spatialLayer: 0, temporalLayer: 2 });
    expect(climb([...LOW, ...Array(10).fill(600_000)], {}, new Map())).toEqual(capped);
    // Loss or a queue is evidence about the link itself: the ordinary headroom applies.
    const lossy = climb([...LOW, ...Array(10).fill(600_000)], { overloaded: true });
    expect(lossy[12]).toEqual({ spatialLayer: 1, temporalLayer: 2 });
    // Off by default.
    const memory: PolicyMemory = new Map();
    const plain = [...LOW, ...Array(10).fill(600_000)].map((availableBitrate, second) =>
      decide(
        {
          now: second * 1000,
          availableBitrate,
          estimateCeiling: 1_215_000,
          audioBitrate: 40_000,
          congested: false,
          consumers: [camera('a')],
        },
        memory,
        noClimbs,
      ).caps.get('a'),
    );
    expect(plain[12]).toEqual({ spatialLayer: 1, temporalLayer: 2 });
    // A camera at 320p on a 600 k estimate keeps it (only upgrades leave the room)...
    const kept = climb([...LOW, ...Array(10).fill(1_000_000), ...Array(5).fill(600_000)]);
    expect(kept[12]).toEqual({ spatialLayer: 1, temporalLayer: 2 });
    expect(kept[17]).toEqual({ spatialLayer: 1, temporalLayer: 2 });
    // ... and the estimate at its ceiling still means full quality.
    expect(climb([...LOW, ...Array(10).fill(1_215_000)])[12]).toBe(FULL);
  });

  it('serves screen share before the camera; a screen that cannot fit gives way', () => {
    const consumers = [camera('cam'), screen('scr', 400_000)];
    const caps = run([2_000_000, 500_000, 500_000, 500_000], consumers);
    // 500 k × 0.85 − 40 k = 385 k: the screen does not fit; the camera gets what there is.
    expect(caps[3]).toEqual({ cam: { spatialLayer: 1, temporalLayer: 2 }, scr: null });
    const caps2 = run([2_000_000, 560_000, 560_000, 560_000], consumers);
    // 436 k: the screen (400 k) fits and goes first; the camera's 40 k level does not fit after it.
    expect(caps2[3]).toEqual({ cam: null, scr: FULL });
  });

  it('leaves consumers whose layers are not known yet as they are, forgets departed ones', () => {
    const memory: PolicyMemory = new Map();
    const unknown: VideoConsumerInput = { id: 'x', source: 'camera', levels: [] };
    const { caps } = decide(
      {
        now: 0,
        availableBitrate: 100_000,
        audioBitrate: 0,
        congested: false,
        consumers: [unknown],
      },
      memory,
    );
    expect(caps.get('x')).toBe(FULL);
    decide(
      { now: 1000, availableBitrate: 100_000, audioBitrate: 0, congested: false, consumers: [] },
      memory,
    );
    expect(memory.size).toBe(0);
  });
});

describe('videoLevels(): per-layer bitrates from producer stats', () => {
  const simulcast = {
    codecs: [],
    encodings: [
      { rid: 'r0', maxBitrate: 100_000, scalabilityMode: 'L1T3' },
      { rid: 'r1', maxBitrate: 300_000, scalabilityMode: 'L1T3' },
      { rid: 'r2', maxBitrate: 900_000, scalabilityMode: 'L1T3' },
    ],
  } as unknown as types.RtpParameters;
  const stat = (rid: string, bitrate: number, byLayer?: Record<string, number>) =>
    ({
      type: 'inbound-rtp',
      rid,
      ssrc: 1,
      bitrate,
      bitrateByLayer: byLayer,
    }) as unknown as types.ProducerStat;

  it('offers the temporal layers of the lowest stream, then each stream in full', () => {
    const levels = videoLevels(simulcast, [
      stat('r2', 800_000, { '0.0': 400_000, '0.1': 600_000, '0.2': 800_000 }),
      stat('r0', 90_000, { '0.0': 40_000, '0.1': 65_000, '0.2': 90_000 }),
      stat('r1', 280_000, { '0.0': 140_000, '0.1': 210_000, '0.2': 280_000 }),
    ]);
    expect(levels).toEqual([
      { spatialLayer: 0, temporalLayer: 0, bitrate: 40_000 },
      { spatialLayer: 0, temporalLayer: 1, bitrate: 65_000 },
      { spatialLayer: 0, temporalLayer: 2, bitrate: 90_000 },
      { spatialLayer: 1, temporalLayer: 2, bitrate: 280_000 },
      { spatialLayer: 2, temporalLayer: 2, bitrate: 800_000 },
    ]);
  });

  it('leaves out a stream the sender stopped, and uses maxBitrate before stats exist', () => {
    const levels = videoLevels(simulcast, [stat('r0', 90_000), stat('r1', 0), stat('r2', 700_000)]);
    expect(levels.map((l) => l.spatialLayer)).toEqual([0, 2]);
    expect(videoLevels(simulcast, []).map((l) => l.bitrate)).toEqual([100_000, 300_000, 900_000]);
  });

  it('gives a single-stream producer one level (on or off)', () => {
    const single = {
      codecs: [],
      encodings: [{ ssrc: 7, maxBitrate: 1_500_000 }],
    } as unknown as types.RtpParameters;
    expect(videoLevels(single, [])).toEqual([
      { spatialLayer: 0, temporalLayer: 0, bitrate: 1_500_000 },
    ]);
    const s = { type: 'inbound-rtp', ssrc: 7, bitrate: 420_000 } as unknown as types.ProducerStat;
    expect(videoLevels(single, [s])).toEqual([
      { spatialLayer: 0, temporalLayer: 0, bitrate: 420_000 },
    ]);
  });
});

describe('probeDue(): asking the estimator to look above its estimate', () => {
  const held = (): PolicyMemory =>
    new Map([
      [
        'a',
        {
          cap: { spatialLayer: 0, temporalLayer: 2 },
          lastDowngradeAt: 0,
          lastUpgradeAt: -Infinity,
          holdMs: 4000,
          upgradeFitsSince: null,
          nothingFitsSince: null,
          lowerFitsSince: null,
          trialUntil: 0,
          climbFrom: null,
          steadySince: 0,
          estimateAtDowngrade: 300_000,
          estimateAtUpgrade: 0,
          vouched: false,
          heldUntil: 0,
          heldEndedAt: -Infinity,
          carried: -1,
        },
      ],
    ]);
  const at = (now: number, availableBitrate: number) => ({
    now,
    availableBitrate,
    estimateCeiling: 1_215_000,
  });

  it('probes while video is held down, not right after a downgrade, ever less while nothing is found', () => {
    const state = newProbeState();
    const memory = held();
    const due = (from: number, to: number, bitrate = 300_000) =>
      Array.from({ length: to - from + 1 }, (_, i) => from + i).filter((s) =>
        probeDue(state, at(s * 1000, bitrate), memory),
      );
    // Downgraded at 0: first probe 2 s later, then every 4 s (nothing found): a link that
    // opens again is found within 4 s.
    expect(due(0, 30)).toEqual([2, 6, 10, 14, 18, 22, 26, 30]);
    // The estimate rose after the last probe: probe again a second later, then back to 2 s.
    expect(due(31, 34, 600_000)).toEqual([31, 33]);
  });

  it('does not probe at the ceiling, without a cap, or while all video is paused', () => {
    const state = newProbeState();
    expect(probeDue(state, at(10_000, 1_200_000), held())).toBe(false);
    const full = held();
    full.get('a')!.cap = FULL;
    expect(probeDue(state, at(10_000, 300_000), full)).toBe(false);
    const paused = held();
    paused.get('a')!.cap = null;
    expect(probeDue(state, at(10_000, 300_000), paused)).toBe(false);
    expect(probeDue(state, at(10_000, 300_000), held())).toBe(true);
  });
});

describe('delayBound(): congestion seen in receiver reports before the estimator notices', () => {
  it('bounds the bitrate by what was sent when the RTT rose, once the queue lasts, until it drains', () => {
    const state = newDelayState();
    const step = (now: number, rttMs: number | null, sendBitrate: number) =>
      delayBound(state, { now, rttMs, lossFraction: 0, sendBitrate });
    expect(step(0, 20, 900_000)).toBeNull();
    expect(step(1000, 60, 900_000)).toBeNull(); // 40 ms of queue: not yet
    expect(step(2000, 250, 950_000)).toBeNull(); // a queue begins: it must last queueSustainMs
    expect(step(3000, 200, 300_000)).toBeNull();
    // Still queued 2 s on, while the sender slowed down: the bound is the onset rate.
    expect(step(4000, 220, 300_000)).toBeCloseTo(0.85 * 950_000);
    expect(step(5000, null, 300_000)).toBeCloseTo(0.85 * 950_000);
    // Drained below half the limit: no bound.
    expect(step(6000, 60, 300_000)).toBeNull();
  });

  it('takes a lasting RTT rise for a queue only when the estimate falls below what was sent', () => {
    const state = newDelayState();
    const step = (now: number, estimate: number) =>
      delayBound(state, { now, rttMs: 300, lossFraction: 0, sendBitrate: 1.5e6, estimate });
    delayBound(state, { now: 0, rttMs: 5, lossFraction: 0, sendBitrate: 1.5e6 });
    // The machine is starved, the link is not: the estimator still sees room.
    for (let s = 1; s <= 5; s++) expect(step(s * 1000, 2e6)).toBeNull();
    expect(step(6000, 1.1e6)).toBeCloseTo(0.85 * 1.5e6);
  });

  it('reads RTT spikes with no loss on a starved machine as no queue', () => {
    const state = newDelayState();
    // A loopback RTT of 2 ms with a late report (300 ms) every other second.
    for (let s = 0; s < 20; s++) {
      const rttMs = s % 2 ? 300 : 2;
      expect(
        delayBound(state, { now: s * 1000, rttMs, lossFraction: 0, sendBitrate: 1.6e6 }),
      ).toBeNull();
    }
  });

  it('takes heavy loss as what got through an overflowing queue', () => {
    const state = newDelayState();
    const step = (now: number, lossFraction: number, sendBitrate: number) =>
      delayBound(state, { now, rttMs: 30, lossFraction, sendBitrate });
    expect(step(0, 0.03, 900_000)).toBeNull(); // 3 % random loss is no congestion
    // 900 k sent, 93 % lost: about 63 k got through.
    expect(step(1000, 0.93, 900_000)).toBeCloseTo(0.85 * 900_000 * 0.07);
    // Reports lag: loss still reported after the sender slowed down does not lower it further.
    expect(step(2000, 0.5, 100_000)).toBeCloseTo(0.85 * 900_000 * 0.07);
    expect(step(3000, 0.02, 100_000)).toBeNull();
  });

  it('measures queueing against the minimum RTT of the window, so a long path is no queue', () => {
    const state = newDelayState();
    for (let s = 0; s < 10; s++) {
      const rttMs = 160 + (s % 3) * 20;
      expect(
        delayBound(state, { now: s * 1000, rttMs, lossFraction: 0, sendBitrate: 1e6 }),
      ).toBeNull();
    }
  });
});
