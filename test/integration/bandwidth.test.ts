/**
 * Bandwidth adaptation with real mediasoup workers and two real Chromium pages running the
 * built client (simulcast camera + mic). The gateway announces 127.0.0.2, where the
 * impairment relay listens and forwards to the real media port on 127.0.0.1, so both pages'
 * media crosses the relay. Only the receiver's downlink is impaired: the cap is scoped to
 * the flows that carry ICE checks for the receiver's *receive* transport (its ufrag), so the
 * sender's media and the receiver's own uplink pass untouched.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Page } from 'playwright-core';
import type { types } from 'mediasoup';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ADAPTER_OPTIONS, type EstimateEvent } from '../../src/sfu/BandwidthAdapter.js';
import { DEFAULT_LAYER_WATCH, LayerWatch } from '../../src/sfu/LayerWatch.js';
import type { Peer } from '../../src/sfu/Peer.js';
import type { RelayPatch, ThreadedRelay } from '../support/relay/index.js';
import {
  FIXTURE_BOUND_MS,
  startRelayedConsult,
  type RelayedConsult,
} from '../support/relayedConsult.js';
import { sleep, timeUntil as waitUntil } from '../support/wait.js';
import { watchMedia } from '../e2e/helpers.js';

let fixture: RelayedConsult<ThreadedRelay>;
let relay: ThreadedRelay;
let senderPage: Page;
let receiverPage: Page;
let receiver: Peer;
let video: types.Consumer;
/** The cap on the receiver's downlink now, and the ufrag whose flows carry it. */
let cap: { patch: RelayPatch; downlink: { ufrag: string } } | null = null;
/** Notes in the running test's log (set by recordDecisions). */
let note: (what: string) => void = () => undefined;

/**
 * The receiver's downlink at the relay: the flows of its receive transport's ufrag now. A
 * receiver that restarts ICE under a cap (its client does when its media stalls) gets a new
 * ufrag and may come from a new port, a new flow the old scope does not match.
 */
function downlinkNow(): { ufrag: string } {
  const peer = fixture.peerOf(fixture.specialist) ?? receiver;
  const recv = [...peer.transports.values()].find((t) => t.direction === 'recv')!.transport;
  return { ufrag: recv.iceParameters.usernameFragment };
}

/** Caps the receiver's downlink (until liftCap), following it across ICE restarts. */
function capDownlink(patch: RelayPatch): void {
  cap = { patch, downlink: downlinkNow() };
  relay.set(patch, cap.downlink);
}

/** Lifts the cap; returns the relay's counters of the capped flows. */
function liftCap() {
  if (!cap) throw new Error('no cap to lift');
  const stats = relay.stats(cap.downlink).down;
  relay.reset(cap.downlink);
  cap = null;
  return stats;
}

/** Moves the cap to the receive transport's new ufrag after an ICE restart. */
function followRestart(): void {
  if (!cap) return;
  const now = downlinkNow();
  if (now.ufrag === cap.downlink.ufrag) return;
  relay.reset(cap.downlink);
  cap.downlink = now;
  relay.set(cap.patch, now);
  note('the receiver restarted ICE: cap moved to its new ufrag');
}

/**
 * Chromium sends only two simulcast layers of a 640×480 camera (160p ~100 kbit/s, 320p
 * ~250 kbit/s), the second of which nearly fits in 300 kbit/s. This field trial lifts that
 * limit, so the sender offers all three layers the client asks for (640p up to 900 kbit/s),
 * as it does for larger cameras: full quality then clearly does not fit under the cap.
 */
const THREE_LAYERS = ['--force-fieldtrials=WebRTC-LegacySimulcastLayerLimit/Disabled/'];

/**
 * Keeps the page's RTCRtpTransceivers, so a test can stop a simulcast layer the way the
 * browser itself does when its uplink or CPU runs short.
 */
const KEEP_TRANSCEIVERS = `
  window.__transceivers = [];
  const addTransceiver = RTCPeerConnection.prototype.addTransceiver;
  RTCPeerConnection.prototype.addTransceiver = function (...args) {
    const transceiver = addTransceiver.apply(this, args);
    window.__transceivers.push(transceiver);
    return transceiver;
  };`;

/** In the sender's page: its camera's transceiver (an expression for the scripts below). */
const VIDEO_SENDER =
  "window.__transceivers.find((t) => t.sender.track && t.sender.track.kind === 'video')";

