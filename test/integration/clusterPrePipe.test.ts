/**
 * Pipes made ahead of the first consume (issue 14: a join through another node than the
 * sender's within 1.15x of a same-node join): two real nodes (separate processes) on one Redis
 * and one PostgreSQL, plain-RTP clients through the real signalling. A join through b pipes the
 * consult's producers of a to b while the join goes on, so the first consume finds the pipe
 * made; a piped producer nobody on b consumes (never consumed, or its last consumer left) is
 * held for PIPE_HOLD_SECONDS for the next one, then released on both ends. The pipe
 * negotiations are counted on the bus itself (`pipe.produce` requests to a), not timed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JoinResponse } from '../../src/protocol/index.js';
import type { User } from '../../src/store/repositories.js';
import type { TestClient } from '../support/client.js';
import { consumeAsJoined, type ClusterNodeProcess, type Pipes } from '../support/cluster.js';
import { connectRawBus, type RawBus } from '../support/rawBus.js';
import { audioRtpParameters } from '../support/rtp.js';
import { sendRtp, type RtpReceiver, type RtpSender } from '../support/rtpSocket.js';
import { startTwoNodes, type TwoNodes } from '../support/twoNodes.js';
import { timeUntil } from '../support/wait.js';

/** Long enough for a rejoin on a machine with one core busy; short enough to wait out. */
const HOLD_MS = 6000;
const LINGER_MS = 1000;
/** A pipe is negotiated within the bus's request timeout (5 s) per step; the rest is load. */
const PIPE_WAIT_MS = 20_000;

let cluster: TwoNodes;
let bus: RawBus;
const senders: RtpSender[] = [];
const receivers: RtpReceiver[] = [];

beforeAll(async () => {
  cluster = await startTwoNodes({
    PIPE_HOLD_SECONDS: String(HOLD_MS / 1000),
    PIPE_LINGER_SECONDS: String(LINGER_MS / 1000),
  });
  bus = await connectRawBus(cluster.redis.url);
  // Node a's channel: b's requests to pipe a's producers over (a opens their links: 'a' < 'b').
  await bus.listen('a');
}, 150_000);

afterAll(async () => {
  bus?.close();
  for (const s of senders) s.stop();
  for (const r of receivers) r.close();
  await cluster?.stop();
}, 60_000);

const pipes = (node: ClusterNodeProcess) => node.call<Pipes>('pipes');
const none: Pipes = { links: 0, srtpLinks: 0, outgoing: 0, incoming: 0 };

/** How many times b asked a to pipe a producer of the consult (one per negotiation). */
const pipeProduces = (consultId: string) =>
  bus.seen.filter(
    (s) =>
      s.channel === 'telemed:bus:a' &&
      s.msg.type === 'pipe.produce' &&
      (s.msg.payload as { consultId?: string }).consultId === consultId,
  ).length;

/** A consult whose host, on node a, sends microphone RTP. */
async function hostSendingOnA(name: string): Promise<{ consultId: string; producerId: string }> {
  const host = await cluster.user('doctor', `Dr. ${name}`);
  const consultId = await cluster.consultHostedBy(host);
  const client = await grantAndConnect(cluster.a, consultId, host);
  const join = await client.call<JoinResponse>('join', { consultId });
  const { transportId, port } = await cluster.a.call<{ transportId: string; port: number }>(
    'plainTransport',
    { consultId, peerId: join.peerId, direction: 'send' },
  );
  const ssrc = 1000 + senders.length;
  const { producerId } = await client.call<{ producerId: string }>('produce', {
    transportId,
    kind: 'audio',
    rtpParameters: audioRtpParameters(ssrc),
    appData: { source: 'mic' },
  });
  senders.push(sendRtp(port, ssrc, 10_000));
  return { consultId, producerId };
}

async function grantAndConnect(node: ClusterNodeProcess, consultId: string, u: User) {
  const grant = await cluster.services.consults.mintOperatorGrant(consultId, u.id);
  return cluster.connect(node, grant.token);
}

/** Joins through b; nothing is consumed. */
async function joinOnB(
  consultId: string,
  u: User,
): Promise<{ client: TestClient; join: JoinResponse }> {
  const client = await grantAndConnect(cluster.b, consultId, u);
  return { client, join: await client.call<JoinResponse>('join', { consultId }) };
}

/** Consumes `producerId` on b for a joined client; resolves once its RTP arrives. */
async function consumeOnB(
  consultId: string,
  producerId: string,
  { client, join }: { client: TestClient; join: JoinResponse },
): Promise<void> {
  const { receiver } = await consumeAsJoined(b(), client, join, consultId, producerId, receivers);
  await timeUntil(() => receiver.packets() >= 10, 15_000, `RTP of ${consultId} on b`);
}

/** Both ends released the piped producer, and the link closed after its linger. */
async function released(what: string) {
  await timeUntil(
    async () =>
      JSON.stringify([await pipes(a()), await pipes(b())]) === JSON.stringify([none, none]),
    HOLD_MS + LINGER_MS + PIPE_WAIT_MS,
    what,
  );
}
const a = () => cluster.a;
const b = () => cluster.b;

describe('pipes made ahead of the first consume', () => {
  it("pipes the host's microphone to b during a join there: the first consume finds it made", async () => {
    const { consultId, producerId } = await hostSendingOnA('Early');
    const joiner = await cluster.user('admin', 'Early Joiner');
    const first = await joinOnB(consultId, joiner);
    // Nothing consumed yet: the join alone brought the producer over.
    await timeUntil(async () => (await pipes(b())).incoming === 1, PIPE_WAIT_MS, 'early pipe on b');
    expect(await pipes(a())).toMatchObject({ links: 1, outgoing: 1 });
    expect(pipeProduces(consultId)).toBe(1);

    // The consume takes the piped producer as it is: no negotiation of its own.
    await consumeOnB(consultId, producerId, first);
    expect(pipeProduces(consultId)).toBe(1);
    expect(await pipes(b())).toEqual({ links: 1, srtpLinks: 1, outgoing: 0, incoming: 1 });

    // The joiner leaves (b's room empties): the piped producer is held for the next consumer.
    await first.client.call('leave', {});
    expect(await pipes(b())).toMatchObject({ incoming: 1 });
    // They come back within the hold: their consume finds it still there, negotiated once.
    const again = await joinOnB(consultId, joiner);
    await consumeOnB(consultId, producerId, again);
    expect(pipeProduces(consultId)).toBe(1);

    // They leave for good: held, then released on both ends, then the link goes.
    await again.client.call('leave', {});
    await released('the held pipe released after its last consumer left');
    expect(pipeProduces(consultId)).toBe(1);
  });

  it('releases an early pipe nobody consumes, while its joiner stays in the consult', async () => {
    const { consultId } = await hostSendingOnA('Unconsumed');
    const joiner = await cluster.user('admin', 'Idle Joiner');
    const { client } = await joinOnB(consultId, joiner);
    await timeUntil(async () => (await pipes(b())).incoming === 1, PIPE_WAIT_MS, 'early pipe on b');
    await released('the unconsumed early pipe released');
    expect(client.socket.connected).toBe(true);
    expect(pipeProduces(consultId)).toBe(1);
  });
});
