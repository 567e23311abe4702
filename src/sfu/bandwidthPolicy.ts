/**
 * The bandwidth-adaptation decisions for one receiving peer, as pure functions of what was
 * measured (no mediasoup, no timers), so they can be tested with fake inputs.
 *
 * Audio comes first: it is reserved off the top of the receiver's estimated bandwidth. Video
 * consumers share the rest: each gets its lowest level if it fits (screen share before
 * camera), then screen shares climb to full quality, then cameras climb one level at a time
 * in turn. A consumer whose lowest level does not fit is paused. Downgrades apply at once
 * when the receiver's reports show loss or a queue; on the estimate alone only once it has
 * stayed low for `downgradeAfterMs` (mediasoup's own allocation already follows each estimate
 * update below our cap, so a brief dip, e.g. a starved machine's delay jitter, costs no hold
 * time); a pause only after the lowest level has not fitted for `pauseAfterMs`. Upgrades need a
 * margin, must hold for `upgradeAfterMs`, and wait a hold time after the consumer's last
 * downgrade. An upgrade that is followed by a downgrade within `failedUpgradeWindowMs` was a
 * failed probe: the hold grows by `holdGrowth` (4, 6, then 8 s at most:
 * `maxHoldAfterDowngradeMs`), so a capped link does not flap between layers (each flap
 * overflows the bottleneck queue, audio included). The hold counts from the failed try: the
 * downgrades its leftover queue causes meanwhile lower the level without putting the next try
 * off. (Measured behind the relay on a busy machine: an upgrade failed 0.3 s before a 300
 * kbit/s cap was lifted, the queue it left lowered the level again a second later, and
 * counted from there, the 8 s hold kept the picture below full quality 10 s after the lift;
 * one failure now holds 6 s, from the failure. The hold used to double up to 12 s: in the
 * policy's simulation a cap lifted just after the third failure then took 11 s to full
 * quality even with mediasoup's probes; at 8 s it takes 9 s, and a link that stays capped
 * sees one short overload per 9 s instead of per 13 s.)
 *
 * While every video consumer is paused the link carries only audio, and mediasoup cannot
 * probe it (its prober needs media packets of a video size): the estimate then says nothing
 * about recovery. So once the hold has passed, a paused consumer is tried again at its
 * lowest level for `resumeTrialMs` while the link is probed (`trials`). The trial fails at
 * once if the receiver's reports show the link overloaded, and at its end unless the lowest
 * level now fits the estimate; a failed trial grows the hold like a failed upgrade. A
 * resume the (stale) estimate allows while all video is paused is a trial as well. A trial
 * that held was judged by the receiver's reports at the floor the adapter held for it; the
 * estimate, fed little, may sink below that floor again once it is lifted, and would pause
 * the video for nothing. So the floor stays (`floors`) while the video stays on its lowest
 * level, until evidence (loss, a queue) lowers it: the reports, not the estimate, decide.
 *
 * A live estimate that opens up — full quality for every consumer fits it with `openMargin`
 * to spare, and it is at least twice what it was at the consumer's last downgrade — is fresh
 * evidence of a wider link (a probe's result: with video held down nothing else raises it so
 * far). It ends the hold and the wait for `upgradeAfterMs`, resets a grown hold, and a
 * resume on it is no trial: the failures that set the hold predate the change in the link
 * (e.g. a trial that a cap, lifted since, ended), and every second waited is a second of
 * needlessly poor video.
 *
 * An estimate rarely opens by itself: the estimator cannot rise past about 1.5 times what it
 * is fed (libwebrtc's rate control), and video held down feeds it little. Only its probes
 * look further, and on a busy machine a probe is as likely to collapse the estimate (a
 * burst read as overuse: 0.85 times the little being sent) as to raise it. So once a
 * consumer that a live estimate alone holds below full quality has been steady for
 * `climbAfterMs` with no loss or queue, past its hold, it climbs one step (to the top of its
 * spatial layer, else the next layer) on trial for `climbTrialMs`, with the transport's
 * minimum outgoing bitrate held at the step's need (`floors`) so mediasoup forwards it. The
 * receiver's reports judge it like a resume trial: loss or a queue sends it back at once and
 * counts as a failed upgrade (the hold grows, up to `maxHoldAfterDowngradeMs`); a climb
 * that held keeps its floor while the video stays on that level, until evidence, and the
 * next step may follow at once; one consumer climbs at a time. Nothing tells a capped link from a lifted cap but such a
 * try: on a link that stays capped it costs one short overload per maximum hold. Or the
 * estimate, when a probe of mediasoup's looks past the cap: a hold that failures grew ends
 * once a live estimate, with no loss or queue, reaches `riseAfterFailure` times the estimate
 * at the last failure (at least what the failed step was tried on). Under a cap the estimate
 * cannot pass what the link carries, which is below what the failed step needed; a cap lifted
 * just after a failed climb (so the hold stood at 6-8 s) no longer delays the climb by that.
 * A later failure raises the mark to the estimate it failed on, so one misread cannot repeat.
 *
 * The estimate alone is weak evidence the other way too: on a starved machine a probe burst
 * or late feedback reads as overuse and the estimate collapses (to 590 kbit/s under a 714
 * kbit/s top layer on clean loopback; 173 -> 41 kbit/s under 160p right after a lifted cap),
 * and mediasoup's own allocation follows it down at once. So a consumer whose level the live
 * estimate has carried since it got there, and that the estimate alone no longer carries (no
 * loss, no queue), is held at that level (`held`), with the transport's minimum outgoing
 * bitrate at its need (`floors`), for up to `levelHoldMs`: the estimator, floored and fed
 * what the consumer gets, recovers, and the picture neither drops nor pauses. (Held on a low
 * level, it did: paused, resumed on trial after the hold, then climbing from the bottom,
 * 19.4 s from a lifted cap to full quality.) A held consumer below full quality may still
 * climb: the hold keeps it from falling, not from rising. Loss or a queue ends the hold at
 * once and the usual rules lower the cap; a real cap produces them within a second or two, as
 * the floored stream overflows its queue. A hold is not taken again until the estimate has
 * been left to itself for as long (the normal `downgradeAfterMs` and `pauseAfterMs` then
 * apply), so an estimate that stays low costs at most `levelHoldMs` + `downgradeAfterMs` at a
 * level. `holdBelowFull` off holds full quality only (as before; for A/B runs).
 */

