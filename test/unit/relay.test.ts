/**
 * The impairment relay on real loopback sockets: a client on 127.0.0.1 talks to the relay on
 * 127.0.0.2:P, which forwards to a sink on 127.0.0.1:P (the layout the gateway tests use).
 * The relay must apply what it was told: its own counters account for every packet, and
 * delays are never short and late only by what the event loop was. The link model's
 * figures (loss rates, jitter, rate) are checked exactly in relayLink.test.ts.
 */
import { existsSync } from 'node:fs';
import dgram from 'node:dgram';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it, onTestFailed } from 'vitest';
import {
  burstLoss,
  DEFAULT_LINK,
  deriveSeed,
  frame,
  FrameSplitter,
  ImpairmentRelay,
  Link,
  seededRandom,
  stunBindingRequest,
  stunUsername,
  ThreadedRelay,
} from '../support/relay/index.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Received {
  seq: number;
  sentAt: number;
  at: number;
  port: number;
  size: number;
}

/** A UDP sink on 127.0.0.1 (echoing when asked) and a TCP echo server on the same port. */
async function startSink(echoUdp = false) {
  const udp = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => udp.bind({ address: '127.0.0.1', port: 0 }, resolve));
  const port = udp.address().port;
  const received: Received[] = [];
  udp.on('message', (msg, rinfo) => {
    received.push({
      seq: msg.readUInt32BE(0),
      sentAt: msg.readDoubleBE(4),
      at: performance.now(),
      port: rinfo.port,
      size: msg.length,
    });
    if (echoUdp) udp.send(msg, rinfo.port, rinfo.address);
  });
  const tcpConnections: { port: number; bytes: Buffer[] }[] = [];
  const tcp = net.createServer((socket) => {
    const conn = { port: socket.remotePort ?? 0, bytes: [] as Buffer[] };
    tcpConnections.push(conn);
    socket.on('data', (chunk) => {
      conn.bytes.push(chunk);
      socket.write(chunk);
    });
    socket.on('error', () => undefined);
  });
  // The TCP side of this port may be taken by another process: the caller retries.
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', (err) => {
      udp.close();
      reject(err);
    });
    tcp.listen({ host: '127.0.0.1', port }, resolve);
  });
  return {
    port,
    received,
    tcpConnections,
    close: async () => {
      udp.close();
      tcp.close();
    },
  };
}

type Sink = Awaited<ReturnType<typeof startSink>>;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/**
 * A sink and a relay in front of it; retried when a port of the pair is taken. The relay
 * uses its default seed (RELAY_SEED, else a fixed one); a failing test prints it.
 */
async function setup(echoUdp?: boolean): Promise<{ sink: Sink; relay: ImpairmentRelay }>;
async function setup(echoUdp: boolean, thread: true): Promise<{ sink: Sink; relay: ThreadedRelay }>;
async function setup(
  echoUdp = false,
  thread = false,
): Promise<{ sink: Sink; relay: ImpairmentRelay | ThreadedRelay }> {
  for (let attempt = 0; ; attempt++) {
    let sink: Sink | undefined;
    try {
      const started = (sink = await startSink(echoUdp));
      const relay = await (thread ? ThreadedRelay : ImpairmentRelay).start({
        listenHost: '127.0.0.2',
        listenPort: started.port,
        targetHost: '127.0.0.1',
        targetPort: started.port,
      });
      onTestFailed(() =>
        console.log(`relay seed ${relay.seed} (replay with RELAY_SEED=${relay.seed})`),
      );
      cleanups.push(
        () => started.close(),
        () => relay.close(),
      );
      return { sink: started, relay };
    } catch (err) {
      await sink?.close();
      if (attempt >= 4) throw err;
    }
  }
}

async function udpClient(relay: Pick<ImpairmentRelay, 'address'>) {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind({ address: '127.0.0.1', port: 0 }, resolve));
  const echoes: Received[] = [];
  const from = new Set<string>();
  socket.on('message', (msg, rinfo) => {
    from.add(`${rinfo.address}:${rinfo.port}`);
    echoes.push({
      seq: msg.readUInt32BE(0),
      sentAt: msg.readDoubleBE(4),
      at: performance.now(),
      port: rinfo.port,
      size: msg.length,
    });
  });
  cleanups.push(() => {
    socket.close();
  });
  let seq = 0;
  const send = (size = 100) => {
    const msg = Buffer.alloc(size);
    msg.writeUInt32BE(seq++, 0);
    msg.writeDoubleBE(performance.now(), 4);
    socket.send(msg, relay.address.port, relay.address.host);
  };
  return { socket, send, echoes, from, sent: () => seq };
}

