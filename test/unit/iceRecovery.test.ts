/**
 * The client's ICE recovery (client/src/resilience.ts) against a scripted transport: when it
 * restarts ICE to come back to UDP, and how early it restarts on evidence about its own path
 * (a handover silences both transports; a remote sender's dropout silences only the receiving
 * one). Real browsers through the impairment relay: test/e2e/network.e2e.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

/**
 * The part of client/src/resilience.ts used here. The module is type-checked by the client's
 * tsc (browser typings, bundler imports); the server's tsc cannot read it, so it is loaded by
 * a path it does not follow.
 */
type RestartReason =
  'disconnected' | 'failed' | 'stalled' | 'quiet' | 'network' | 'signalling' | 'udp';
interface IceRecoveryOptions {
  stallMs: number;
  quietNeedsOutbound: boolean;
  watchFromStart: boolean;
}
interface IceRecovery {
  readonly stalled: boolean;
  readonly watching: boolean;
  watchTraffic(): void;
  on(event: 'restarted', listener: (reason: RestartReason) => void): () => void;
  on(event: 'quiet', listener: () => void): () => void;
  onStateChange(state: string): void;
  close(): void;
}
interface Resilience {
  IceRecovery: new (
    transport: unknown,
    restart: () => Promise<void>,
    canSignal: () => boolean,
    expectsTraffic: () => boolean,
    options?: Partial<IceRecoveryOptions>,
  ) => IceRecovery;
  restartOnOwnPath(recovery: { send?: IceRecovery; recv?: IceRecovery }): void;
}
const resilience = '../../client/src/resilience.js';
const { IceRecovery, restartOnOwnPath } = (await import(resilience)) as Resilience;

/** A transport whose stats the test scripts: bytes each way and the selected pair's protocol. */
class ScriptedTransport {
  connectionState = 'connected';
  received = 0;
  sent = 0;
  protocol: 'udp' | 'tcp' = 'udp';
  /** getStats() calls so far. */
  reads = 0;

  getStats(): Promise<Map<string, Record<string, unknown>>> {
    this.reads += 1;
    const candidate = (id: string) => ({
      id,
      type: id === 'l' ? 'local-candidate' : 'remote-candidate',
      protocol: this.protocol,
      address: '192.0.2.1',
      port: 40_000,
    });
    return Promise.resolve(
      new Map<string, Record<string, unknown>>([
        [
          't',
          {
            id: 't',
            type: 'transport',
            bytesReceived: this.received,
            bytesSent: this.sent,
            selectedCandidatePairId: 'p',
          },
        ],
        ['p', { id: 'p', type: 'candidate-pair', localCandidateId: 'l', remoteCandidateId: 'r' }],
        ['l', candidate('l')],
        ['r', candidate('r')],
      ]),
    );
  }
}

interface Side {
  transport: ScriptedTransport;
  recovery: IceRecovery;
  restarts: { reason: RestartReason; at: number }[];
  quiet: number[];
}

let started: number;
const sides: Side[] = [];
const elapsed = () => performance.now() - started;

/** An IceRecovery over a scripted transport; `onRestart` runs inside each restart. */
function side(
  options: Partial<IceRecoveryOptions> = {},
  onRestart: (t: ScriptedTransport) => void = () => undefined,
  expectsTraffic: () => boolean = () => true,
): Side {
  const transport = new ScriptedTransport();
  const recovery = new IceRecovery(
    transport,
    () => {
      onRestart(transport);
      return Promise.resolve();
    },
    () => true,
    expectsTraffic,
    options,
  );
  const s: Side = { transport, recovery, restarts: [], quiet: [] };
  recovery.on('restarted', (reason) => s.restarts.push({ reason, at: elapsed() }));
  recovery.on('quiet', () => s.quiet.push(elapsed()));
  sides.push(s);
  return s;
}

/**
 * Traffic every `everyMs` while `up()`: the send side hears RTCP feedback on what it sends,
 * the receive side media; both keep sending (the receiver its reports) whatever happens.
 */