export type VideoSource = 'camera' | 'screen';

export interface Layers {
  spatialLayer: number;
  temporalLayer: number;
}

/** One quality step a consumer can be sent at and its bitrate, bit/s. */
export interface VideoLevel extends Layers {
  bitrate: number;
}

export interface VideoConsumerInput {
  id: string;
  source: VideoSource;
  /** Available levels, lowest first (the last one is full quality); empty when unknown. */
  levels: VideoLevel[];
}

export interface PolicyInput {
  now: number;
  /** The receiver's estimated downlink (mediasoup's available outgoing bitrate), bit/s. */
  availableBitrate: number;
  /** Bitrate the receiver's audio needs, bit/s; reserved before any video. */
  audioBitrate: number;
  /** The receiver reports heavy loss (poor consumer scores): trust the estimate less. */
  congested: boolean;
  /** The receiver's reports show a bottleneck queue or its overflow right now. */
  overloaded?: boolean;
  /**
   * The highest value the estimate can take now (mediasoup bounds it at 1.35× what the
   * consumers could use). An estimate at this ceiling says the link is not the limit.
   */
  estimateCeiling?: number;
  /** Video consumers the receiver wants (resumed by it, producer not paused). */
  consumers: VideoConsumerInput[];
}

export interface PolicyOptions {
  /** Share of the estimate that media may use; the rest absorbs estimate error and RTCP. */
  headroom: number;
  /** Further factor on the estimate while the receiver is congested. */
  congestedFactor: number;
  /** An upgrade must fit with this much to spare (0.15: 15 % above its bitrate). */
  upMargin: number;
  /** An upgrade must have fitted continuously for this long, ms. */
  upgradeAfterMs: number;
  /** No upgrade (or resume) of a consumer this soon after its last downgrade, ms. */
  holdAfterDowngradeMs: number;
  /** The hold after repeated failed upgrades grows up to this, ms. */
  maxHoldAfterDowngradeMs: number;
  /** Each failed upgrade multiplies the hold by this (up to `maxHoldAfterDowngradeMs`). */
  holdGrowth: number;
  /** A downgrade this soon after an upgrade means the upgrade failed, ms. */
  failedUpgradeWindowMs: number;
  /** Pause only after the lowest level has not fitted for this long, ms. */
  pauseAfterMs: number;
  /**
   * Without loss or queue evidence (`congested`, `overloaded`), lower a cap only after the
   * lower level has been all that fits for this long, ms.
   */
  downgradeAfterMs: number;
  /** How long a trial resume of paused video lasts before it may be paused again, ms (0: no trials). */
  resumeTrialMs: number;
  /**
   * Share of the estimate an upgrade may fill while the estimate alone holds video down (see
   * probeRoom); `headroom` or more: off. Off by default until an A/B on a quiet machine shows
   * it helps (test/measure/bandwidthRecovery.test.ts).
   */
  probeHeadroom: number;
  /** probeRoom applies to every decision, downgrades and pauses too (true), or only to upgrades. */
  probeRoomAlways: boolean;
  /**
   * The estimate "opened" when full quality fits it with this much to spare on top of
   * `upMargin` (0.5: 50 %) and it has doubled since the last downgrade: then no hold
   * applies (see the module comment). 0: off.
   */
  openMargin: number;
  /** A consumer held below full by the estimate alone climbs a step after being steady this long, ms (0: never). */
  climbAfterMs: number;
  /** How long a climb is on trial (its floor held, the receiver's reports watched), ms. */
  climbTrialMs: number;
  /**
   * A hold that failed upgrades grew ends when a live estimate with no loss or queue reaches
   * this multiple of the estimate at the last failure (0: never; see the module comment).
   */
  riseAfterFailure: number;
  /**
   * How long a consumer is held at a level the estimate carried, its floor held, when a live
   * estimate alone falls below it with no loss or queue reported, ms (0: never; see the module
   * comment).
   */
  levelHoldMs: number;
  /** The hold applies at every level (true), or at full quality only (false: the old rule). */
  holdBelowFull: boolean;
}