/** Sends `count` packets, `perTick` at a time every `everyMs`. */
async function sendPaced(
  send: (size?: number) => void,
  count: number,
  everyMs: number,
  perTick = 1,
  size = 100,
) {
  for (let i = 0; i < count; i += perTick) {
    for (let j = 0; j < perTick && i + j < count; j++) send(size);
    await sleep(everyMs);
  }
}

/**
 * Watches the event loop (the client's, the relay's and the sink's: one here) with a 1 ms
 * timer until stop(). A packet's lateness beyond what the relay was told can only come from
 * the loop being held up while the packet was on its way; `lateness()` checks exactly that.
 */
function loopWatch() {
  const ticks = [performance.now()];
  const timer = setInterval(() => ticks.push(performance.now()), 1);
  /** How long the loop was held up (beyond 2 ms between ticks) within [from, to], ms. */
  const stalled = (from: number, to: number) => {
    let total = 0;
    for (let i = 1; i < ticks.length; i++) {
      const [a, b] = [ticks[i - 1]!, ticks[i]!];
      if (b - a <= 2 || b < from || a > to) continue;
      total += Math.min(b, to) - Math.max(a, from);
    }
    return total;
  };
  return {
    stop: () => {
      clearInterval(timer);
      ticks.push(performance.now());
    },
    /**
     * Packets later than `expectedMs` by more than the loop was held up during their
     * flight (plus `slackMs` for timer rounding and the loop's own turns), as text.
     */
    tooLate: (packets: { sentAt: number; at: number }[], expectedMs: number, slackMs = 5) => {
      const late = packets.map((p) => ({
        late: p.at - p.sentAt - expectedMs,
        stall: stalled(p.sentAt, p.at),
      }));
      const unexplained = late.map(({ late, stall }) => late - stall);
      const text = late
        .filter(({ late, stall }) => late > stall + slackMs)
        .map(({ late, stall }) => `late ${late.toFixed(1)} ms, loop held ${stall.toFixed(1)} ms`);
      // And typically on time once the loop's holds are taken off: a relay that added to
      // the delay would be late even when the loop never held it up.
      const median = quantile(unexplained, 0.5);
      if (median > slackMs / 2) text.push(`median lateness not explained by the loop ${median} ms`);
      return text;
    },
  };
}

/** The relay's upstream counters once it has stopped receiving (100 ms without a new packet). */
async function settledStats(relay: ImpairmentRelay) {
  let last = -1;
  for (let i = 0; i < 100; i++) {
    const now = relay.stats().up.packets;
    if (now === last) break;
    last = now;
    await sleep(100);
  }
  return relay.stats().up;
}

const oneWay = (r: Received[]) => r.map((p) => p.at - p.sentAt);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
/** The q-quantile (0..1): robust to the odd packet a busy event loop delivers late. */
const quantile = (xs: number[], q: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
};
const stdev = (xs: number[]) => {
  const m = mean(xs);
  return Math.sqrt(mean(xs.map((x) => (x - m) ** 2)));
};

