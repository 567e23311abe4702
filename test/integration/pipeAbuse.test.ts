/**
 * The pipe bridge's bus protocol under abuse: two real nodes (separate processes) and a raw
 * Redis connection acting as a third party that sends misdirected, forged, replayed, flooded
 * and garbage pipe.* messages. What a user would notice is checked: both nodes keep serving,
 * a consult's media piped from a to b keeps flowing, whatever the abuse made is cleaned up
 * (pipe counts and ports back to the live link's), and each misuse gets its error code.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  consumeRemote,
  startClusterNode,
  startRedis,
  type ClusterNodeProcess,
  type Pipes,
  type TestRedis,
} from '../support/cluster.js';
import { connectRawBus, type BusAnswer, type RawBus } from '../support/rawBus.js';
import { sendRtp, type RtpReceiver, type RtpSender } from '../support/rtpSocket.js';
import { timeUntil } from '../support/wait.js';

const LINGER_MS = 2000;
/** A piped producer nobody consumes is released after this (PIPE_HOLD_SECONDS). */
const HOLD_MS = 1000;
/** The bus's request timeout (ClusterBus's default, which the bridge uses). */
const REQUEST_TIMEOUT_MS = 5000;
/** A link made for nothing is gone within hold + linger + timeout; the rest is polling on a loaded machine. */
const CLEANUP_MS = HOLD_MS + LINGER_MS + REQUEST_TIMEOUT_MS + 8000;
/** A well-formed SRTP key that is not the node's (AEAD_AES_256_GCM: 32-byte key, 12-byte salt). */
const wrongKey = (n: number) => ({
  cryptoSuite: 'AEAD_AES_256_GCM',
  keyBase64: Buffer.alloc(44, n).toString('base64'),
});

let redis: TestRedis;
let a: ClusterNodeProcess;
let b: ClusterNodeProcess;
let bus: RawBus;
const senders: RtpSender[] = [];
const receivers: RtpReceiver[] = [];
/** The consult whose media flows from a to b throughout: its producer on a, its consumer on b. */
let live: { producerId: string; consumerId: string; receiver: RtpReceiver };

const pipes = (node: ClusterNodeProcess) => node.call<Pipes>('pipes');
const ports = (node: ClusterNodeProcess) => node.call<number[]>('pipePorts');

async function produceOnA(consultId: string, ssrc: number) {
  const { producerId, port } = await a.call<{ producerId: string; port: number }>('produce', {
    consultId,
    ssrc,
  });
  // Up to 200 s of audio: the whole file on a loaded machine.
  senders.push(sendRtp(port, ssrc, 10_000));
  return producerId;
}

/** Consumes a producer of a on b; resolves once its RTP reaches b's consumer. */
const consumeOnB = (consultId: string, producerId: string) =>
  consumeRemote(b, 'a', consultId, producerId, { receivers, packets: 10 });

/** RTP keeps reaching the receiver (10 more packets: 200 ms of audio). */
async function flowing(receiver: RtpReceiver, what: string) {
  const before = receiver.packets();
  await timeUntil(() => receiver.packets() >= before + 10, 10_000, `${what} still flowing`);
}

/** Both nodes answer HTTP, and only the live consult's link is open (one port each). */
async function onlyTheLiveLink() {
  for (const node of [a, b]) {
    expect(node.child.exitCode).toBeNull();
    expect((await fetch(`${node.url}/healthz`)).status).toBe(200);
  }
  const one = { links: 1, srtpLinks: 1, outgoing: 0, incoming: 0 };
  await timeUntil(
    async () =>
      JSON.stringify([await pipes(a), await pipes(b)]) ===
      JSON.stringify([
        { ...one, outgoing: 1 },
        { ...one, incoming: 1 },
      ]),
    CLEANUP_MS,
    'back to the live link alone',
  );
  expect(await ports(a)).toHaveLength(1);
  expect(await ports(b)).toHaveLength(1);
  await flowing(live.receiver, 'the live consult');
}

/** A request each node answers after every note published to it before (the bus keeps order). */
async function barrier() {
  for (const node of ['a', 'b']) {
    const answer = await bus.request(node, '0fake', 'pipe.open', {});
    expect(answer.error?.code).toBe('bad_request');
  }
}

const codes = (answers: BusAnswer[]) => {
  const count: Record<string, number> = {};
  for (const x of answers) {
    const code = x.ok ? 'ok' : (x.error?.code ?? '?');
    count[code] = (count[code] ?? 0) + 1;
  }
  return count;
};