export const DEFAULT_POLICY: Readonly<PolicyOptions> = Object.freeze({
  headroom: 0.85,
  congestedFactor: 0.7,
  upMargin: 0.1,
  upgradeAfterMs: 2000,
  holdAfterDowngradeMs: 4000,
  maxHoldAfterDowngradeMs: 8000,
  holdGrowth: 1.5,
  failedUpgradeWindowMs: 5000,
  pauseAfterMs: 1000,
  downgradeAfterMs: 2000,
  resumeTrialMs: 3000,
  probeHeadroom: 0.85,
  probeRoomAlways: false,
  openMargin: 0.5,
  climbAfterMs: 1500,
  climbTrialMs: 1500,
  riseAfterFailure: 1.5,
  levelHoldMs: 4000,
  holdBelowFull: true,
});

/** What a consumer may be sent: up to these layers (FULL: whatever is best), or nothing (paused). */
export type Cap = Layers | null;

/** The cap of a consumer that is not limited: it follows the producer's best layer as it appears. */
export const FULL: Readonly<Layers> = Object.freeze({
  spatialLayer: Number.POSITIVE_INFINITY,
  temporalLayer: Number.POSITIVE_INFINITY,
});

export interface ConsumerMemory {
  cap: Cap;
  lastDowngradeAt: number;
  lastUpgradeAt: number;
  /** The current hold after a downgrade, ms (grows with failed upgrades). */
  holdMs: number;
  /** Since when an upgrade has fitted (null: it does not). */
  upgradeFitsSince: number | null;
  /** Since when not even the lowest level has fitted (null: it fits). */
  nothingFitsSince: number | null;
  /** Since when only a level below the cap has fitted (null: the cap fits). */
  lowerFitsSince: number | null;
  /** A trial resume or climb is on until then, when it is judged (0: none). */
  trialUntil: number;
  /** The level a climb on trial started from (null: the trial is a resume from a pause). */
  climbFrom: number | null;
  /** Since when the cap has not changed and no loss or queue was reported. */
  steadySince: number;
  /**
   * The estimate at the last downgrade, bit/s (what an opened estimate is compared with); for
   * a failed upgrade, at least the estimate it was made on, so the same estimate cannot
   * open the way for it again.
   */
  estimateAtDowngrade: number;
  /** The estimate at the last upgrade or trial, bit/s. */
  estimateAtUpgrade: number;
  /**
   * A trial (resume or climb) held at the current cap since the last change: the receiver's
   * reports showed the link carries it.
   */
  vouched: boolean;
  /** The level is held against the estimate, its floor held, until then (0: no hold). */
  heldUntil: number;
  /** When the last such hold ended (-Infinity: never). */
  heldEndedAt: number;
  /**
   * The level index the estimate has carried this consumer at since it last got there (-1:
   * none): only that level is held against a drop of the estimate (a new consumer on a low
   * estimate is not, nor a level that loss or a queue chose).
   */
  carried: number;
}

