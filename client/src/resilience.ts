/**
 * Keeping media alive on a changing network: ICE restarts for a transport whose path broke
 * (with a grace period, backoff and a bound), a watch on the browser's network events, and
 * the selected ICE candidate pair read from a transport's stats.
 */
import type { types as ms } from 'mediasoup-client';
import { Emitter } from './emitter';
import { RequestError } from './request';

/** Why an ICE restart was run. */
export type RestartReason =
  'disconnected' | 'failed' | 'stalled' | 'quiet' | 'network' | 'signalling' | 'udp';

export interface IceRecoveryOptions {
  /** How long a transport may stay 'disconnected' before a restart: ICE often recovers alone. */
  disconnectedGraceMs: number;
  /** Restarts allowed for one outage; the budget refills after stableMs of health, or on a network change. */
  maxAttempts: number;
  /** How long a transport must stay connected and receiving before its budget refills. */
  stableMs: number;
  /** Wait before retrying a restart that did not reconnect; doubles per attempt up to retryMaxMs. */
  retryBaseMs: number;
  retryMaxMs: number;
  /**
   * A connected transport that should be receiving (media, or RTCP feedback for what it sends)
   * but got no byte for this long is restarted: ICE notices a NAT rebinding or a dead path
   * only seconds later.
   */
  stallMs: number;
  /** How often the transport's received bytes are read. */
  stallCheckMs: number;
  /**
   * Read them from the start; false: only once `watchTraffic()` is called (after the first
   * frame), so that a join's busiest moment is not also spent reading stats.
   */
  watchFromStart: boolean;
  /**
   * A transport that hears something every few checks (RTCP feedback on a sending transport,
   * media on a receiving one) is "quiet" after `quietFactor` times its usual interval between
   * arrivals, and at least `quietMinMs`: long before `stallMs`. On its own a quiet transport
   * only says 'quiet'; the caller restarts on it when the evidence points at our own path
   * (see `restartOnOwnPath`). A NAT rebinding or handover shows as quiet on both transports.
   */
  quietMinMs: number;
  quietFactor: number;
  /**
   * Quiet counts only while this side kept sending (a sending transport whose own packets
   * stopped, e.g. a starved encoder, gets no feedback either: that says nothing about the path).
   */
  quietNeedsOutbound: boolean;
  /**
   * On ICE-TCP this long after connecting (or restarting) while UDP had worked, or on ICE-TCP
   * from the start: restart ICE once more so it can pick UDP again, ms. After an outage,
   * Chromium selects the first pair that answers (the TCP one, whose checks waited in a
   * buffer) and stops checking the UDP pairs that failed meanwhile: it never comes back.
   */
  udpReturnAfterMs: number;
  /** Such restarts per outage (UDP may really be blocked now); a UDP pair refills them. */
  maxUdpReturns: number;
}

export const ICE_RECOVERY_DEFAULTS: Readonly<IceRecoveryOptions> = Object.freeze({
  disconnectedGraceMs: 2000,
  maxAttempts: 6,
  stableMs: 10_000,
  retryBaseMs: 2000,
  retryMaxMs: 8000,
  stallMs: 800,
  stallCheckMs: 100,
  watchFromStart: true,
  quietMinMs: 250,
  quietFactor: 3,
  quietNeedsOutbound: true,
  udpReturnAfterMs: 2000,
  maxUdpReturns: 2,
});

type IceRecoveryEvents = {
  /** A restart was negotiated with the server and applied to the browser's transport. */
  restarted: [RestartReason];
  /** A restart request failed for another reason than lost signalling. */
  error: [unknown];
  /** maxAttempts restarts did not bring the transport back; only a network change retries. */
  gaveUp: [];
  /** The transport stopped receiving what it should (true), or receives again (false). */
  stalled: [boolean];
  /** Nothing arrived for several times the usual interval (once per silence): maybe our path broke. */
  quiet: [];
};

const broken = (state: ms.ConnectionState): boolean =>
  state === 'disconnected' || state === 'failed';

/**
 * Restarts ICE on one transport when its path breaks, without rejoining. `restart` asks the
 * server for new ICE parameters and applies them; `canSignal` says whether it can be asked
 * now (a restart needed while signalling is down runs once it is back); `expectsTraffic` says
 * whether the transport should be receiving now (a stall is only a stall then).
 */