beforeAll(async () => {
  redis = await startRedis();
  const linger = {
    PIPE_LINGER_SECONDS: String(LINGER_MS / 1000),
    PIPE_HOLD_SECONDS: String(HOLD_MS / 1000),
  };
  [a, b] = await Promise.all([
    startClusterNode('a', redis.url, { PIPE_PORT_MIN: '47600', PIPE_PORT_MAX: '47619', ...linger }),
    startClusterNode('b', redis.url, { PIPE_PORT_MIN: '47620', PIPE_PORT_MAX: '47639', ...linger }),
  ]);
  bus = await connectRawBus(redis.url);
  // The fake nodes' channels (their answers), and the real ones' (to capture and replay).
  for (const channel of ['a', 'b', '0fake*', 'zfake*']) await bus.listen(channel);
  const producerId = await produceOnA('live', 1000);
  live = { producerId, ...(await consumeOnB('live', producerId)) };
}, 150_000);

afterAll(async () => {
  bus?.close();
  for (const s of senders) s.stop();
  for (const r of receivers) r.close();
  await Promise.all([a?.stop(), b?.stop()]);
  await redis?.stop();
}, 60_000);

describe('pipe messages from a third party on the bus', () => {
  it('refuses pipe.open to the node that does not open the link, and pipe.connect to the one that does', async () => {
    // Of two nodes the smaller id opens: '0fake' opens to a, a opens to 'zfake' and to b.
    const tuple = { ip: '127.0.0.1', port: 9, srtp: wrongKey(1) };
    const answers = [
      await bus.request('a', '0fake', 'pipe.open', { consultId: 'live' }),
      await bus.request('b', 'a', 'pipe.open', { consultId: 'live' }),
      await bus.request('a', 'zfake', 'pipe.connect', { consultId: 'live', linkId: 'l', ...tuple }),
      await bus.request('a', 'b', 'pipe.connect', { consultId: 'live', linkId: 'l', ...tuple }),
    ];
    expect(answers.map((x) => x.error?.code)).toEqual(Array(4).fill('bad_request'));
    await onlyTheLiveLink();
  });

  it("refuses pipe.produce without a link, for another consult's producer or a made-up one", async () => {
    const otherProducer = await produceOnA('other', 2000);
    const ask = (from: string, consultId: string, producerId: string) =>
      bus.request('a', from, 'pipe.produce', { consultId, producerId });
    // No link to the asker for that consult: none to 'zfake' at all, none to b for 'other'.
    expect((await ask('zfake', 'live', live.producerId)).error?.code).toBe('conflict');
    expect((await ask('b', 'other', otherProducer)).error?.code).toBe('conflict');
    // Over the live link a and b have: a producer of another consult, a made-up one.
    expect((await ask('b', 'live', otherProducer)).error?.code).toBe('not_found');
    expect((await ask('b', 'live', 'made-up-producer')).error?.code).toBe('not_found');
    // Nothing consumed into the pipe on a beyond the live consult's producer.
    await onlyTheLiveLink();
  });

  it('ignores pipe.close and pipe.release naming other links or consults, and replays of old ones', async () => {
    const producerId = await produceOnA('replay', 3000);
    const linkIds = () =>
      bus.seen
        .filter((s) => s.channel === 'telemed:bus:b' && s.msg.type === 'pipe.connect')
        .map((s) => s.msg.payload as { consultId: string; linkId: string })
        .filter((p) => p.consultId === 'replay')
        .map((p) => p.linkId);
    const captured = (type: string) =>
      bus.seen.filter(
        (s) =>
          s.msg.type === type && (s.msg.payload as { consultId?: string }).consultId === 'replay',
      );
    const first = await consumeOnB('replay', producerId);
    await b.call('closeConsumer', { consumerId: first.consumerId });
    await timeUntil(
      () => captured('pipe.release').length > 0,
      HOLD_MS + 5000,
      'pipe.release captured',
    );
    const replay = async () => {
      for (const s of [...captured('pipe.release'), ...captured('pipe.close')]) {
        await bus.publish(s.channel.slice('telemed:bus:'.length), s.raw);
      }
      await barrier();
    };

    // Piped again (over the lingering link, or a new one): the old release is replayed.
    const linksBefore = linkIds().length;
    const second = await consumeOnB('replay', producerId);
    console.log(
      `re-piped over ${linkIds().length === linksBefore ? 'the lingering' : 'a new'} link`,
    );
    await replay();
    await flowing(second.receiver, 'the re-piped producer');
    expect(await pipes(a)).toMatchObject({ links: 2, outgoing: 2 });

    // That link closes (linger) and a new one is made: every old release and close is replayed.
    await b.call('closeConsumer', { consumerId: second.consumerId });
    await onlyTheLiveLink();
    expect(captured('pipe.close').length).toBeGreaterThan(0);
    const third = await consumeOnB('replay', producerId);
    const ids = linkIds();
    expect(new Set(ids).size).toBe(ids.length);
    const current = ids.at(-1)!;
    await replay();
    // Forged: another link id, another consult, another producer.
    await bus.note('a', 'b', 'pipe.close', { consultId: 'replay', linkId: 'made-up-link' });
    await bus.note('b', 'a', 'pipe.close', { consultId: 'replay', linkId: 'made-up-link' });
    await bus.note('a', 'b', 'pipe.close', { consultId: 'other', linkId: current });
    await bus.note('b', 'a', 'pipe.close', { consultId: 'live', linkId: current });
    await bus.note('a', 'b', 'pipe.release', { consultId: 'live', producerId });
    await bus.note('a', 'b', 'pipe.release', { consultId: 'other', producerId });
    await barrier();
    await flowing(third.receiver, 'the consult piped over the new link');
    await flowing(live.receiver, 'the live consult');
    expect(await pipes(a)).toMatchObject({ links: 2, outgoing: 2 });
    expect(await pipes(b)).toMatchObject({ links: 2, incoming: 2 });
    await b.call('closeConsumer', { consumerId: third.consumerId });
    await onlyTheLiveLink();
  });

  it('ignores replayed pipe.producerPaused, pipe.producerResumed and pipe.producerClosed, of the same pipe or an earlier one', async () => {
    const producerId = await produceOnA('pause', 4000);
    const captured = (type: string) =>
      bus.seen.filter(
        (s) =>
          s.msg.type === type && (s.msg.payload as { consultId?: string }).consultId === 'pause',
      );
    const replay = async (...types: string[]) => {
      for (const s of types.flatMap(captured)) {
        await bus.publish(s.channel.slice('telemed:bus:'.length), s.raw);
      }
      await barrier();
    };
    const pausedOnB = async (consumerId: string) =>
      (await b.call<{ producerPaused: boolean }>('consumerStats', { consumerId })).producerPaused;
    const first = await consumeOnB('pause', producerId);
    // Genuine news: a pauses its producer, then resumes it; b's consumer follows each.
    await a.call('pauseProducer', { producerId, paused: true });
    await timeUntil(() => pausedOnB(first.consumerId), 10_000, 'paused on b');
    await a.call('pauseProducer', { producerId, paused: false });
    await timeUntil(async () => !(await pausedOnB(first.consumerId)), 10_000, 'resumed on b');
    expect(captured('pipe.producerPaused')).toHaveLength(1);
    expect(captured('pipe.producerResumed')).toHaveLength(1);

    // The same pipe: the old pause again, after the resume.
    await replay('pipe.producerPaused');
    expect(await pausedOnB(first.consumerId)).toBe(false);
    await flowing(first.receiver, 'the producer after its pause was replayed');

    // Released (hold) and piped again: a new pipe consumer on a, whose news the old ones are not.
    await b.call('closeConsumer', { consumerId: first.consumerId });
    await timeUntil(
      () => captured('pipe.release').length > 0,
      HOLD_MS + 5000,
      'pipe.release captured',
    );
    const second = await consumeOnB('pause', producerId);
    await replay('pipe.producerPaused', 'pipe.producerResumed', 'pipe.producerPaused');
    expect(await pausedOnB(second.consumerId)).toBe(false);
    await flowing(second.receiver, 'the re-piped producer after old pauses were replayed');

    // Closed for good: a's producer goes, b's consumer with it; that close replayed on a new pipe.
    await a.call('closeProducer', { producerId });
    await timeUntil(
      async () =>
        (await b.call<{ closed: boolean }>('consumerStats', { consumerId: second.consumerId }))
          .closed,
      10_000,
      "b's consumer closed with the producer",
    );
    expect(captured('pipe.producerClosed')).toHaveLength(1);
    const again = await produceOnA('pause', 4001);
    const third = await consumeOnB('pause', again);
    for (const s of captured('pipe.producerClosed')) {
      // The same message naming the new producer: an earlier pipe's close for this one.
      const msg = JSON.parse(s.raw) as { payload: { producerId: string } };
      msg.payload.producerId = again;
      await bus.publish('b', JSON.stringify(msg));
    }
    await replay('pipe.producerClosed', 'pipe.producerPaused');
    await flowing(third.receiver, 'the new producer after an old close and pause');
    await b.call('closeConsumer', { consumerId: third.consumerId });
    await onlyTheLiveLink();
  });

  it('answers floods of pipe.open and pipe.connect with bogus tuples, and leaks no transport', async () => {
    // Three floods of 200 at once (each node's pipe ports are its own, so they do not meet).
    const flood = (make: (i: number) => Promise<BusAnswer>) =>
      Promise.all(Array.from({ length: 200 }, (_, i) => make(i)));
    const [madeUp, unanswered, bogus] = await Promise.all([
      // Made-up consults: refused at once, nothing made.
      flood((i) => bus.request('a', 'zfake', 'pipe.open', { consultId: `made-up-${i}` })),
      // A real consult, asked by nodes that never answer b's pipe.connect: each open fails when
      // that request times out (or at once while b's pipe ports are all taken).
      flood((i) => bus.request('b', `zfake-${i}`, 'pipe.open', { consultId: 'live' })),
      // Links a makes for nodes that never ask for a producer over them.
      flood((i) =>
        bus.request('a', `0fake-${i}`, 'pipe.connect', {
          consultId: 'live',
          linkId: `bogus-${i}`,
          // Nothing listens there (discard port; an unrouted address), and the key is not a's.
          ip: i % 2 ? '127.0.0.1' : '192.0.2.1',
          port: i % 2 ? 9 : 40000 + i,
          srtp: wrongKey(i),
        }),
      ),
    ]);
    expect(codes(madeUp)).toEqual({ not_found: 200 });
    expect(codes(unanswered)).toEqual({ unavailable: 200 });
    // As many as a has free pipe ports are made (its range holds 20, one is the live link's).
    const count = codes(bogus);
    expect(count.ok).toBeGreaterThan(0);
    expect(count.ok! + (count.unavailable ?? 0)).toBe(200);
    // None of them ever carries anything: each closes within the linger and a request's time.
    await onlyTheLiveLink();
  });

  it('answers garbage for every pipe.* type with bad_request and keeps serving', async () => {
    const types = [
      'pipe.open',
      'pipe.connect',
      'pipe.produce',
      'pipe.release',
      'pipe.close',
      'pipe.producerClosed',
      'pipe.producerPaused',
      'pipe.producerResumed',
    ];
    const garbage: unknown[] = [
      null,
      'pipe',
      7,
      [],
      {},
      { consultId: 7 },
      { consultId: '' },
      { consultId: {} },
      { consultId: 'x'.repeat(5000), linkId: 'l', producerId: 'p' },
      { consultId: 'live', linkId: ['l'], producerId: { id: 'p' }, stale: 1 },
    ];
    const ok = { consultId: 'live', linkId: 'l', ip: '127.0.0.1', port: 9, srtp: wrongKey(3) };
    const badConnects: unknown[] = [
      { ...ok, ip: 'not an ip' },
      { ...ok, ip: '999.1.1.1' },
      { ...ok, port: 0 },
      { ...ok, port: 70000 },
      { ...ok, port: 9.5 },
      { ...ok, srtp: { ...ok.srtp, cryptoSuite: 'NONE' } },
      { ...ok, srtp: { ...ok.srtp, keyBase64: '!!not base64!!' } },
      { ...ok, srtp: { ...ok.srtp, keyBase64: 'c2hvcnQ=' } },
      { ...ok, srtp: { cryptoSuite: 'AES_CM_128_HMAC_SHA1_80', keyBase64: ok.srtp.keyBase64 } },
    ];
    const sent: { to: string; type: string; payload: unknown }[] = [];
    for (const to of ['a', 'b']) {
      for (const type of types) for (const payload of garbage) sent.push({ to, type, payload });
      for (const payload of badConnects) sent.push({ to, type: 'pipe.connect', payload });
    }
    // From a node that may open links to both, so a pipe.connect passing its schema is acted on.
    const answers = await Promise.all(
      sent.map((s) => bus.request(s.to, '0fake', s.type, s.payload)),
    );
    const wrong = answers
      .map((x, i) => ({ ...sent[i]!, code: x.ok ? 'ok' : x.error?.code }))
      .filter((x) => x.code !== 'bad_request');
    expect(wrong).toEqual([]);
    for (const node of [a, b]) expect(node.output()).not.toMatch(/cluster request failed/);
    await onlyTheLiveLink();
  });

  it('closes the live link on both ends once its consumer goes: nothing is left', async () => {
    await b.call('closeConsumer', { consumerId: live.consumerId });
    const none = { links: 0, srtpLinks: 0, outgoing: 0, incoming: 0 };
    await timeUntil(
      async () => JSON.stringify([await pipes(a), await pipes(b)]) === JSON.stringify([none, none]),
      CLEANUP_MS,
      'no pipes left',
    );
    expect(await ports(a)).toEqual([]);
    expect(await ports(b)).toEqual([]);
  });
});