/** What the policy remembers between decisions, per consumer id. */
export type PolicyMemory = Map<string, ConsumerMemory>;

export interface Decision {
  /** The cap for every consumer of the input. */
  caps: Map<string, Cap>;
  /** Bit/s available for video after audio and headroom. */
  videoBudget: number;
  /** Consumers whose paused video is on trial at the lowest level now: probe the link. */
  trials: string[];
  /** Consumers climbing a step on trial now (flowing: the client hears nothing of it). */
  climbs: string[];
  /** Consumers held at their level against an estimate that alone fell below it. */
  held: string[];
  /**
   * Consumers whose level (their cap) the transport's minimum outgoing bitrate is held for
   * (`trialFloor`): those on trial or climbing, those whose trial or climb held, and those
   * held at their level.
   */
  floors: string[];
}

/** Total order on layers: spatial first, then temporal. */
export function compareLayers(a: Layers, b: Layers): number {
  const cmp = (x: number, y: number) => (x < y ? -1 : x > y ? 1 : 0);
  return cmp(a.spatialLayer, b.spatialLayer) || cmp(a.temporalLayer, b.temporalLayer);
}

/** Index of the highest level at or below the cap (0 when the cap is below them all), -1 when paused. */
export function levelIndex(levels: readonly VideoLevel[], cap: Cap): number {
  if (cap === null) return -1;
  let index = 0;
  levels.forEach((l, i) => {
    if (compareLayers(l, cap) <= 0) index = i;
  });
  return index;
}

/** What each level costs: its bitrate, never less than a lower level's (encoders ramp unevenly). */
function costs(levels: readonly VideoLevel[]): number[] {
  let floor = 0;
  return levels.map((l) => (floor = Math.max(floor, l.bitrate)));
}

/**
 * Splits a video budget over consumers: every consumer's lowest level if it fits (screens
 * first), then screens to full quality, then cameras one level at a time, round-robin.
 * Returns a level index per consumer (-1: paused). Consumers without levels get -1 too.
 */
export function allocate(
  budget: number,
  consumers: readonly VideoConsumerInput[],
): Map<string, number> {
  const ordered = [
    ...consumers.filter((c) => c.source === 'screen'),
    ...consumers.filter((c) => c.source !== 'screen'),
  ];
  const cost = new Map(ordered.map((c) => [c.id, costs(c.levels)]));
  const chosen = new Map<string, number>();
  let left = budget;
  for (const c of ordered) {
    const first = cost.get(c.id)![0];
    if (first !== undefined && first <= left) {
      chosen.set(c.id, 0);
      left -= first;
    } else {
      chosen.set(c.id, -1);
    }
  }
  // One step up for a consumer, if its next level fits in what is left.
  const step = (c: VideoConsumerInput): boolean => {
    const at = chosen.get(c.id)!;
    const cs = cost.get(c.id)!;
    if (at < 0 || at + 1 >= cs.length) return false;
    const extra = cs[at + 1]! - cs[at]!;
    if (extra > left) return false;
    chosen.set(c.id, at + 1);
    left -= extra;
    return true;
  };
  for (const c of ordered) if (c.source === 'screen') while (step(c));
  const cameras = ordered.filter((c) => c.source !== 'screen');
  for (let progressed = true; progressed;) {
    progressed = false;
    for (const c of cameras) if (step(c)) progressed = true;
  }
  return chosen;
}