function traffic(s: Side, everyMs: number, up: () => boolean, bytes = 100): void {
  setInterval(() => {
    s.transport.sent += 1200;
    if (up()) s.transport.received += bytes;
  }, everyMs);
}

beforeEach(() => {
  vi.useFakeTimers({
    toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'performance', 'Date'],
  });
  started = performance.now();
});

afterEach(() => {
  for (const s of sides.splice(0)) s.recovery.close();
  vi.useRealTimers();
});

describe('back to UDP', () => {
  it('a transport that used UDP and is on ICE-TCP 2 s after connecting restarts, at most twice per outage', async () => {
    const s = side();
    traffic(s, 50, () => true);
    await vi.advanceTimersByTimeAsync(3000);
    expect(s.restarts).toEqual([]); // on UDP: nothing to do

    // An outage: ICE comes back on TCP (its checks answered first) and stays there.
    s.transport.protocol = 'tcp';
    s.recovery.onStateChange('connected');
    await vi.advanceTimersByTimeAsync(1900);
    expect(s.restarts).toEqual([]); // the pair may still change for 2 s
    await vi.advanceTimersByTimeAsync(300);
    expect(s.restarts.map((r) => r.reason)).toEqual(['udp']);
    await vi.advanceTimersByTimeAsync(10_000);
    // UDP may really be blocked now: the budget is two, and TCP works.
    expect(s.restarts.map((r) => r.reason)).toEqual(['udp', 'udp']);
    expect(s.restarts[1]!.at - s.restarts[0]!.at).toBeGreaterThanOrEqual(2000);
  });

  it('a restart that brings UDP back refills the budget for the next outage', async () => {
    const s = side({}, (t) => (t.protocol = 'udp')); // each restart finds UDP again
    traffic(s, 50, () => true);
    await vi.advanceTimersByTimeAsync(1000);
    for (let outage = 0; outage < 3; outage++) {
      s.transport.protocol = 'tcp';
      s.recovery.onStateChange('connected');
      await vi.advanceTimersByTimeAsync(3000);
    }
    expect(s.restarts.map((r) => r.reason)).toEqual(['udp', 'udp', 'udp']);
    expect(s.transport.protocol).toBe('udp');
  });

  it('a transport that started on ICE-TCP (UDP blocked) tries UDP once, then stays', async () => {
    const s = side();
    s.transport.protocol = 'tcp';
    traffic(s, 50, () => true);
    await vi.advanceTimersByTimeAsync(15_000);
    expect(s.restarts.map((r) => r.reason)).toEqual(['udp']);
  });
});