/**
 * Stops or restarts the sender's encoding of one spatial layer. Chromium may not yet send all
 * three (its own estimate decides), so tests stop the best layer it sends now, not the last.
 */
const sendLayer = (spatialLayer: number, active: boolean) =>
  senderPage.evaluate(`(async () => {
    const t = ${VIDEO_SENDER};
    const params = t.sender.getParameters();
    params.encodings[${spatialLayer}].active = ${active};
    await t.sender.setParameters(params);
  })()`);

/**
 * Frames the sender's browser has encoded so far on one spatial layer (its encoding's rid);
 * -1 when the layer has no outbound stream.
 */
const framesEncoded = (spatialLayer: number) =>
  senderPage.evaluate(`(async () => {
    const t = ${VIDEO_SENDER};
    const rid = t.sender.getParameters().encodings[${spatialLayer}].rid;
    let frames = -1;
    (await t.sender.getStats()).forEach((r) => {
      if (r.type === 'outbound-rtp' && r.rid === rid) frames = r.framesEncoded ?? 0;
    });
    return frames;
  })()`) as Promise<number>;

/**
 * Resolves once the sender's browser has encoded frames of this layer in every 250 ms poll
 * for a second (what the gateway's layer watch asks of a layer that returns), and returns how
 * long that took. A browser turned a layer back on may hold it while its own estimate or CPU
 * does not allow it (a busy sender has taken over 6 s): that is the sender's choice, not the
 * gateway's, so the gateway's clock starts here.
 */
async function senderSendsLayer(spatialLayer: number, withinMs: number): Promise<number> {
  const start = Date.now();
  let last = await framesEncoded(spatialLayer);
  let lastReadAt = Date.now();
  /** Since when every read has found new frames (the read before the first of them). */
  let risingSince: number | null = null;
  await waitUntil(
    async () => {
      const now = await framesEncoded(spatialLayer);
      if (now > last) risingSince ??= lastReadAt;
      else risingSince = null;
      [last, lastReadAt] = [now, Date.now()];
      return risingSince !== null && Date.now() - risingSince >= DEFAULT_LAYER_WATCH.resumeMs;
    },
    withinMs,
    `the sender's browser sends its layer ${spatialLayer} again`,
    250,
  ).catch(async (err: Error) => {
    throw new Error(`${err.message} (${last} frames encoded on it; ${await senderLimits()})`);
  });
  return Date.now() - start;
}

/**
 * What holds the sender's browser back: each layer's quality limitation and frames, and its
 * own estimate of its uplink (the selected candidate pair's availableOutgoingBitrate).
 */
const senderLimits = () =>
  senderPage.evaluate(`(async () => {
    const t = ${VIDEO_SENDER};
    const active = t.sender.getParameters().encodings.map((e) => e.rid + (e.active ? '' : ' off'));
    const layers = [];
    let estimate = 'none';
    (await t.sender.getStats()).forEach((r) => {
      if (r.type === 'outbound-rtp') {
        layers.push(r.rid + ': ' + (r.frameWidth ?? 0) + ' px, ' + (r.framesEncoded ?? 0) + ' frames, limited by ' + r.qualityLimitationReason);
      }
      if (r.type === 'candidate-pair' && r.nominated && r.availableOutgoingBitrate !== undefined) {
        estimate = Math.round(r.availableOutgoingBitrate / 1000) + ' kbit/s';
      }
    });
    return 'encodings ' + active.join(', ') + '; ' + layers.join('; ') + '; uplink estimate ' + estimate;
  })()`) as Promise<string>;

/** Total audio packets the receiver page has received from the sender. */
async function audioPackets(): Promise<number> {
  const stats = (await receiverPage.evaluate(() =>
    (
      globalThis as unknown as { __consult: { getRemoteStats(): Promise<unknown> } }
    ).__consult.getRemoteStats(),
  )) as { kind: string; packetsReceived: number }[];
  return stats.filter((s) => s.kind === 'audio').reduce((n, s) => n + s.packetsReceived, 0);
}

/**
 * Samples the receiver's audio counter every 250 ms until stopped; returns the longest
 * time (ms) it did not rise, and how much it rose in all.
 */
function watchAudio() {
  let stop = false;
  const done = (async () => {
    let last = await audioPackets();
    const first = last;
    let lastRiseAt = Date.now();
    let longestGap = 0;
    while (!stop) {
      await sleep(250);
      const now = await audioPackets();
      if (now > last) lastRiseAt = Date.now();
      longestGap = Math.max(longestGap, Date.now() - lastRiseAt);
      last = now;
    }
    return { longestGapMs: longestGap, packets: last - first };
  })();
  return {
    stop: () => {
      stop = true;
      return done;
    },
  };
}