/** The video budget for an estimate: headroom, congestion and the audio reserve taken off. */
export function videoBudget(input: PolicyInput, options: PolicyOptions): number {
  const ceiling = input.estimateCeiling;
  if (ceiling !== undefined && ceiling > 0 && input.availableBitrate >= 0.95 * ceiling) {
    return Number.POSITIVE_INFINITY;
  }
  const usable = input.availableBitrate * options.headroom;
  return Math.max(0, usable * (input.congested ? options.congestedFactor : 1) - input.audioBitrate);
}

/**
 * The estimate a trial resume needs for its consumers' lowest levels to fit the video budget
 * at its end, with the upgrade margin (bit/s; 0 when nothing is on trial). The adapter holds
 * the transport's minimum outgoing bitrate there while the trial runs: with only audio
 * flowing the estimate sinks to mediasoup's floor, which no video layer fits.
 */
export function trialFloor(
  input: Pick<PolicyInput, 'consumers' | 'audioBitrate'>,
  trials: readonly string[],
  options: PolicyOptions,
  caps?: ReadonlyMap<string, Cap>,
): number {
  const need = input.consumers
    .filter((c) => trials.includes(c.id))
    .reduce((sum, c) => sum + levelCost(c.levels, caps?.get(c.id)), 0);
  if (need === 0) return 0;
  return ((need + input.audioBitrate) / options.headroom) * (1 + options.upMargin);
}

/** What a consumer costs at a cap, bit/s (its lowest level when no cap is given; 0 when paused). */
function levelCost(levels: readonly VideoLevel[], cap: Cap | undefined): number {
  const index = cap === undefined ? 0 : levelIndex(levels, cap);
  return index < 0 ? 0 : (costs(levels)[index] ?? 0);
}

/** The step a climb takes from a level: the top of its spatial layer, else the next level. */
function climbTarget(levels: readonly VideoLevel[], from: number): number {
  const spatial = levels[from]!.spatialLayer;
  let top = from;
  while (top + 1 < levels.length && levels[top + 1]!.spatialLayer === spatial) top++;
  return top > from ? top : from + 1;
}

/**
 * The options with which an estimate that alone holds video down leaves room for mediasoup's
 * own probe. libwebrtc probes the link periodically (every 5 s, at twice the estimate) only
 * while the sender is "application limited": sending under 65 % of the estimate. An adapter
 * that fills 85 % of it never lets that probe run, and the estimate then climbs by its slow
 * additive/multiplicative rule alone. Without loss or queue evidence, and below the estimate's
 * ceiling (above it the link is not the limit anyway), video fills at most `probeHeadroom`.
 */
export function probeRoom(input: PolicyInput, options: PolicyOptions): PolicyOptions {
  const ceiling = input.estimateCeiling;
  const evidence = input.congested || input.overloaded === true;
  if (evidence || ceiling === undefined || options.probeHeadroom >= options.headroom) {
    return options;
  }
  return { ...options, headroom: options.probeHeadroom };
}

/**
 * Decides each consumer's cap from the measurements and what was decided before (updating
 * `memory`). A consumer seen for the first time starts uncapped and is lowered at once if
 * that does not fit. Consumers missing from the input are forgotten.
 */
