/**
 * One consult on several workers of one node: with a consumer limit per worker, the
 * participants past the limit go on a router on the next worker, the sender's producer is
 * piped there once, RTP reaches every receiver on both workers, and the copy closes with
 * its last consumer.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { types } from 'mediasoup';
import { createLogger } from '../../src/logger.js';
import { ConsultRouters, WorkerConsumers } from '../../src/sfu/ConsultRouters.js';
import { WorkerPool } from '../../src/sfu/WorkerPool.js';
import { audioRtpParameters } from '../support/rtp.js';
import { receiveRtp, sendRtp, type RtpReceiver, type RtpSender } from '../support/rtpSocket.js';
import { timeUntil } from '../support/wait.js';
import { mediaPortBase } from '../support/ports.js';

const logger = createLogger('silent');
let pool: WorkerPool;
let routers: ConsultRouters;
const receivers: RtpReceiver[] = [];
let sender: RtpSender | undefined;

beforeEach(async () => {
  pool = await WorkerPool.create({
    count: 2,
    listenIp: '127.0.0.1',
    announcedIp: undefined,
    portBase: mediaPortBase(),
    logLevel: 'warn',
    logger,
  });
});

afterEach(() => {
  sender?.stop();
  for (const r of receivers.splice(0)) r.close();
  routers?.close();
  pool.close();
});

/** A sender's producer on `router`, fed by RTP from this test. */
async function producerOn(router: types.Router) {
  const transport = await router.createPlainTransport({
    listenIp: '127.0.0.1',
    rtcpMux: true,
    comedia: true,
  });
  const producer = await transport.produce({
    kind: 'audio',
    rtpParameters: audioRtpParameters(4242) as types.RtpParameters,
  });
  sender = sendRtp(transport.tuple.localPort, 4242);
  return producer;
}

/** A student: placed by the rule, consuming the producer on a plain transport to a local socket. */
async function student(producer: types.Producer) {
  const router = await routers.placePeer(1);
  const receiver = await receiveRtp();
  receivers.push(receiver);
  const transport = await router.createPlainTransport({
    listenIp: '127.0.0.1',
    rtcpMux: true,
    comedia: false,
  });
  await transport.connect({ ip: '127.0.0.1', port: receiver.port });
  const consumer = await routers.consume(router, producer.id, () =>
    transport.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities }),
  );
  return { router, receiver, consumer };
}

describe('one consult across the workers of one node', () => {
  it('places students past the per-worker limit on the next worker and pipes the sender there once', async () => {
    const load = new WorkerConsumers();
    routers = await ConsultRouters.create('teaching', {
      pool,
      load,
      maxConsumersPerWorker: 3,
      logger,
    });
    const producer = await producerOn(routers.primary);
    routers.addProducer(producer, routers.primary);

    const students: Awaited<ReturnType<typeof student>>[] = [];
    for (let i = 0; i < 5; i++) students.push(await student(producer));
    const workerOf = (r: types.Router) => routers.placed.find((p) => p.router === r)!.slot.index;
    const first = workerOf(routers.primary);
    expect(students.map((s) => workerOf(s.router) === first)).toEqual([
      true,
      true,
      true,
      false,
      false,
    ]);
    // The sender's worker also carries the pipe consumer feeding the second worker.
    expect(pool.slots.map((s) => load.count(s)).sort()).toEqual([2, 4]);
    expect(routers.placed).toHaveLength(2);
    expect(routers.copies).toBe(1);

    await timeUntil(
      () => students.every((s) => s.receiver.packets() >= 10),
      15_000,
      'RTP at every student',
    );

    // The two students on the second worker leave: its copy of the sender closes.
    students[3]!.consumer.close();
    expect(routers.copies).toBe(1);
    students[4]!.consumer.close();
    expect(routers.copies).toBe(0);
    expect(pool.slots.map((s) => load.count(s)).sort()).toEqual([0, 3]);
    const on0 = students[0]!.receiver.packets();
    await timeUntil(
      () => students[0]!.receiver.packets() >= on0 + 10,
      15_000,
      'RTP on worker 0 still',
    );

    // Room again on the second worker's router: the next student is piped there afresh.
    const late = await student(producer);
    expect(workerOf(late.router)).not.toBe(first);
    await timeUntil(() => late.receiver.packets() >= 10, 15_000, 'RTP after re-piping');
  });

  it('keeps every student on one worker while it has room', async () => {
    const load = new WorkerConsumers();
    routers = await ConsultRouters.create('small', {
      pool,
      load,
      maxConsumersPerWorker: 500,
      logger,
    });
    const producer = await producerOn(routers.primary);
    routers.addProducer(producer, routers.primary);
    for (let i = 0; i < 5; i++) await student(producer);
    expect(routers.placed).toHaveLength(1);
    expect(routers.copies).toBe(0);
  });
});