export class IceRecovery extends Emitter<IceRecoveryEvents> {
  readonly #o: IceRecoveryOptions;
  #attempts = 0;
  #restarts = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #running = false;
  /** A restart was asked for while one ran, or while signalling was down. */
  #pending: RestartReason | null = null;
  #gaveUp = false;
  #closed = false;
  // Stall detection.
  #watch: ReturnType<typeof setInterval> | null = null;
  #reading = false;
  #bytes = -1;
  #bytesChangedAt = performance.now();
  /** Bytes sent when the last check saw new bytes arrive, and at the last check. */
  #sentAtArrival = 0;
  #sent = 0;
  #stalled = false;
  #healthySince = performance.now();
  /** Smoothed interval between checks that saw new bytes, ms (null until measured). */
  #cadence: number | null = null;
  #cadenceSamples = 0;
  /** 'quiet' was said for this silence (cleared when bytes arrive). */
  #quietSaid = false;
  #quietAt = -Infinity;
  /** A restart ran for this silence already (cleared when bytes arrive). */
  #restartedInSilence = false;
  /**
   * Bytes arrived between two checks: only a transport that has delivered can stall (a
   * join's transport still waiting for its first media is ICE's to judge, not ours).
   */
  #delivered = false;
  /** When the last restart started or was applied: a stall restart waits stallMs after it. */
  #restartedAt = -Infinity;
  // Back to UDP.
  /** The transport has used a UDP pair (null: no pair seen yet). */
  #usedUdp: boolean | null = null;
  #udpReturns = 0;
  /** When the transport last connected or restarted: the pair may still change until udpReturnAfterMs later. */
  #pairSettlingSince = performance.now();