export function decide(
  input: PolicyInput,
  memory: PolicyMemory,
  options: PolicyOptions = DEFAULT_POLICY,
): Decision {
  const roomy = probeRoom(input, options);
  const budget = videoBudget(input, options.probeRoomAlways ? roomy : options);
  const fitsNow = allocate(budget, input.consumers);
  const upBudget = options.probeRoomAlways ? budget : videoBudget(input, roomy);
  const fitsWithMargin = allocate(upBudget / (1 + options.upMargin), input.consumers);
  const evidence = input.congested || input.overloaded === true;
  // Full quality for everyone fits a live estimate (a 'bwe' trace, which carries the
  // ceiling, not an older stats reading) with the open margin: the link is wide.
  const wide =
    options.openMargin > 0 &&
    !evidence &&
    input.estimateCeiling !== undefined &&
    fullFits(upBudget / ((1 + options.upMargin) * (1 + options.openMargin)), input.consumers);
  const caps = new Map<string, Cap>();
  const trials: string[] = [];
  const climbs: string[] = [];
  const held: string[] = [];
  const now = input.now;
  for (const id of memory.keys()) {
    if (!input.consumers.some((c) => c.id === id)) memory.delete(id);
  }
  // A live estimate (not an older stats reading) with no loss or queue reported: climbs may try.
  const mayClimb = options.climbAfterMs > 0 && !evidence && input.estimateCeiling !== undefined;
  // One climb at a time for the receiver, so that loss or a queue is put down to the right
  // one; the consumer that could climb soonest goes first, so each gets its turn.
  const readyAt = (m: ConsumerMemory) =>
    Math.max(m.steadySince + options.climbAfterMs, m.lastDowngradeAt + m.holdMs);
  const waiting = input.consumers.flatMap((c) => {
    const m = memory.get(c.id);
    const at = m ? levelIndex(c.levels, m.cap) : -1;
    return m && at >= 0 && at < c.levels.length - 1 && !m.trialUntil ? [readyAt(m)] : [];
  });
  const firstInLine = Math.min(...waiting);
  const climbing = () =>
    climbs.length > 0 ||
    input.consumers.some((c) => {
      const m = memory.get(c.id);
      return m !== undefined && m.trialUntil > 0 && m.climbFrom !== null;
    });
  // Trials only help when nothing else lets the estimator see the link.
  const allPaused = input.consumers.every((c) => memory.get(c.id)?.cap === null);
  for (const c of input.consumers) {
    let m = memory.get(c.id);
    if (!m) {
      m = {
        cap: FULL,
        lastDowngradeAt: -Infinity,
        lastUpgradeAt: -Infinity,
        holdMs: options.holdAfterDowngradeMs,
        upgradeFitsSince: null,
        nothingFitsSince: null,
        lowerFitsSince: null,
        trialUntil: 0,
        climbFrom: null,
        steadySince: now,
        estimateAtDowngrade: 0,
        estimateAtUpgrade: 0,
        vouched: false,
        heldUntil: 0,
        heldEndedAt: -Infinity,
        carried: -1,
      };
      memory.set(c.id, m);
    }
    if (c.levels.length === 0) {
      // Nothing known about its layers yet: leave it as it is.
      caps.set(c.id, m.cap);
      continue;
    }
    const current = levelIndex(c.levels, m.cap);
    const fits = fitsNow.get(c.id)!;
    const withMargin = fitsWithMargin.get(c.id)!;
    const mem = m;
    // The estimate opened since this consumer's last downgrade: no hold applies.
    const opened = wide && input.availableBitrate >= 2 * m.estimateAtDowngrade;
    if (
      options.riseAfterFailure > 0 &&
      m.holdMs > options.holdAfterDowngradeMs &&
      !evidence &&
      input.estimateCeiling !== undefined &&
      now - m.lastDowngradeAt < m.holdMs &&
      input.availableBitrate >= options.riseAfterFailure * m.estimateAtDowngrade
    ) {
      // The link changed since the failures that grew the hold: it is over.
      m.holdMs = options.holdAfterDowngradeMs;
      m.lastDowngradeAt = Math.min(m.lastDowngradeAt, now - m.holdMs);
    }
    let lowered = false;
    const lower = (cap: Cap) => {
      lowered = true;
      mem.estimateAtDowngrade = input.availableBitrate;
      // A grown hold counts from the failure that grew it: the leftover queue of a failed
      // try lowers the level further without putting the next try off.
      const grownHold =
        mem.holdMs > options.holdAfterDowngradeMs && now - mem.lastDowngradeAt < mem.holdMs;
      if (now - mem.lastUpgradeAt < options.failedUpgradeWindowMs) {
        mem.holdMs = Math.min(
          options.maxHoldAfterDowngradeMs,
          Math.round(mem.holdMs * options.holdGrowth),
        );
        mem.lastUpgradeAt = -Infinity; // counted once
        mem.estimateAtDowngrade = Math.max(input.availableBitrate, mem.estimateAtUpgrade);
        mem.lastDowngradeAt = now;
      } else if (now - mem.lastDowngradeAt > options.maxHoldAfterDowngradeMs * 2) {
        mem.holdMs = options.holdAfterDowngradeMs; // calm for a while: start over
        mem.lastDowngradeAt = now;
      } else if (!grownHold) {
        mem.lastDowngradeAt = now;
      }
      mem.cap = cap;
      mem.steadySince = now;
      mem.lowerFitsSince = null;
      mem.vouched = false;
      if (cap === null || mem.climbFrom !== null) mem.trialUntil = 0; // a failed trial is over
    };
    if (evidence) {
      m.vouched = false; // the link spoke for itself: no floor forces traffic into it
      m.steadySince = now;
    }
    if (fits >= 0) m.nothingFitsSince = null;
    if (fits >= current) m.lowerFitsSince = null;
    if (m.trialUntil && opened) m.trialUntil = 0; // it holds: the link opened meanwhile
    const top = c.levels.length - 1;
    // A new level is not carried yet; a climb on trial keeps the level it started from (a
    // failed climb returns to a level the estimate carried before it).
    const climbingFromCarried = m.trialUntil > 0 && m.climbFrom === m.carried;
    if (m.carried !== current && !climbingFromCarried) m.carried = -1;
    // Carried: the estimate fits the level, or a trial of it held (the reports carried it).
    if (current >= 0 && (fits >= current || m.vouched) && !evidence && !m.trialUntil) {
      m.carried = current;
    }
    if (m.heldUntil && (evidence || now >= m.heldUntil || m.carried !== current)) {
      // Over: the reports spoke (the usual rules lower the cap now), its time is up, or the
      // level changed.
      m.heldUntil = 0;
      m.heldEndedAt = now;
      m.lowerFitsSince = null;
    }
    if (
      !m.heldUntil &&
      m.carried === current &&
      (current === top || options.holdBelowFull) &&
      options.levelHoldMs > 0 &&
      !evidence &&
      input.estimateCeiling !== undefined &&
      !m.trialUntil &&
      fits < current &&
      now - m.heldEndedAt >= options.levelHoldMs
    ) {
      m.heldUntil = now + options.levelHoldMs;
    }
    if (m.heldUntil) {
      // The level held against the estimate alone, its floor held (see the module comment).
      m.lowerFitsSince = null;
      m.nothingFitsSince = null;
    }
    if (m.trialUntil && m.climbFrom !== null) {
      // A climb: back to where it came from on loss or a queue (a failed upgrade).
      if (evidence) lower(capAt(c.levels, Math.min(m.climbFrom, current)));
      else if (now >= m.trialUntil) {
        m.trialUntil = 0; // it held: normal rules from here, the next step included
        m.vouched = true;
      }
      if (m.trialUntil) climbs.push(c.id);
    } else if (m.trialUntil) {
      if (input.overloaded) lower(null);
      else if (now >= m.trialUntil) {
        if (fits >= 0) {
          m.trialUntil = 0; // it held: normal rules from here
          m.vouched = true;
        } else lower(null);
      }
      if (m.trialUntil) trials.push(c.id);
    }
    if (m.trialUntil || lowered) {
      caps.set(c.id, m.cap);
      continue;
    }
    // A held level counts as fitting: nothing lowers or pauses it, a climb may still start.
    if ((m.heldUntil ? Math.max(fits, current) : fits) < current) {
      m.upgradeFitsSince = null;
      if (fits >= 0) {
        m.lowerFitsSince ??= now;
        if (evidence || now - m.lowerFitsSince >= options.downgradeAfterMs) {
          lower(capAt(c.levels, fits));
        }
      } else {
        m.nothingFitsSince ??= now;
        if (now - m.nothingFitsSince >= options.pauseAfterMs) lower(null);
        // Down to the lowest level at once while deciding whether to pause.
        else if (current > 0) lower(capAt(c.levels, 0));
      }
    } else if (withMargin > current) {
      m.upgradeFitsSince ??= now;
      if (
        opened ||
        (now - m.upgradeFitsSince >= options.upgradeAfterMs && now - m.lastDowngradeAt >= m.holdMs)
      ) {
        if (opened) m.holdMs = options.holdAfterDowngradeMs; // the failures predate the change
        m.cap = capAt(c.levels, withMargin);
        m.lastUpgradeAt = now;
        m.estimateAtUpgrade = input.availableBitrate;
        m.upgradeFitsSince = null;
        m.nothingFitsSince = null;
        m.steadySince = now;
        m.vouched = false; // the estimate carries this level, not a trial
        if (current < 0 && allPaused && options.resumeTrialMs > 0 && !opened) {
          // With all video paused the estimate has not seen the link since: a resume it
          // allows is still a trial, judged by the receiver's reports like any other.
          m.nothingFitsSince = null;
          m.trialUntil = now + options.resumeTrialMs;
          m.climbFrom = null;
          trials.push(c.id);
        }
      }
    } else if (
      mayClimb &&
      !climbing() &&
      readyAt(m) <= firstInLine &&
      current >= 0 &&
      current < c.levels.length - 1 &&
      now - m.steadySince >= options.climbAfterMs &&
      now - m.lastDowngradeAt >= m.holdMs
    ) {
      // Held down by the estimate alone: climb a step on trial, its floor held (see the module comment).
      // The climb's trial and floor take over from a hold (back from a failed climb, the
      // level it left may be held again: the failure spoke of the step, not of that level).
      m.heldUntil = 0;
      m.climbFrom = current;
      m.cap = capAt(c.levels, climbTarget(c.levels, current));
      m.lastUpgradeAt = now;
      m.estimateAtUpgrade = input.availableBitrate;
      m.upgradeFitsSince = null;
      m.trialUntil = now + options.climbTrialMs;
      m.steadySince = now;
      m.vouched = false;
      climbs.push(c.id);
    } else if (
      current < 0 &&
      allPaused &&
      options.resumeTrialMs > 0 &&
      now - m.lastDowngradeAt >= m.holdMs
    ) {
      m.cap = capAt(c.levels, 0);
      m.lastUpgradeAt = now;
      m.estimateAtUpgrade = input.availableBitrate;
      m.upgradeFitsSince = null;
      m.nothingFitsSince = null;
      m.trialUntil = now + options.resumeTrialMs;
      m.climbFrom = null;
      m.steadySince = now;
      trials.push(c.id);
    } else {
      m.upgradeFitsSince = null;
    }
    if (m.heldUntil) held.push(c.id);
    caps.set(c.id, m.cap);
  }
  // A vouched level keeps its floor below full quality; at full quality the estimator is fed
  // all there is to send, and sees the link for itself.
  const vouched = (c: VideoConsumerInput) => {
    const at = levelIndex(c.levels, caps.get(c.id)!);
    return memory.get(c.id)!.vouched && at >= 0 && at < c.levels.length - 1;
  };
  const floors = [
    ...trials,
    ...climbs,
    ...held,
    ...input.consumers
      .filter((c) => !trials.includes(c.id) && !climbs.includes(c.id) && vouched(c))
      .map((c) => c.id),
  ];
  return { caps, videoBudget: budget, trials, climbs, held, floors };
}

/** Whether every consumer's full quality fits the budget (and its layers are known). */
function fullFits(budget: number, consumers: readonly VideoConsumerInput[]): boolean {
  const chosen = allocate(budget, consumers);
  return consumers.every((c) => c.levels.length > 0 && chosen.get(c.id) === c.levels.length - 1);
}

/** The cap for a level: FULL for the top one, so the consumer keeps up with new layers. */
function capAt(levels: readonly VideoLevel[], index: number): Layers {
  const l = levels[index]!;
  if (index === levels.length - 1) return FULL;
  return { spatialLayer: l.spatialLayer, temporalLayer: l.temporalLayer };
}