describe('ImpairmentRelay over UDP', () => {
  it('passes packets unchanged and adds the delay it was told, per direction', async () => {
    const { sink, relay } = await setup(true);
    relay.set({ up: { delayMs: 40 }, down: { delayMs: 20 } });
    const client = await udpClient(relay);
    const loop = loopWatch();
    await sendPaced(client.send, 100, 5);
    await expect.poll(() => client.echoes.length, { timeout: 5000 }).toBe(100);
    loop.stop();
    expect(sink.received.map((r) => r.seq)).toEqual([...Array(100).keys()]);
    // Never early (timers may fire half a millisecond early); late only by the time the
    // event loop was held up meanwhile.
    const up = oneWay(sink.received);
    expect(Math.min(...up)).toBeGreaterThanOrEqual(39.5);
    expect(loop.tooLate(sink.received, 40)).toEqual([]);
    const rtt = oneWay(client.echoes);
    expect(Math.min(...rtt)).toBeGreaterThanOrEqual(59); // each hop may deliver 0.5 ms early
    expect(loop.tooLate(client.echoes, 60, 10)).toEqual([]);
    // The client only ever sees the relay's address.
    expect([...client.from]).toEqual([`127.0.0.2:${relay.address.port}`]);
  });

  it('spreads delay by the jitter it was told; without reorder packets stay in order', async () => {
    // The jitter's distribution is checked exactly on the link model (relayLink.test.ts);
    // here, that the relay applies it to real packets.
    const { sink, relay } = await setup();
    relay.set({ up: { delayMs: 50, jitterMs: 20, reorder: true } });
    const client = await udpClient(relay);
    const loop = loopWatch();
    await sendPaced(client.send, 300, 3);
    await expect.poll(() => sink.received.length, { timeout: 5000 }).toBe(300);
    loop.stop();
    const d = oneWay(sink.received);
    expect(Math.min(...d)).toBeGreaterThanOrEqual(29.5);
    expect(quantile(d, 0.5)).toBeGreaterThan(45);
    expect(loop.tooLate(sink.received, 70)).toEqual([]);
    // Uniform ±20 ms: a standard deviation of 20/√3 ≈ 11.5 ms, quartiles at 40 and 60 ms.
    const core = d.filter((x) => x <= quantile(d, 0.95));
    expect(stdev(core)).toBeGreaterThan(8);
    expect(quantile(d, 0.75) - quantile(d, 0.25)).toBeGreaterThan(14);

    sink.received.length = 0;
    relay.set({ up: { reorder: false } });
    await sendPaced(client.send, 200, 3);
    await expect.poll(() => sink.received.length, { timeout: 5000 }).toBe(200);
    const seqs = sink.received.map((r) => r.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(Math.min(...oneWay(sink.received))).toBeGreaterThanOrEqual(29.5);
  });

  // The loss rates themselves are checked on the link model with a fake clock
  // (relayLink.test.ts). Over sockets, a busy kernel may drop datagrams before or after the
  // relay: these tests judge the relay by its own decisions, not by what the sink got.
  it('drops packets at the random loss rate it was told, and counts each drop', async () => {
    const { sink, relay } = await setup();
    relay.set({ up: { loss: 0.1 } });
    const client = await udpClient(relay);
    await sendPaced(client.send, 4000, 2, 40, 40);
    const up = await settledStats(relay);
    expect(up.packets).toBeLessThanOrEqual(4000);
    expect(up.delivered + up.droppedLoss).toBe(up.packets);
    expect(sink.received.length).toBeLessThanOrEqual(up.delivered);
    // Independent draws: within 4.5 standard errors of 10 % over the packets it decided on.
    const lossRate = up.droppedLoss / up.packets;
    const se = Math.sqrt((0.1 * 0.9) / up.packets);
    expect(Math.abs(lossRate - 0.1), `${up.droppedLoss} of ${up.packets}`).toBeLessThan(4.5 * se);
  });

  it('drops in bursts (Gilbert-Elliott): exactly the decisions of the link model with its seed', async () => {
    const { sink, relay } = await setup();
    const burst = burstLoss(0.1, 4);
    relay.set({ up: { burst } });
    const client = await udpClient(relay);
    await sendPaced(client.send, 6000, 2, 60, 40);
    const up = await settledStats(relay);
    expect(up.delivered + up.droppedLoss).toBe(up.packets);
    expect(sink.received.length).toBeLessThanOrEqual(up.delivered);
    // The relay's first random stream draws its first flow's upstream losses: the model
    // with that stream must drop exactly as many of the same number of packets.
    const model = new Link({
      mode: 'datagram',
      settings: () => ({ ...DEFAULT_LINK, burst, cutUntil: 0, blocked: false }),
      random: seededRandom(deriveSeed(relay.seed, 0)),
      deliver: () => undefined,
    });
    for (let i = 0; i < up.packets; i++) model.push(Buffer.alloc(40));
    expect(up.droppedLoss).toBe(model.stats.droppedLoss);
    // Which is near 10 % (correlated draws: ~2.5 times the standard error of independent ones).
    const se = 2.5 * Math.sqrt((0.1 * 0.9) / up.packets);
    expect(Math.abs(up.droppedLoss / up.packets - 0.1)).toBeLessThan(4.5 * se);
  });

  it('caps the rate with a token bucket and drops the excess at the tail of a bounded queue', async () => {
    const { sink, relay } = await setup();
    relay.set({ up: { rateBps: 400_000 } });
    const client = await udpClient(relay);
    const loop = loopWatch();
    const start = performance.now();
    // Bursts of 20 000 bytes every 100 ms (1.6 Mbit/s): more than the bucket (1 500 bytes)
    // and the queue (15 000 bytes: 300 ms at 400 kbit/s) hold, however the sender is paced.
    const bursts = 30;
    await sendPaced(client.send, 20 * bursts, 100, 20, 1000);
    await expect
      .poll(() => {
        const s = relay.stats().up;
        return s.packets > 0 && s.delivered + s.droppedQueue === s.packets;
      })
      .toBe(true);
    const elapsedMs = performance.now() - start;
    loop.stop();
    const stats = relay.stats().up;
    // Never more than the rate since the start, plus one full bucket.
    expect(stats.deliveredBytes).toBeLessThanOrEqual((400_000 / 8) * (elapsedMs / 1000) + 1500);
    // At least 3 packets of each burst did not fit.
    expect(stats.droppedQueue).toBeGreaterThanOrEqual(3 * bursts);
    expect(sink.received.length).toBeLessThanOrEqual(stats.delivered);
    // The queue is bounded: 15 000 bytes drain in 300 ms, one more packet in 20 ms.
    expect(loop.tooLate(sink.received, 320)).toEqual([]);

    // Lifting the cap at run time lets everything through again.
    relay.set({ up: { rateBps: null } });
    const before = relay.stats().up;
    await sendPaced(client.send, 100, 40, 5, 1000);
    const after = await settledStats(relay);
    expect(after.droppedQueue).toBe(before.droppedQueue);
    expect(after.delivered - before.delivered).toBe(after.packets - before.packets);
  });

  it('a cut drops everything, both ways, for its duration and nothing after', async () => {
    const { sink, relay } = await setup(true);
    const client = await udpClient(relay);
    const sending = sendPaced(client.send, 150, 10);
    await sleep(400);
    const cutStart = performance.now();
    const cut = relay.cut(500);
    // The relay's cut ends 500 ms after it was asked for, between these two instants.
    const cutEndsAfter = cutStart + 500;
    const cutEndsBefore = performance.now() + 500;
    await cut;
    await sending;
    // Settled: the relay had every packet, the sink echoed what it got, the client got the echoes.
    await expect
      .poll(
        () => {
          const s = relay.stats();
          return (
            s.up.packets === client.sent() &&
            s.down.packets === sink.received.length &&
            s.down.delivered === client.echoes.length
          );
        },
        { timeout: 5000 },
      )
      .toBe(true);
    // The relay decides when a packet reaches it: one sent during the cut got through only
    // if it reached the relay after the cut (its sender's event loop held it up that long).
    const during = (r: Received) => r.sentAt >= cutStart && r.sentAt < cutEndsAfter;
    for (const r of sink.received.filter(during)) expect(r.at).toBeGreaterThanOrEqual(cutEndsAfter);
    for (const r of client.echoes.filter(during)) expect(r.at).toBeGreaterThanOrEqual(cutEndsAfter);
    const stats = relay.stats();
    expect(stats.up.droppedCut).toBeGreaterThan(0);
    expect(stats.up.delivered + stats.up.droppedCut).toBe(stats.up.packets);
    // Everything sent after the cut reached the sink and came back.
    const after = sink.received.filter((r) => r.sentAt > cutEndsBefore);
    expect(after.length).toBeGreaterThan(0);
    expect(after.map((r) => r.seq)).toEqual(
      [...Array(client.sent()).keys()].filter((seq) => seq >= after[0]!.seq),
    );
    expect(client.echoes.filter((r) => r.sentAt > cutEndsBefore)).toHaveLength(after.length);
  });

  it('a handover makes the far side see a new source port, the client sees nothing', async () => {
    const { sink, relay } = await setup(true);
    const client = await udpClient(relay);
    await sendPaced(client.send, 5, 5);
    await expect.poll(() => client.echoes.length).toBe(5);
    const before = new Set(sink.received.map((r) => r.port));
    expect(before.size).toBe(1);
    const [moved] = await relay.handover();
    expect(moved!.from).toBe([...before][0]);
    expect(moved!.to).not.toBe(moved!.from);
    sink.received.length = 0;
    await sendPaced(client.send, 5, 5);
    // Replies to the new port reach the client, still from the relay's address.
    await expect.poll(() => client.echoes.length).toBe(10);
    expect(new Set(sink.received.map((r) => r.port))).toEqual(new Set([moved!.to]));
    expect([...client.from]).toEqual([`127.0.0.2:${relay.address.port}`]);
  });

  it('a scope impairs only the flows carrying ICE checks for one gateway ufrag', async () => {
    const { sink, relay } = await setup();
    const a = await udpClient(relay);
    const b = await udpClient(relay);
    a.socket.send(stunBindingRequest('gatewayA:browser1'), relay.address.port, '127.0.0.2');
    b.socket.send(stunBindingRequest('gatewayB:browser2'), relay.address.port, '127.0.0.2');
    await expect
      .poll(() => relay.flows().map((f) => f.ufrags))
      .toEqual(expect.arrayContaining([['gatewayA'], ['gatewayB']]));
    // The relay learns the ufrag before it forwards the check: wait for both to arrive.
    await expect.poll(() => sink.received.length).toBe(2);
    relay.set({ up: { loss: 1 } }, { ufrag: 'gatewayA' });
    sink.received.length = 0;
    await sendPaced(a.send, 20, 2);
    await sendPaced(b.send, 20, 2);
    await expect.poll(() => relay.stats({ ufrag: 'gatewayA' }).up.droppedLoss).toBe(20);
    await expect.poll(() => sink.received.length).toBe(20);
    const ports = new Set(sink.received.map((r) => r.port));
    expect(ports.size).toBe(1);
    expect(relay.stats({ ufrag: 'gatewayB' }).up.droppedLoss).toBe(0);
    relay.reset({ ufrag: 'gatewayA' });
    await sendPaced(a.send, 5, 2);
    await expect.poll(() => sink.received.length).toBe(25);
  });

  it('blockUdp passes no UDP', async () => {
    const { sink, relay } = await setup();
    relay.set({ blockUdp: true });
    const client = await udpClient(relay);
    await sendPaced(client.send, 10, 2);
    await expect.poll(() => relay.stats().up.droppedBlocked).toBe(10);
    expect(relay.stats().up.delivered).toBe(0);
    expect(sink.received).toHaveLength(0);
  });
});

describe('ImpairmentRelay over TCP (RFC 4571 framing)', () => {
  async function tcpClient(relay: ImpairmentRelay) {
    const socket = net.connect({ host: '127.0.0.2', port: relay.address.port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    cleanups.push(() => void socket.destroy());
    const frames: { at: number; frame: Buffer }[] = [];
    const splitter = new FrameSplitter();
    socket.on('data', (chunk) => {
      for (const f of splitter.push(chunk)) frames.push({ at: performance.now(), frame: f });
    });
    return { socket, frames };
  }

  const frames = (count: number, start = 0) =>
    Array.from({ length: count }, (_, i) => frame(Buffer.alloc(20 + ((i * 37) % 300), i + start)));

  it('splits and reassembles frames whatever the chunking, forwards them whole with the delay', async () => {
    const { sink, relay } = await setup();
    relay.set({ up: { delayMs: 30 }, down: { delayMs: 10 } });
    const client = await tcpClient(relay);
    const sent = frames(12);
    const stream = Buffer.concat(sent);
    const t0 = performance.now();
    // Cut the stream mid-frame and mid-length-prefix.
    for (const [from, to] of [
      [0, 1],
      [1, 150],
      [150, 151],
      [151, stream.length],
    ] as const) {
      client.socket.write(stream.subarray(from, to));
      await sleep(2);
    }
    await expect.poll(() => client.frames.length, { timeout: 2000 }).toBe(12);
    expect(Buffer.concat(sink.tcpConnections[0]!.bytes)).toEqual(stream);
    expect(client.frames.map((f) => f.frame)).toEqual(sent);
    // 30 ms up + 10 ms down for the echo of the first frame.
    expect(client.frames[0]!.at - t0).toBeGreaterThanOrEqual(39);
    expect(relay.stats().up.packets).toBe(12);
  });

  it('a cut stalls the byte stream and loses nothing; a handover opens a new upstream connection', async () => {
    const { sink, relay } = await setup();
    const client = await tcpClient(relay);
    const cut = relay.cut(300);
    const t0 = performance.now();
    client.socket.write(Buffer.concat(frames(3)));
    await cut;
    await expect.poll(() => client.frames.length, { timeout: 2000 }).toBe(3);
    expect(client.frames[0]!.at - t0).toBeGreaterThanOrEqual(290);

    const [moved] = await relay.handover();
    expect(moved!.to).not.toBe(moved!.from);
    client.socket.write(Buffer.concat(frames(2, 100)));
    await expect.poll(() => client.frames.length, { timeout: 2000 }).toBe(5);
    expect(sink.tcpConnections.map((c) => c.port)).toEqual([moved!.from, moved!.to]);
    expect(Buffer.concat(sink.tcpConnections[1]!.bytes)).toEqual(Buffer.concat(frames(2, 100)));
  });

  it('keeps working while UDP is blocked, and learns ufrags from STUN inside frames', async () => {
    const { relay } = await setup();
    relay.set({ blockUdp: true });
    const client = await tcpClient(relay);
    client.socket.write(frame(stunBindingRequest('gw:browser')));
    await expect.poll(() => client.frames.length, { timeout: 2000 }).toBe(1);
    expect(stunUsername(client.frames[0]!.frame.subarray(2))).toBe('gw:browser');
    expect(relay.flows().find((f) => f.protocol === 'tcp')?.ufrags).toEqual(['gw']);
  });
});

describe('ThreadedRelay (the relay on its own thread)', () => {
  it('a party scope follows the ufrags filed under it, also on flows that appear later', async () => {
    const { sink, relay } = await setup(false, true);
    const a = await udpClient(relay);
    const other = await udpClient(relay);
    a.socket.send(stunBindingRequest('gatewayA:browser1'), relay.address.port, '127.0.0.2');
    other.socket.send(stunBindingRequest('gatewayB:browser2'), relay.address.port, '127.0.0.2');
    await expect.poll(() => sink.received.length).toBe(2);
    const specialist = { party: 'specialist' };
    relay.addToParty('specialist', ['gatewayA']).set({ up: { loss: 1 } }, specialist);
    sink.received.length = 0;
    await sendPaced(a.send, 10, 2);
    await sendPaced(other.send, 10, 2);
    await expect.poll(() => relay.stats(specialist).up.droppedLoss).toBe(10);
    await expect.poll(() => sink.received.length).toBe(10);
    // An ICE restart: a new ufrag, filed when the gateway issues it, on a new flow.
    relay.addToParty('specialist', ['gatewayA2']);
    const restarted = await udpClient(relay);
    restarted.socket.send(
      stunBindingRequest('gatewayA2:browser3'),
      relay.address.port,
      '127.0.0.2',
    );
    await sendPaced(restarted.send, 10, 2);
    await expect.poll(() => relay.stats(specialist).up.droppedLoss).toBe(21);
    expect(sink.received.length).toBe(10);
    relay.reset(specialist);
    await sendPaced(restarted.send, 5, 2);
    await expect.poll(() => sink.received.length).toBe(15);
  });

  it('impairs by ufrag scope, answers settings and counters synchronously, and cuts for its duration', async () => {
    const { sink, relay } = await setup(false, true);
    const a = await udpClient(relay);
    const b = await udpClient(relay);
    a.socket.send(stunBindingRequest('gatewayA:browser1'), relay.address.port, '127.0.0.2');
    b.socket.send(stunBindingRequest('gatewayB:browser2'), relay.address.port, '127.0.0.2');
    await expect.poll(() => sink.received.length).toBe(2);
    expect(relay.flows().map((f) => f.ufrags)).toEqual(
      expect.arrayContaining([['gatewayA'], ['gatewayB']]),
    );
    relay.set({ up: { loss: 1 } }, { ufrag: 'gatewayA' });
    sink.received.length = 0;
    await sendPaced(a.send, 20, 2);
    await sendPaced(b.send, 20, 2);
    await expect.poll(() => relay.stats({ ufrag: 'gatewayA' }).up.droppedLoss).toBe(20);
    await expect.poll(() => sink.received.length).toBe(20);
    expect(relay.stats({ ufrag: 'gatewayB' }).up.droppedLoss).toBe(0);
    relay.reset({ ufrag: 'gatewayA' });
    await sendPaced(a.send, 5, 2);
    await expect.poll(() => sink.received.length).toBe(25);
    // A cut: everything sent meanwhile is dropped; the promise ends with it.
    const started = performance.now();
    const cut = relay.cut(300);
    await sendPaced(b.send, 10, 10);
    await cut;
    expect(performance.now() - started).toBeGreaterThanOrEqual(299);
    expect(relay.stats().up.droppedCut).toBe(10);
    // It says at which priority its thread runs (raised where the system allows it).
    expect(relay.lag().priority).toMatch(/SCHED_FIFO|nice|normal priority/);
    // As root it gets the real-time class: under sched_autogroup a raised nice value does not
    // put it ahead of other sessions' load.
    if (process.getuid?.() === 0 && existsSync('/usr/bin/chrt')) {
      expect(relay.lag().priority).toBe('SCHED_FIFO 10');
    }
  });
});