  constructor(
    private readonly transport: ms.Transport,
    private readonly restart: () => Promise<void>,
    private readonly canSignal: () => boolean,
    private readonly expectsTraffic: () => boolean,
    options: Partial<IceRecoveryOptions> = {},
  ) {
    super();
    this.#o = { ...ICE_RECOVERY_DEFAULTS, ...options };
    if (this.#o.watchFromStart) this.watchTraffic();
  }

  /** Starts reading the transport's traffic every `stallCheckMs` (stalls, quiet, back to UDP); idempotent. */
  watchTraffic(): void {
    if (this.#closed || this.#watch) return;
    const now = performance.now();
    this.#bytesChangedAt = now;
    this.#healthySince = now;
    this.#watch = setInterval(() => void this.#checkTraffic(), this.#o.stallCheckMs);
  }

  /** The traffic watch runs (see `watchTraffic`). */
  get watching(): boolean {
    return this.#watch !== null;
  }

  /** ICE restarts this transport went through. */
  get restarts(): number {
    return this.#restarts;
  }

  /** Connected as far as ICE knows, but nothing arrives although it should: media is stuck. */
  get stalled(): boolean {
    return this.#stalled;
  }

  /** How long the transport has received nothing while it should, ms (0 when nothing is expected). */
  get silentMs(): number {
    if (this.#closed || this.transport.connectionState !== 'connected' || !this.expectsTraffic()) {
      return 0;
    }
    return performance.now() - this.#bytesChangedAt;
  }

  /** Silent for several times its usual interval between arrivals (see `quietMinMs`). */
  get quiet(): boolean {
    const threshold = this.#quietThreshold();
    return threshold !== null && this.silentMs >= threshold && this.#sentDuringSilence();
  }

  /** Was quiet within the last `ms` (a quiet spell that ended since counts). */
  quietWithin(ms: number): boolean {
    return performance.now() - this.#quietAt <= ms;
  }

  /**
   * Restarts ICE now on evidence the caller has about our own path (reason 'quiet'), once per
   * silence: a second restart before the first one's checks finish would only delay them.
   * Not before the transport has delivered anything: a join's silence is no broken path.
   */
  restartNow(): void {
    if (
      this.#closed ||
      !this.#delivered ||
      this.#restartedInSilence ||
      this.transport.connectionState === 'new'
    ) {
      return;
    }
    this.#restartedInSilence = true;
    void this.#run('quiet');
  }

  /** Feed every `connectionstatechange` of the transport. */
  onStateChange(state: ms.ConnectionState): void {
    if (this.#closed) return;
    switch (state) {
      case 'connected':
        this.#clearTimer();
        this.#pairSettlingSince = performance.now();
        break;
      case 'disconnected':
        if (!this.#timer && !this.#running) {
          this.#timer = setTimeout(() => {
            this.#timer = null;
            if (broken(this.transport.connectionState)) void this.#run('disconnected');
          }, this.#o.disconnectedGraceMs);
        }
        break;
      case 'failed':
        void this.#run('failed');
        break;
      case 'closed':
        this.close();
        break;
      default:
        break;
    }
  }

  /** The browser's network changed (back online, another network type): restart now. */
  networkChanged(): void {
    if (this.#closed || this.transport.connectionState === 'new') return;
    this.#attempts = 0;
    this.#gaveUp = false;
    this.#udpReturns = 0;
    void this.#run('network');
  }

  /** Signalling is back after a drop: run a restart that waited for it, or one a broken path needs. */
  signallingRestored(): void {
    if (this.#closed) return;
    const waiting = this.#pending;
    if (waiting || broken(this.transport.connectionState)) {
      this.#pending = null;
      void this.#run(waiting ?? 'signalling');
    }
  }

  close(): void {
    this.#closed = true;
    this.#clearTimer();
    if (this.#watch) clearInterval(this.#watch);
    this.#watch = null;
  }

  /** Connected and receiving what it should. */
  #healthy(): boolean {
    return this.transport.connectionState === 'connected' && !this.#stalled;
  }

  async #checkTraffic(): Promise<void> {
    if (this.#reading || this.#closed) return;
    const now = performance.now();
    if (!this.#healthy() || this.#running) {
      this.#healthySince = now;
    } else if (this.#attempts > 0 && now - this.#healthySince >= this.#o.stableMs) {
      // Back for good: a later outage gets the full budget again.
      this.#attempts = 0;
      this.#gaveUp = false;
    }
    if (this.transport.connectionState !== 'connected' || !this.expectsTraffic()) {
      this.#bytesChangedAt = now;
      this.#setStalled(false);
      return;
    }
    this.#reading = true;
    let bytes: number | null;
    let pair: SelectedPair | null = null;
    try {
      const report = await this.transport.getStats();
      bytes = bytesReceived(report);
      this.#sent = bytesSent(report);
      pair = selectedPair(report);
    } catch {
      bytes = null; // closed meanwhile
    } finally {
      this.#reading = false;
    }
    if (bytes === null || this.#closed) return;
    this.#checkProtocol(pair, now);
    if (bytes !== this.#bytes) {
      // A silence that no check saw is no evidence: it may be this check that came late.
      if (this.#quietSaid) this.#quietAt = now;
      else if (this.#bytes >= 0 && !this.#stalled) this.#learnCadence(now - this.#bytesChangedAt);
      if (this.#bytes >= 0) this.#delivered = true;
      this.#bytes = bytes;
      this.#bytesChangedAt = now;
      this.#sentAtArrival = this.#sent;
      this.#quietSaid = false;
      this.#restartedInSilence = false;
      this.#setStalled(false);
      return;
    }
    const silent = now - this.#bytesChangedAt;
    if (!this.#delivered) return;
    if (!this.#stalled && silent >= this.#o.stallMs) {
      this.#setStalled(true);
      // A restart that ran during this silence gets its checks' time before another one.
      if (now - this.#restartedAt >= this.#o.stallMs) void this.#run('stalled');
      else if (!this.#timer && !this.#running) this.#checkLater('stalled');
      return;
    }
    const threshold = this.#quietThreshold();
    if (
      !this.#quietSaid &&
      threshold !== null &&
      silent >= threshold &&
      this.#sentDuringSilence()
    ) {
      this.#quietSaid = true;
      this.#quietAt = now;
      this.emit('quiet');
    }
  }

  #sentDuringSilence(): boolean {
    return !this.#o.quietNeedsOutbound || this.#sent > this.#sentAtArrival;
  }

  /** Folds an interval between arrivals into the usual one. */
  #learnCadence(interval: number): void {
    this.#cadence = this.#cadence === null ? interval : 0.9 * this.#cadence + 0.1 * interval;
    this.#cadenceSamples += 1;
  }

  /** Silence that makes this transport quiet, ms; null while its cadence is unknown or too slow. */
  #quietThreshold(): number | null {
    if (this.#cadence === null || this.#cadenceSamples < 10) return null;
    const threshold = Math.max(this.#o.quietMinMs, this.#o.quietFactor * this.#cadence);
    return threshold < this.#o.stallMs ? threshold : null;
  }

  /** Restarts ICE when the transport settled on ICE-TCP although UDP had worked (or never tried it). */
  #checkProtocol(pair: SelectedPair | null, now: number): void {
    if (!pair || this.#running) return;
    if (pair.localProtocol === 'udp') {
      this.#usedUdp = true;
      this.#udpReturns = 0;
      return;
    }
    this.#usedUdp ??= false;
    // Never on UDP: one try (it may be blocked here); after UDP worked, a few.
    const budget = this.#usedUdp ? this.#o.maxUdpReturns : 1;
    if (
      pair.localProtocol === 'tcp' &&
      this.#udpReturns < budget &&
      now - this.#pairSettlingSince >= this.#o.udpReturnAfterMs
    ) {
      this.#udpReturns += 1;
      void this.#run('udp');
    }
  }

  #setStalled(stalled: boolean): void {
    if (stalled === this.#stalled) return;
    this.#stalled = stalled;
    this.emit('stalled', stalled);
  }

  async #run(reason: RestartReason): Promise<void> {
    this.#clearTimer();
    if (this.#closed) return;
    if (this.#running || !this.canSignal()) {
      this.#pending = reason;
      return;
    }
    if (this.#attempts >= this.#o.maxAttempts) {
      if (!this.#gaveUp) {
        this.#gaveUp = true;
        this.emit('gaveUp');
      }
      return;
    }
    this.#attempts += 1;
    this.#running = true;
    this.#restartedAt = performance.now();
    try {
      await this.restart();
      if (this.#closed) return;
      this.#pairSettlingSince = performance.now();
      this.#restartedAt = this.#pairSettlingSince;
      this.#restarts += 1;
      this.emit('restarted', reason);
    } catch (err) {
      if (this.#closed) return;
      if (err instanceof RequestError && err.code === 'disconnected') {
        // Signalling dropped meanwhile: try again once it is back.
        this.#attempts -= 1;
        this.#pending ??= reason;
      } else {
        this.emit('error', err);
      }
    } finally {
      this.#running = false;
    }
    if (this.#closed) return;
    const again = this.#pending;
    if (again && this.canSignal()) {
      this.#pending = null;
      void this.#run(again);
      return;
    }
    if (!this.#healthy() || reason !== 'network') this.#checkLater(reason);
  }

  /** Tries again if the transport is not back after the backoff for this attempt. */
  #checkLater(reason: RestartReason): void {
    const wait = Math.min(this.#o.retryBaseMs * 2 ** (this.#attempts - 1), this.#o.retryMaxMs);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      if (!this.#healthy() && this.transport.connectionState !== 'new') void this.#run(reason);
    }, wait);
  }

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }
}

/** The Network Information API (not typed by lib.dom). */
interface NetworkInformation extends EventTarget {
  type?: string;
  effectiveType?: string;
}

export type NetworkChange = 'online' | 'network-type';

/**
 * Calls `onChange` when the browser comes back online or its network type changes (Wi-Fi to
 * cellular): the path to the gateway probably changed, so ICE should be restarted. Changes of
 * the estimated speed alone (effectiveType, rtt) are not a new path and are ignored.
 */
export class NetworkWatch {
  readonly #connection = (navigator as Navigator & { connection?: NetworkInformation }).connection;
  #type: string | undefined;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #running = false;

  /**
   * `settleMs`: one report for a burst of events ('online' and a type change come together).
   * Short: the old path is gone, and every 100 ms waited is 100 ms of lost audio.
   */
  constructor(
    private readonly onChange: (change: NetworkChange) => void,
    private readonly settleMs = 100,
  ) {}

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#type = this.#connection?.type;
    window.addEventListener('online', this.#onOnline);
    this.#connection?.addEventListener('change', this.#onConnectionChange);
  }

  stop(): void {
    this.#running = false;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    window.removeEventListener('online', this.#onOnline);
    this.#connection?.removeEventListener('change', this.#onConnectionChange);
  }

  readonly #onOnline = (): void => this.#report('online');

  readonly #onConnectionChange = (): void => {
    const type = this.#connection?.type;
    if (type === this.#type) return;
    this.#type = type;
    this.#report('network-type');
  };

  #report(change: NetworkChange): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      if (this.#running && navigator.onLine !== false) this.onChange(change);
    }, this.settleMs);
  }
}

/** The ICE candidate pair a transport uses now, from its RTCPeerConnection stats. */
export interface SelectedPair {
  /** 'udp' or 'tcp'. */
  localProtocol: string;
  remoteProtocol: string;
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  bytesSent: number;
  bytesReceived: number;
}

type StatRecord = Record<string, unknown>;

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const int = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** Bytes the transport received so far, whatever the candidate pair (null if not reported). */
export function bytesReceived(report: RTCStatsReport): number | null {
  let total: number | null = null;
  report.forEach((stat: unknown) => {
    const s = stat as StatRecord;
    if (s.type === 'transport' && typeof s.bytesReceived === 'number') {
      total = (total ?? 0) + s.bytesReceived;
    }
  });
  return total;
}

/** Bytes the transport sent so far (0 if not reported). */
export function bytesSent(report: RTCStatsReport): number {
  let total = 0;
  report.forEach((stat: unknown) => {
    const s = stat as StatRecord;
    if (s.type === 'transport' && typeof s.bytesSent === 'number') total += s.bytesSent;
  });
  return total;
}

/** Reads the selected candidate pair from a transport's stats report (null before ICE connects). */
export function selectedPair(report: RTCStatsReport): SelectedPair | null {
  const byId = new Map<string, StatRecord>();
  report.forEach((stat: unknown) => {
    const s = stat as StatRecord;
    byId.set(str(s.id), s);
  });
  let pair: StatRecord | undefined;
  for (const s of byId.values()) {
    if (s.type === 'transport' && typeof s.selectedCandidatePairId === 'string') {
      pair = byId.get(s.selectedCandidatePairId);
      break;
    }
  }
  // Some browsers mark the pair instead of naming it on the transport.
  pair ??= [...byId.values()].find(
    (s) => s.type === 'candidate-pair' && (s.selected === true || s.nominated === true),
  );
  if (!pair) return null;
  const local = byId.get(str(pair.localCandidateId));
  const remote = byId.get(str(pair.remoteCandidateId));
  if (!local || !remote) return null;
  return {
    localProtocol: str(local.protocol),
    remoteProtocol: str(remote.protocol),
    localAddress: str(local.address ?? local.ip),
    localPort: int(local.port),
    remoteAddress: str(remote.address ?? remote.ip),
    remotePort: int(remote.port),
    bytesSent: int(pair.bytesSent),
    bytesReceived: int(pair.bytesReceived),
  };
}

/**
 * Restarts on evidence about our own path, long before a stall: a sending transport hears the
 * gateway's RTCP feedback on what it sends, so its silence is ours (a remote sender's dropout
 * never silences it); the receiving transport joins in when it is silent together with it (a
 * NAT rebinding or handover silences both). A receiving transport that falls silent only after
 * the send side was heard again is no such evidence at first: a remote sender may have dropped
 * just then (the gateway says so within about a second, and the transport then expects nothing
 * of that sender). It restarts once it has heard nothing at all for `lateSilentMs`: by then the
 * gateway's sender reports, sent about every second while the sender is silent, would have
 * come. A receiving transport silent alone waits for its stall. Call on either transport's 'quiet'.
 */
export function restartOnOwnPath(
  recovery: Partial<Record<'send' | 'recv', IceRecovery>>,
  partnerSilentMs = 250,
  ownPathWindowMs = 2000,
  lateSilentMs = 1600,
): void {
  const { send, recv } = recovery;
  if (!send || !(send.quiet || send.quietWithin(ownPathWindowMs))) return;
  if (send.quiet) {
    send.restartNow();
    if (recv && recv.silentMs >= partnerSilentMs) recv.restartNow();
    return;
  }
  if (!recv) return;
  const wait = lateSilentMs - recv.silentMs;
  if (wait <= 0) recv.restartNow();
  else if (recv.silentMs > 0) setTimeout(() => restartIfSilent(recv, lateSilentMs), wait);
}

/** Restarts `recv` if it has heard nothing (and expected something) for `ms` by now. */
function restartIfSilent(recv: IceRecovery, ms: number): void {
  if (recv.silentMs >= ms) recv.restartNow();
}