/** When the adapter last decided anything about the receiver's video (Date.now()). */
let lastDecisionAt = 0;

/**
 * Waits until the receiver is at full quality and the adapter has decided nothing about its
 * video for `failedUpgradeWindowMs`. Each test starts from there: a downgrade sooner after
 * the previous test's last upgrade counts as a failed upgrade and doubles the adapter's hold
 * (bandwidthPolicy), which would make a test's timings depend on the one before it.
 */
async function settled(): Promise<void> {
  const quietMs = DEFAULT_ADAPTER_OPTIONS.failedUpgradeWindowMs;
  // A timeout names the adapter's decisions and estimates meanwhile.
  const decisions = recordDecisions();
  try {
    await decisions.until(
      () => atFullQuality() && Date.now() - lastDecisionAt >= quietMs,
      // Full quality, then the quiet window. Not a bound of the product (the 300 kbit/s test
      // bounds the return to full quality after a cap): a busy machine's sender may drop its
      // own layers for a while, and the estimate has been seen to dip again and take over 25 s
      // to come back (a fresh clone's run); a test must not fail for where the one before left off.
      40_000 + quietMs,
      `full quality, with no adapter decision for the last ${quietMs} ms`,
    );
  } finally {
    decisions.stop();
  }
}

/** The bandwidth tests poll more slowly: each poll reads stats from two browsers. */
const timeUntil = (predicate: () => boolean | Promise<boolean>, timeoutMs: number, what: string) =>
  waitUntil(
    () => {
      followRestart();
      return predicate();
    },
    timeoutMs,
    what,
    200,
  );

/** Waits `ms` while a cap stays on the receiver's downlink (across ICE restarts). */
async function holdCap(ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    followRestart();
    await sleep(Math.min(200, until - Date.now()));
  }
}

const lowestOrPaused = () =>
  receiver.bandwidth.isVideoPaused(video.id) || video.currentLayers?.spatialLayer === 0;
/** The best spatial layer the sender offers now (Chromium adds layers as its own estimate grows). */
const senderTop = () =>
  Math.max(
    -1,
    ...(
      receiver.bandwidth.snapshot().consumers.find((c) => c.consumerId === video.id)?.levels ?? []
    ).map((l) => l.spatialLayer),
  );
/** Full quality: the receiver gets the best of at least two layers the sender offers now. */
const atFullQuality = () => {
  const top = senderTop();
  return (
    !receiver.bandwidth.isVideoPaused(video.id) &&
    !video.paused &&
    top > 0 &&
    video.currentLayers?.spatialLayer === top
  );
};

/** What the receiver's video consumer and the sender's layers look like now (for failures). */
function videoState(): string {
  const levels = receiver.bandwidth
    .snapshot()
    .consumers.find((c) => c.consumerId === video.id)?.levels;
  return (
    `consumer paused ${video.paused}, adapter paused ${receiver.bandwidth.isVideoPaused(video.id)}, ` +
    `current layers ${JSON.stringify(video.currentLayers)}, preferred ${JSON.stringify(video.preferredLayers)}, ` +
    `score ${JSON.stringify(video.score)}, sender offers ${JSON.stringify(levels)}`
  );
}