describe('restarting early on evidence about our own path', () => {
  /** A participant who sends and receives; `linkUp` is the state of its path to the gateway. */
  function participant(recvExpects: () => boolean = () => true) {
    let linkUp = true;
    const send = side();
    const recv = side({ stallMs: 2500, quietNeedsOutbound: false }, undefined, recvExpects);
    const recoveries = { send: send.recovery, recv: recv.recovery };
    for (const s of [send, recv]) s.recovery.on('quiet', () => restartOnOwnPath(recoveries));
    return {
      send,
      recv,
      recoveries,
      setLink: (up: boolean) => (linkUp = up),
      linkUp: () => linkUp,
    };
  }

  it('a handover (both transports silent): both restart within 600 ms, long before a stall', async () => {
    const p = participant();
    traffic(p.send, 50, p.linkUp); // transport-cc feedback
    traffic(p.recv, 20, p.linkUp); // audio and video
    await vi.advanceTimersByTimeAsync(5000);
    expect([...p.send.restarts, ...p.recv.restarts]).toEqual([]);

    const cutAt = elapsed();
    p.setLink(false);
    await vi.advanceTimersByTimeAsync(1000);
    const after = (s: Side) => s.restarts.map((r) => ({ reason: r.reason, ms: r.at - cutAt }));
    for (const s of [p.send, p.recv]) {
      expect(after(s)).toHaveLength(1);
      expect(after(s)[0]!.reason).toBe('quiet');
      expect(after(s)[0]!.ms).toBeLessThan(600);
    }
    // The transports are not called stalled (nor the UI 'reconnecting') that early.
    expect(p.send.recovery.stalled).toBe(true); // 1 s without feedback is a stall by now
    expect(p.recv.recovery.stalled).toBe(false);
  });

  it('one restart per silence: the first restart gets its checks’ time before the stall retries', async () => {
    const p = participant();
    traffic(p.send, 50, p.linkUp);
    traffic(p.recv, 20, p.linkUp);
    await vi.advanceTimersByTimeAsync(5000);
    const cutAt = elapsed();
    p.setLink(false);
    await vi.advanceTimersByTimeAsync(2000);
    // Quiet at ~0.3 s; the stall at 0.8 s does not restart again: the retry waits for the
    // backoff, 2 s after the first attempt.
    expect(p.send.restarts.map((r) => r.reason)).toEqual(['quiet']);
    expect(p.send.recovery.stalled).toBe(true);
    await vi.advanceTimersByTimeAsync(1000);
    expect(p.send.restarts).toHaveLength(2);
    expect(p.send.restarts[1]!.at - p.send.restarts[0]!.at).toBeGreaterThanOrEqual(2000);
    expect(p.send.restarts[0]!.at - cutAt).toBeLessThan(600);
  });

  it('a remote sender’s dropout (only the receiving transport silent): no early restart', async () => {
    const p = participant();
    let remoteUp = true;
    traffic(p.send, 50, () => true);
    traffic(p.recv, 20, () => remoteUp);
    await vi.advanceTimersByTimeAsync(5000);
    remoteUp = false;
    await vi.advanceTimersByTimeAsync(2000);
    expect(p.recv.quiet.length).toBeGreaterThan(0); // it noticed…
    expect([...p.send.restarts, ...p.recv.restarts]).toEqual([]); // …and waited
  });

  it('the receive side silent after the send side went quiet and heard again: restarts too', async () => {
    const p = participant();
    let recvPathUp = true;
    traffic(p.send, 50, p.linkUp);
    traffic(p.recv, 20, () => recvPathUp);
    await vi.advanceTimersByTimeAsync(5000);
    // The send side goes quiet and restarts; its restart heals it at once.
    p.setLink(false);
    await vi.advanceTimersByTimeAsync(400);
    expect(p.send.restarts.map((r) => r.reason)).toEqual(['quiet']);
    expect(p.recv.restarts).toEqual([]); // it was still hearing media then
    p.setLink(true);
    // A moment later the receive side's path breaks too (its mapping expires later).
    const cutAt = elapsed();
    recvPathUp = false;
    // Silent alone at first: that may be a remote sender's dropout (the next test); once it has
    // heard nothing at all, not even the gateway's sender reports, it is our path.
    await vi.advanceTimersByTimeAsync(1000);
    expect(p.recv.restarts).toEqual([]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(p.recv.restarts.map((r) => r.reason)).toEqual(['quiet']);
    expect(p.recv.restarts[0]!.at - cutAt).toBeLessThan(1800);
    expect(p.recv.recovery.stalled).toBe(false); // long before its stall
  });

  /**
   * A blip on our path (the send side goes quiet, restarts and hears again at once), then,
   * 200 ms later, the remote sender's uplink drops: only its media stops arriving.
   */
  async function blipThenRemoteDropout(recvExpects?: () => boolean) {
    const p = participant(recvExpects);
    let remoteUp = true;
    traffic(p.send, 50, p.linkUp);
    traffic(p.recv, 20, () => remoteUp);
    await vi.advanceTimersByTimeAsync(5000);
    p.setLink(false);
    await vi.advanceTimersByTimeAsync(400);
    p.setLink(true);
    expect(p.send.restarts.map((r) => r.reason)).toEqual(['quiet']);
    await vi.advanceTimersByTimeAsync(200);
    remoteUp = false;
    return p;
  }

  it('a remote sender’s dropout just after the send side went quiet and heard again: no restart', async () => {
    // The gateway tells of the sender's dropout (peerConnection) ~1 s after it: from then on
    // the receive side expects nothing of it.
    let toldDropped = false;
    const p = await blipThenRemoteDropout(() => !toldDropped);
    await vi.advanceTimersByTimeAsync(1000);
    toldDropped = true;
    await vi.advanceTimersByTimeAsync(3000);
    expect(p.recv.quiet.length).toBeGreaterThan(0); // it noticed…
    expect(p.recv.restarts).toEqual([]); // …and waited for the gateway's word
    expect(p.recv.recovery.stalled).toBe(false);
  });

  it('…nor while the gateway’s sender reports still arrive, however late its word comes', async () => {
    const p = await blipThenRemoteDropout();
    // RTCP sender reports for the silent stream, about once a second (mediasoup's video interval).
    const reports = setInterval(() => (p.recv.transport.received += 60), 1000);
    await vi.advanceTimersByTimeAsync(2400);
    clearInterval(reports);
    expect(p.recv.restarts).toEqual([]);
  });

  it('no early restart when our own packets stopped too (a starved encoder gets no feedback)', async () => {
    const p = participant();
    let sending = true;
    setInterval(() => {
      if (!sending) return;
      p.send.transport.sent += 1200;
      p.send.transport.received += 100;
    }, 50);
    traffic(p.recv, 20, () => true);
    await vi.advanceTimersByTimeAsync(5000);
    sending = false;
    await vi.advanceTimersByTimeAsync(700);
    expect(p.send.restarts).toEqual([]);
  });

  it('a transport that hears something only every 300 ms waits for the stall', async () => {
    const s = side();
    let up = true;
    traffic(s, 300, () => up);
    await vi.advanceTimersByTimeAsync(20_000);
    up = false;
    await vi.advanceTimersByTimeAsync(1500);
    expect(s.quiet).toEqual([]);
    expect(s.restarts.map((r) => r.reason)).toEqual(['stalled']);
  });
});

describe('the traffic watch during a join', () => {
  it('reads no stats until told media flows, then detects a stall as before', async () => {
    const s = side({ watchFromStart: false });
    let up = false; // the join: connected, nothing received yet
    traffic(s, 20, () => up);
    await vi.advanceTimersByTimeAsync(3000);
    expect(s.transport.reads).toBe(0);
    expect(s.restarts).toEqual([]); // a silent join is no stall while unwatched

    up = true; // the first frame
    s.recovery.watchTraffic();
    expect(s.recovery.watching).toBe(true);
    await vi.advanceTimersByTimeAsync(2000);
    expect(s.transport.reads).toBeGreaterThan(10);
    expect(s.restarts).toEqual([]);
    up = false;
    await vi.advanceTimersByTimeAsync(1500);
    expect(s.restarts.map((r) => r.reason)).toEqual(['stalled']);
  });

  it('a transport that has not delivered media yet is neither stalled nor restarted early; once it has, it is', async () => {
    const send = side();
    const recv = side({ stallMs: 2500, quietNeedsOutbound: false });
    const recoveries = { send: send.recovery, recv: recv.recovery };
    for (const x of [send, recv]) x.recovery.on('quiet', () => restartOnOwnPath(recoveries));
    let sendUp = true;
    let recvUp = false; // the join: the first frame is still on its way
    traffic(send, 50, () => sendUp);
    traffic(recv, 20, () => recvUp);
    await vi.advanceTimersByTimeAsync(4000);
    expect(recv.transport.reads).toBeGreaterThan(10); // read…
    expect(recv.recovery.stalled).toBe(false); // …but a silent join is no stall
    expect(recv.restarts).toEqual([]);

    // Our path goes quiet meanwhile: the send side restarts early, the undelivered receive side does not.
    sendUp = false;
    await vi.advanceTimersByTimeAsync(700);
    expect(send.restarts.map((r) => r.reason)).toEqual(['quiet']);
    expect(recv.restarts).toEqual([]);

    // Media arrives, then stops: a stall as before.
    sendUp = true;
    recvUp = true;
    await vi.advanceTimersByTimeAsync(2000);
    recvUp = false;
    await vi.advanceTimersByTimeAsync(3000);
    expect(recv.restarts.map((r) => r.reason)).toEqual(['stalled']);
  });
});
