/**
 * Media between two gateway nodes (separate processes) through SRTP pipe transports
 * negotiated over Redis: RTP sent to node a reaches a consumer on node b, each producer is
 * piped once per node, its pipe closes on both ends when the last consumer on b goes, and the
 * link stays for PIPE_LINGER_SECONDS for the next producer.
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
import { receiveRtp, sendRtp, type RtpReceiver, type RtpSender } from '../support/rtpSocket.js';
import { timeUntil } from '../support/wait.js';

let redis: TestRedis;
let a: ClusterNodeProcess;
let b: ClusterNodeProcess;
const senders: RtpSender[] = [];
const receivers: RtpReceiver[] = [];

beforeAll(async () => {
  redis = await startRedis();
  // A narrow pipe range of each node's own, to see that the setting is what is used. A piped
  // producer is released with its last consumer here (no hold: clusterPrePipe.test.ts has it).
  const linger = { PIPE_LINGER_SECONDS: '3', PIPE_HOLD_SECONDS: '0' };
  [a, b] = await Promise.all([
    startClusterNode('a', redis.url, { PIPE_PORT_MIN: '47100', PIPE_PORT_MAX: '47119', ...linger }),
    startClusterNode('b', redis.url, { PIPE_PORT_MIN: '47120', PIPE_PORT_MAX: '47139', ...linger }),
  ]);
}, 150_000);

afterAll(async () => {
  for (const s of senders) s.stop();
  for (const r of receivers) r.close();
  await Promise.all([a?.stop(), b?.stop()]);
  await redis?.stop();
}, 60_000);

async function produceOnA(consultId: string, ssrc: number) {
  const { producerId, port } = await a.call<{ producerId: string; port: number }>('produce', {
    consultId,
    ssrc,
  });
  const sender = sendRtp(port, ssrc);
  senders.push(sender);
  return { producerId, sender };
}

const consumeOnB = (consultId: string, producerId: string) =>
  consumeRemote(b, 'a', consultId, producerId, { receivers });

const pipes = (node: ClusterNodeProcess) => node.call<Pipes>('pipes');
const closed = { links: 0, srtpLinks: 0, outgoing: 0, incoming: 0 };

describe('media between two nodes', () => {
  it('carries RTP from a producer on node a to consumers on node b over one SRTP pipe', async () => {
    const { producerId } = await produceOnA('consult-1', 1111);
    const first = await consumeOnB('consult-1', producerId);
    const took = await timeUntil(() => first.receiver.packets() >= 25, 15_000, 'RTP on node b');
    const stats = await b.call<{ packets: number }>('consumerStats', {
      consumerId: first.consumerId,
    });
    expect(stats.packets).toBeGreaterThanOrEqual(25);
    console.log(`first 25 piped packets after ${took} ms`);

    // A second consumer on b shares the pipe: the producer is piped once per node.
    const second = await consumeOnB('consult-1', producerId);
    await timeUntil(() => second.receiver.packets() >= 10, 15_000, 'RTP to the second consumer');
    const one = { links: 1, srtpLinks: 1, outgoing: 1, incoming: 1 };
    expect(await pipes(b)).toEqual({ ...one, outgoing: 0 });
    expect(await pipes(a)).toEqual({ ...one, incoming: 0 });
    // The bridge's counts are in each node's /metrics.
    const metricsOf = async (node: ClusterNodeProcess) =>
      (await fetch(`${node.url}/metrics`)).text();
    const onB = await metricsOf(b);
    expect(onB).toMatch(/^gateway_pipe_links\{node="b"\} 1$/m);
    expect(onB).toMatch(/^gateway_pipe_links_srtp\{node="b"\} 1$/m);
    expect(onB).toMatch(/^gateway_piped_producers\{node="b",direction="incoming"\} 1$/m);
    expect(await metricsOf(a)).toMatch(
      /^gateway_piped_producers\{node="a",direction="outgoing"\} 1$/m,
    );
    const [portA] = await a.call<number[]>('pipePorts');
    const [portB] = await b.call<number[]>('pipePorts');
    expect(portA).toBeGreaterThanOrEqual(47100);
    expect(portA).toBeLessThanOrEqual(47119);
    expect(portB).toBeGreaterThanOrEqual(47120);
    expect(portB).toBeLessThanOrEqual(47139);

    // The first consumer goes: the pipe stays for the second.
    await b.call('closeConsumer', { consumerId: first.consumerId });
    const before = second.receiver.packets();
    await timeUntil(() => second.receiver.packets() >= before + 10, 15_000, 'RTP after one left');
    expect(await pipes(b)).toEqual({ ...one, outgoing: 0 });

    // The last consumer goes: both ends close the producer's pipe, and no more RTP arrives.
    // The link (transport pair) lingers for the consult's next piped producer.
    await b.call('closeConsumer', { consumerId: second.consumerId });
    const idle = { ...one, incoming: 0, outgoing: 0 };
    expect(await pipes(b)).toEqual(idle);
    await timeUntil(async () => (await pipes(a)).outgoing === 0, 10_000, 'pipe released on a');
    expect(await pipes(a)).toEqual(idle);
    const stopped = second.receiver.packets();
    await new Promise((r) => setTimeout(r, 300));
    expect(second.receiver.packets()).toBe(stopped);

    // Consuming again pipes it again, over the lingering link (the same ports).
    const again = await consumeOnB('consult-1', producerId);
    await timeUntil(() => again.receiver.packets() >= 10, 15_000, 'RTP after re-piping');
    expect(await b.call<number[]>('pipePorts')).toEqual([portB]);
    expect(await a.call<number[]>('pipePorts')).toEqual([portA]);
    await b.call('closeConsumer', { consumerId: again.consumerId });
    // Unused for the linger, the link closes on both ends.
    await timeUntil(async () => (await pipes(b)).links === 0, 10_000, 'link closed on b');
    await timeUntil(async () => (await pipes(a)).links === 0, 10_000, 'link closed on a');
    expect(await pipes(b)).toEqual(closed);
    expect(await pipes(a)).toEqual(closed);
  });

  it('closes the piped copy and its consumers on b when the producer on a closes', async () => {
    const { producerId } = await produceOnA('consult-2', 2222);
    const { consumerId, receiver } = await consumeOnB('consult-2', producerId);
    await timeUntil(() => receiver.packets() >= 10, 15_000, 'RTP on node b');
    await a.call('closeProducer', { producerId });
    await timeUntil(
      async () => (await b.call<{ closed: boolean }>('consumerStats', { consumerId })).closed,
      10_000,
      'consumer on b closed',
    );
    await timeUntil(async () => (await pipes(b)).links === 0, 10_000, 'pipe closed on b');
    await timeUntil(async () => (await pipes(a)).links === 0, 10_000, 'pipe closed on a');
  });

  it('refuses a producer id a does not have, or has in another consult, and leaves no pipe open', async () => {
    const { producerId } = await produceOnA('consult-3', 3333);
    const receiver = await receiveRtp();
    receivers.push(receiver);
    const ask = (consultId: string, id: string) =>
      b.call('consumeRemote', { consultId, node: 'a', producerId: id, port: receiver.port });
    await expect(ask('consult-3', 'no-such-producer')).rejects.toThrow(/no producer/);
    // Node b has a router for consult-4 but a has none: refused before anything is piped.
    await expect(ask('consult-4', producerId)).rejects.toThrow(/no media on this node/);
    // a has consult-5, but that producer belongs to consult-3.
    await a.call('produce', { consultId: 'consult-5', ssrc: 5555 });
    await expect(ask('consult-5', producerId)).rejects.toThrow(/no producer/);
    expect(await pipes(b)).toEqual(closed);
    await timeUntil(async () => (await pipes(a)).links === 0, 10_000, 'no pipe left on a');
  });

  it('replaces a lingering link whose other end closed with the consult there', async () => {
    const first = await produceOnA('consult-7', 7777);
    const one = await consumeOnB('consult-7', first.producerId);
    await timeUntil(() => one.receiver.packets() >= 10, 15_000, 'RTP on node b');
    await b.call('closeConsumer', { consumerId: one.consumerId });
    expect(await pipes(b)).toMatchObject({ links: 1, incoming: 0 });
    // The consult's media on a ends and starts again: a's half of the link is gone, b's lingers.
    await a.call('closeRoom', { consultId: 'consult-7' });
    await timeUntil(async () => (await pipes(a)).links === 0, 10_000, 'link closed on a');
    const second = await produceOnA('consult-7', 7778);
    const two = await consumeOnB('consult-7', second.producerId);
    await timeUntil(() => two.receiver.packets() >= 10, 15_000, 'RTP over a new link');
    expect(await pipes(b)).toMatchObject({ links: 1, incoming: 1 });
    await b.call('closeConsumer', { consumerId: two.consumerId });
  });

  it('negotiates new pipes after a Redis restart that lost everything', async () => {
    await redis.restart();
    const { producerId } = await produceOnA('consult-6', 6666);
    // The nodes reconnect and subscribe again by themselves; a request in that moment times out.
    let consumed: Awaited<ReturnType<typeof consumeOnB>> | undefined;
    const took = await timeUntil(
      async () => {
        consumed = await consumeOnB('consult-6', producerId).catch(() => undefined);
        return consumed !== undefined;
      },
      20_000,
      'a pipe after the restart',
    );
    await timeUntil(() => consumed!.receiver.packets() >= 10, 15_000, 'RTP after the restart');
    console.log(`a new pipe carried RTP ${took} ms after the Redis restart`);
  });
});