/** Records the adapter's decisions for one test, to print with its figures or its failure. */
function recordDecisions() {
  const t0 = Date.now();
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  relay.lag(); // from now
  /** How late timers ran on the test's loop and on the relay's thread (5 ms resolution). */
  const lag = () => {
    const r = relay.lag();
    const ms = (ns: number) => (ns / 1e6).toFixed(1);
    return (
      `event loop delay p99/max: test ${ms(loop.percentile(99))}/${ms(loop.max)} ms,` +
      ` relay thread ${r.p99}/${r.max} ms (${r.priority})`
    );
  };
  const events: string[] = [];
  const log = (what: string) => events.push(`${Date.now() - t0} ms ${what}`);
  note = log;
  const mine = (e: { consumerId: string }) => e.consumerId === video.id;
  const onLayers = (e: { consumerId: string; maxLayers: unknown }) => {
    if (mine(e)) log(`layers ${JSON.stringify(e.maxLayers)}`);
  };
  const onPaused = (e: { consumerId: string }) => {
    if (mine(e)) log('videoPaused');
  };
  const onResumed = (e: { consumerId: string }) => {
    if (mine(e)) log('videoResumed');
  };
  const onProbe = () => log('probe');
  const onLinkReturned = (e: { silentMs: number }) => log(`link back after ${e.silentMs} ms`);
  // Every decision's estimate, in kbit/s: estimate[/queue bound]→video budget.
  const estimates: string[] = [];
  const kbit = (bps: number) => (Number.isFinite(bps) ? Math.round(bps / 1000) : 'any');
  const onEstimate = (e: EstimateEvent) =>
    estimates.push(
      `${Date.now() - t0}:${kbit(e.availableBitrate)}` +
        `${e.queueBound === null ? '' : `/${kbit(e.queueBound)}`}→${kbit(e.videoBudget)}`,
    );
  // The consumer itself: trial resumes show here, though the client is not told of them.
  const onConsumerPause = () => log('consumer paused');
  const onConsumerResume = () => log('consumer resumed');
  const unsubscribe: (() => void)[] = [];
  type Listener = (...args: never[]) => void;
  type Emitter = {
    on(event: string, fn: Listener): unknown;
    off(event: string, fn: Listener): unknown;
  };
  /** Subscribes until stop() (each handler above is typed for the event it is given to). */
  const listen = (target: object, event: string, fn: Listener) => {
    (target as Emitter).on(event, fn);
    unsubscribe.push(() => (target as Emitter).off(event, fn));
  };
  listen(receiver.bandwidth, 'layersChanged', onLayers);
  listen(receiver.bandwidth, 'videoPaused', onPaused);
  listen(receiver.bandwidth, 'videoResumed', onResumed);
  listen(receiver.bandwidth, 'probe', onProbe);
  listen(receiver.bandwidth, 'linkReturned', onLinkReturned);
  listen(receiver.bandwidth, 'estimate', onEstimate);
  listen(video.observer, 'pause', onConsumerPause);
  listen(video.observer, 'resume', onConsumerResume);
  // Which layers the sender is sending, as the gateway sees them.
  const producer = fixture.peerOf(fixture.doctor)!.producers.get(video.producerId)!;
  const onLimit = (limit: number | null) => log(`sender's layers up to ${limit ?? 'all'}`);
  const watch = LayerWatch.for(producer);
  if (watch) listen(watch, 'change', onLimit);
  return {
    log,
    events,
    /** Stops recording; returns the log as one line. */
    stop: () => {
      for (const off of unsubscribe.splice(0)) off();
      loop.disable();
      note = () => undefined;
      return `${events.join(', ')}; estimates ${estimates.join(' ')}; ${lag()}`;
    },
    /** Waits like timeUntil; a timeout names the decisions so far and the video's state. */
    until: (predicate: () => boolean | Promise<boolean>, timeoutMs: number, what: string) =>
      timeUntil(predicate, timeoutMs, what).catch((err: Error) => {
        throw new Error(
          `${err.message}; decisions: ${events.join(', ')}; ${videoState()}; estimates ${estimates.join(' ')}; ${lag()}` +
            (cap ? `; capped flows ${JSON.stringify(relay.stats(cap.downlink).down)}` : ''),
        );
      }),
  };
}

beforeAll(
  async () => {
    // The doctor sends; the specialist, admitted from the lobby, is the receiver under test.
    fixture = await startRelayedConsult({
      names: { doctor: 'Dr. Sender', specialist: 'Dr. Receiver' },
      doctorArgs: THREE_LAYERS,
      initScript: KEEP_TRANSCEIVERS,
      relayThread: true,
    });
    ({ relay, doctorPage: senderPage, specialistPage: receiverPage } = fixture);
    receiver = fixture.peerOf(fixture.specialist)!;
    await timeUntil(
      () => [...receiver.consumers.values()].some((c) => c.kind === 'video' && !c.paused),
      15_000,
      'receiver consumes the camera',
    );
    video = [...receiver.consumers.values()].find((c) => c.kind === 'video')!;
    // Full quality: the best layer the sender offers, once the receiver gets it.
    const start = recordDecisions();
    await start.until(atFullQuality, 20_000, 'receiver at full quality');
    console.log(`set-up: ${start.stop()}`);
    const decided = (e: { consumerId: string }) => {
      if (e.consumerId === video.id) lastDecisionAt = Date.now();
    };
    for (const event of ['layersChanged', 'videoPaused', 'videoResumed'] as const) {
      receiver.bandwidth.on(event, decided);
    }
    // A trial resume shows only on the consumer.
    for (const event of ['pause', 'resume'] as const) {
      video.observer.on(event, () => (lastDecisionAt = Date.now()));
    }
    // The set-up's own bounds (15 s to consume the camera, 20 s to full quality), plus
    // starting two browsers and the gateway.
  },
  FIXTURE_BOUND_MS + 35_000 + 30_000,
);

afterEach(({ task }) => {
  if (cap) liftCap(); // a failed test must not leave its cap on the next one
  if (task.result?.state === 'fail' && relay) {
    console.log(`relay seed ${relay.seed} (replay with RELAY_SEED=${relay.seed})`);
  }
});

afterAll(async () => {
  await fixture?.close();
});

describe('bandwidth adaptation behind an impaired downlink', () => {
  // First, on an unimpaired link: what limits the receiver here is the sender alone.
  it('when the sender stops sending its best layer, the receiver moves down without a freeze, and back up when it returns', async () => {
    await settled();
    const top = senderTop();
    const decisions = recordDecisions();
    const frames = watchMedia(receiverPage, 100);
    await sendLayer(top, false);
    decisions.log('sender stopped its best layer');
    const downMs = await decisions.until(
      () => (video.currentLayers?.spatialLayer ?? top) < top,
      10_000,
      'the receiver moved off the stopped layer',
    );
    const downTo = video.currentLayers?.spatialLayer;
    await sleep(2000);
    const meanwhile = await frames.stop();
    await sendLayer(top, true);
    decisions.log('sender turned its best layer on again');
    // Bounded by the test's own timeout; a browser that holds the layer back longer says why.
    const restartMs = await senderSendsLayer(top, 45_000);
    decisions.log('sender sends its best layer again');
    // The gateway's clock starts when the sender's browser has been sending the layer for
    // resumeMs: its layer watch counts a layer that came back then (polled every intervalMs).
    const watch = LayerWatch.for(fixture.peerOf(fixture.doctor)!.producers.get(video.producerId)!)!;
    const { resumeMs, intervalMs } = DEFAULT_LAYER_WATCH;
    const seenMs = await decisions.until(
      () => watch.limit === null || watch.limit >= top,
      // Two polls and the page's stats read, with room for a busy machine's late timers, and
      // resumeMs again in case the watch began its count later than the page's stats.
      resumeMs + 2 * intervalMs + 2000,
      'the gateway sees the best layer again',
    );
    // Back on the layer it had, or a better one: the sender may have raised its own top meanwhile.
    const upMs = await decisions.until(
      () => (video.currentLayers?.spatialLayer ?? -1) >= top,
      15_000,
      'the best layer again',
    );
    console.log(
      `best layer stopped: receiver on layer ${downTo} after ${downMs} ms;` +
        ` longest time without a decoded frame ${meanwhile.videoGapMs} ms (${meanwhile.video} frames);` +
        ` the sender's browser sent it again for a second ${restartMs} ms after it was turned on;` +
        ` the gateway saw it return ${seenMs} ms after that, and the receiver` +
        ` was back on it ${upMs} ms later; ${decisions.stop()}`,
    );
    // mediasoup alone notices a silent layer only 1.5 s after its last packet, so its
    // receivers freeze for longer than that (2.4 s measured); with the watch it is ~0.4-1 s.
    expect(meanwhile.videoGapMs).toBeLessThan(1500);
    expect(meanwhile.video).toBeGreaterThan(5); // it kept playing (a starved CI browser decodes ~7 fps)
  }, 110_000);

  it('a 300 kbit/s cap: lowest layer (or paused) within 10 s with audio flowing, full quality within 10 s of lifting it', async () => {
    await settled();
    const decisions = recordDecisions();
    const audio = watchAudio();
    capDownlink({ down: { rateBps: 300_000 } });
    const dropMs = await decisions.until(lowestOrPaused, 10_000, 'lowest layer or paused');
    await holdCap(8000); // stay capped: video stays down, audio keeps flowing
    const capped = liftCap();
    // The clock starts as the cap is lifted (not after the audio watch's last read).
    const liftedAt = Date.now();
    decisions.log('cap lifted');
    const capAudio = await audio.stop();
    // Held down by the estimate alone, the video climbs a step at a time (bandwidthPolicy), each
    // step once the hold after its last downgrade has passed (up to 8 s after failed tries
    // under the cap, ended early once the estimate passes 1.5 times where the last try failed),
    // then two or three 1.5 s steps; an estimate that alone collapses after the lift no longer
    // lowers or pauses the level the estimate carried (the level hold). Measured in busy fresh
    // clones: 0.2-5.1 s; at load 14-24 with the level hold: 0.1 and 0.2 s (before it, 8.1 and
    // 19.4 s: on a low layer right after the lift the estimate alone collapsed, 173 -> 41
    // kbit/s, and the video was paused, then resumed on trial). Issue 10's bound: 10 s.
    await decisions.until(
      atFullQuality,
      10_000 - (Date.now() - liftedAt),
      'full quality within 10 s of lifting the cap',
    );
    const recoverMs = Date.now() - liftedAt;
    console.log(
      `300 kbit/s cap: lowest layer after ${dropMs} ms; full quality ${recoverMs} ms after lifting it;` +
        ` audio: ${capAudio.packets} packets, longest gap ${capAudio.longestGapMs} ms;` +
        ` relay dropped ${capped.droppedQueue} of ${capped.packets} packets; ${decisions.stop()}`,
    );
    expect(dropMs).toBeLessThan(10_000);
    expect(recoverMs).toBeLessThan(10_000);
    // ~50 packets/s of opus for ~10 s, never stalled.
    expect(capAudio.packets).toBeGreaterThan(300);
    expect(capAudio.longestGapMs).toBeLessThan(1500);
  }, 110_000);

  it('a 60 kbit/s cap: video is paused for the receiver while audio continues, and resumes after', async () => {
    await settled();
    const decisions = recordDecisions();
    const droppedBefore = relay.stats(downlinkNow()).down.droppedQueue;
    capDownlink({ down: { rateBps: 60_000 } });
    // The clock starts when the relay enforces the cap (its queue first overflows, within a
    // second on a healthy machine): a relay thread that a busy machine runs late has not yet
    // narrowed the link, and mediasoup's estimate, fed no feedback meanwhile, stays where it was.
    const enforcedMs = await decisions.until(
      () => relay.stats(cap!.downlink).down.droppedQueue > droppedBefore,
      10_000,
      'the relay drops what exceeds the cap',
    );
    decisions.log('the relay enforces the cap');
    // Paused on the server: nothing is sent.
    const pauseMs = await decisions.until(
      () => receiver.bandwidth.isVideoPaused(video.id) && video.paused,
      // The estimate sinks to 60 kbit/s over 4-9 s (the issue's 10 s bound is for the 300 kbit/s case).
      15_000,
      'video paused',
    );
    const audio = watchAudio();
    await holdCap(5000);
    const pausedAudio = await audio.stop();
    liftCap();
    const liftedAt = Date.now();
    decisions.log('cap lifted');
    // Paused video is tried again after a hold that grows while trials fail (up to 8 s).
    await decisions.until(
      () => !receiver.bandwidth.isVideoPaused(video.id) && !video.paused,
      25_000,
      'video resumed',
    );
    const resumeMs = Date.now() - liftedAt;
    // Resumed means forwarded again: mediasoup sends the receiver some layer.
    await decisions.until(() => video.currentLayers != null, 5000, 'a layer forwarded again');
    // How soon full quality follows is reported, not asserted here: after a pause the estimate
    // climbs only with mediasoup's own probes (the 300 kbit/s test bounds the recovery).
    const full = await decisions
      .until(atFullQuality, 10_000, 'full quality')
      .then(() => `full quality ${Date.now() - liftedAt} ms after lifting the cap`)
      .catch(() => 'not yet at full quality 10 s after resuming');
    const log = decisions.stop();
    console.log(
      `60 kbit/s cap: enforced by the relay after ${enforcedMs} ms, video paused ${pauseMs} ms later; audio while paused: ` +
        `${pausedAudio.packets} packets, longest gap ${pausedAudio.longestGapMs} ms; ` +
        `resumed ${resumeMs} ms after lifting the cap, ${full}; ${log}`,
    );
    // The client hears of one pause and one resume (failed trial resumes are not announced).
    expect(decisions.events.filter((e) => e.endsWith(' videoPaused'))).toHaveLength(1);
    expect(decisions.events.filter((e) => e.endsWith(' videoResumed'))).toHaveLength(1);
    expect(pausedAudio.packets).toBeGreaterThan(150);
    expect(pausedAudio.longestGapMs).toBeLessThan(1500);
  }, 120_000);
});
