/**
 * Failover of a seat across nodes (two gateway processes, one Redis, one PostgreSQL): the
 * specialist's node b is SIGKILLed; their client joins through node a with its resume secret
 * and takes its seat over at once (before the registry declares b dead), while the host on a
 * never sees them leave; they produce again on a and the host receives their RTP. A wrong
 * secret moves nothing; two connections with the right secret at once get one seat. Grace
 * periods live in Redis: a seat dropped on b is taken back through a within its grace period,
 * and one whose node dies during it is released by a after it (peerLeft then, not before).
 */
import pg from 'pg';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JoinResponse, WaitingResponse } from '../../src/protocol/index.js';
import { audioRtpParameters, connectClient, type TestClient } from '../support/client.js';
import {
  consumeAsJoined,
  startClusterNode,
  startRedis,
  type ClusterNodeProcess,
  type TestRedis,
} from '../support/cluster.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { sendRtp, type RtpReceiver, type RtpSender } from '../support/rtpSocket.js';
import { sleep, timeUntil } from '../support/wait.js';

const DEAD_AFTER_S = 5;
const GRACE_S = 3;

let redis: TestRedis;
let db: TestDatabase;
let a: ClusterNodeProcess;
let b: ClusterNodeProcess;
const clients: TestClient[] = [];
const senders: RtpSender[] = [];
const receivers: RtpReceiver[] = [];

const startB = () =>
  startClusterNode('b', redis.url, {
    ...env(),
    PIPE_PORT_MIN: '47320',
    PIPE_PORT_MAX: '47339',
  });
const env = () => ({
  DATABASE_URL: db.url,
  RECONNECT_GRACE_SECONDS: String(GRACE_S),
  NODE_DEAD_AFTER_SECONDS: String(DEAD_AFTER_S),
});

beforeAll(async () => {
  [redis, db] = await Promise.all([startRedis(), createTestDatabase()]);
  [a, b] = await Promise.all([
    startClusterNode('a', redis.url, { ...env(), PIPE_PORT_MIN: '47300', PIPE_PORT_MAX: '47319' }),
    startB(),
  ]);
}, 150_000);

afterAll(async () => {
  for (const c of clients) c.close();
  for (const s of senders) s.stop();
  for (const r of receivers) r.close();
  await Promise.all([a?.stop(), b?.stop()]);
  await Promise.all([redis?.stop(), db?.drop()]);
}, 60_000);

async function connect(node: ClusterNodeProcess, token: string): Promise<TestClient> {
  const client = await connectClient(node.url, token);
  clients.push(client);
  return client;
}

async function produceMic(
  node: ClusterNodeProcess,
  client: TestClient,
  consultId: string,
  peerId: string,
  ssrc: number,
) {
  const { transportId, port } = await node.call<{ transportId: string; port: number }>(
    'plainTransport',
    { consultId, peerId, direction: 'send' },
  );
  const { producerId } = await client.call<{ producerId: string }>('produce', {
    transportId,
    kind: 'audio',
    rtpParameters: audioRtpParameters(ssrc),
    appData: { source: 'mic' },
  });
  senders.push(sendRtp(port, ssrc));
  return producerId;
}

const consume = async (...args: [ClusterNodeProcess, TestClient, JoinResponse, string, string]) =>
  (await consumeAsJoined(...args, receivers)).receiver;

/** A node's port (its registered URL says localhost where the test's says 127.0.0.1). */
const port = (url: string) => new URL(url).port;

/** Rows of the cluster's shared PostgreSQL database. */
async function sql<T = Record<string, unknown>>(text: string, values: unknown[]): Promise<T[]> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    return (await client.query(text, values)).rows as T[];
  } finally {
    await client.end();
  }
}

/** A seat's participations (stays) in the record, oldest first. */
const stays = (consultId: string, peerId: string) =>
  sql<{ joined_at: string; left_at: string | null; leave_reason: string | null }>(
    'SELECT joined_at, left_at, leave_reason FROM participations WHERE consult_id = $1 AND peer_id = $2 ORDER BY joined_at',
    [consultId, peerId],
  );

const bAlive = async () =>
  (await a.call<{ id: string; alive: boolean }[]>('nodes')).some((n) => n.id === 'b' && n.alive);

describe('failover of a seat to another node', () => {
  it('takes the seat over through a with the resume secret at once; the host never sees it leave', async () => {
    const { consultId, hostToken, specialistToken } = await a.call<{
      consultId: string;
      hostToken: string;
      specialistToken: string;
    }>('seed');
    const host = await connect(a, hostToken);
    const hostJoin = await host.call<JoinResponse>('join', { consultId });
    const onB = await connect(b, specialistToken);
    const waiting = await onB.call<WaitingResponse>('join', { consultId });
    const admitted = onB.next('admitted');
    await host.call('admit', { peerId: waiting.peerId });
    await admitted;
    const before = await onB.call<JoinResponse>('join', { consultId });
    // The answer names where else to go: the live nodes, this one first.
    expect(before.nodes?.map(port)).toEqual([port(b.url), port(a.url)]);

    // The specialist's microphone on b reaches the host on a through the pipe.
    const oldMic = await produceMic(b, onB, consultId, before.peerId, 5551);
    const throughPipe = await consume(a, host, hostJoin, consultId, oldMic);
    await timeUntil(() => throughPipe.packets() >= 10, 15_000, 'RTP from b on a');

    // b dies. Its client comes back through a.
    const oldMicClosed = host.next<{ peerId: string; producerId: string }>('producerClosed');
    const killedAt = Date.now();
    await b.crash();

    // A wrong secret moves nothing: the seat is still b's (b is not yet declared dead).
    const intruder = await connect(a, specialistToken);
    const wrong = await intruder.request('join', { consultId, resumeSecret: 'x'.repeat(43) });
    expect(wrong).toMatchObject({ ok: false, error: { code: 'seat_taken' } });

    // Two connections with the right secret at once: one seat.
    const [first, second] = await Promise.all([
      connect(a, specialistToken),
      connect(a, specialistToken),
    ]);
    const answers = await Promise.all(
      [first, second].map((c) =>
        c.request<JoinResponse>('join', { consultId, resumeSecret: before.resumeSecret }),
      ),
    );
    const won = answers.flatMap((r, i) =>
      r.ok ? [{ client: [first, second][i]!, join: r.data }] : [],
    );
    // Both claims reach Redis at once: one wins, the other is refused. (Should the second
    // join come after the first had seated it here, it takes the seat over from the first
    // connection as on one node, and that one is ended: still one seat.)
    if (won.length === 2) {
      // (It may have come before the second answer: the client's log has it then.)
      const endedOf = (c: TestClient) =>
        c.received('consultEnded').length > 0
          ? Promise.resolve(c.received('consultEnded')[0] as { reason: string })
          : c.next<{ reason: string }>('consultEnded');
      const ended = await Promise.race(
        won.map((w, i) => endedOf(w.client).then((m) => ({ i, m }))),
      );
      expect(ended.m).toEqual({ reason: 'joined_from_another_connection' });
      won.splice(ended.i, 1);
    } else {
      expect(answers.filter((r) => !r.ok)).toMatchObject([
        { ok: false, error: { code: 'seat_taken' } },
      ]);
    }
    expect(won).toHaveLength(1);
    // It did not wait for b to be declared dead.
    expect(await bAlive()).toBe(true);
    const { client: specialist, join: after } = won[0]!;
    expect(after.peerId).toBe(before.peerId);
    expect(port(after.nodes![0]!)).toBe(port(a.url));
    expect(after.resumed).toEqual({ transports: [], producers: [], consumers: [] });
    expect(after.peers.map((p) => p.peerId)).toEqual([hostJoin.peerId]);

    // The host is told the old microphone is gone, then sees the new one and receives it.
    expect(await oldMicClosed).toEqual({ peerId: before.peerId, producerId: oldMic });
    const newProducer = host.next<{ peerId: string; producerId: string }>('newProducer');
    const newMic = await produceMic(a, specialist, consultId, after.peerId, 6661);
    expect(await newProducer).toMatchObject({ peerId: before.peerId, producerId: newMic });
    // (On the host's receive transport of before: b's RTP stopped with b.)
    const { consumerId } = await host.call<{ consumerId: string }>('consume', {
      producerId: newMic,
      rtpCapabilities: hostJoin.routerRtpCapabilities,
    });
    await host.call('resumeConsumer', { consumerId });
    const got = throughPipe.packets();
    await timeUntil(() => throughPipe.packets() > got, 10_000, 'RTP of the new mic on a');
    // Issue 14: media back within 5 s of the kill (this client moves at once; the browser's
    // reconnect policy is timed in test/e2e/cluster.e2e.test.ts).
    const backMs = Date.now() - killedAt;
    console.log(`the host receives the specialist again ${backMs} ms after the kill`);
    expect(backMs).toBeLessThanOrEqual(5000);
    await timeUntil(() => throughPipe.packets() >= got + 10, 10_000, 'RTP of the new mic on a');

    // Past b's death and the grace period: still no peerLeft, no second peerJoined.
    await timeUntil(async () => !(await bAlive()), (DEAD_AFTER_S + 5) * 1000, 'b declared dead');
    await sleep(2 * GRACE_S * 1000);
    expect(host.received('peerLeft')).toEqual([]);
    expect(host.received('peerJoined')).toHaveLength(1);
    expect(host.received('consultEnded')).toEqual([]);
    // A late joiner on a sees the specialist once, with the new microphone only.
    const hostAgain = await connect(a, hostToken);
    const rejoin = await hostAgain.call<JoinResponse>('join', { consultId });
    const seen = rejoin.peers.filter((p) => p.peerId === before.peerId);
    expect(seen.map((p) => p.producers.map((x) => x.producerId))).toEqual([[newMic]]);

    // The record shows the outage: the stay on b closed where b last saw it, the one on a
    // open, the consult still live.
    await expect
      .poll(() => stays(consultId, before.peerId), { timeout: 10_000 })
      .toMatchObject([{ leave_reason: 'node_lost' }, { left_at: null }]);
    const [onOld, onNew] = await stays(consultId, before.peerId);
    expect(Number(onOld!.left_at)).toBeLessThanOrEqual(Number(onNew!.joined_at));
    const moved = await sql<{ details: string }>(
      "SELECT details FROM consult_events WHERE consult_id = $1 AND type = 'participant.joined' ORDER BY seq",
      [consultId],
    );
    expect(moved.map((e) => JSON.parse(e.details) as Record<string, unknown>)).toMatchObject([
      { peerId: hostJoin.peerId },
      { peerId: before.peerId },
      { peerId: before.peerId, movedFrom: 'b', movedBy: 'failover' },
    ]);
    expect(await sql('SELECT status FROM consults WHERE id = $1', [consultId])).toEqual([
      { status: 'live' },
    ]);
  }, 45_000);

  it('a takeover while the old node is alive (a split) wins, and that node drops its copy', async () => {
    b = await startB();
    const { consultId, hostToken, specialistToken } = await a.call<{
      consultId: string;
      hostToken: string;
      specialistToken: string;
    }>('seed');
    const host = await connect(a, hostToken);
    const hostJoin = await host.call<JoinResponse>('join', { consultId });
    const onB = await connect(b, specialistToken);
    const waiting = await onB.call<WaitingResponse>('join', { consultId });
    const admitted = onB.next('admitted');
    await host.call('admit', { peerId: waiting.peerId });
    await admitted;
    const before = await onB.call<JoinResponse>('join', { consultId });
    const oldMic = await produceMic(b, onB, consultId, before.peerId, 7771);

    // b is up and its connection open; the client takes the seat over through a.
    const ended = onB.next<{ reason: string }>('consultEnded');
    const gone = new Promise<void>((resolve) => onB.socket.once('disconnect', () => resolve()));
    const onA = await connect(a, specialistToken);
    const after = await onA.call<JoinResponse>('join', {
      consultId,
      resumeSecret: before.resumeSecret,
    });
    expect(after).toMatchObject({ peerId: before.peerId, resumed: { producers: [] } });
    expect(await ended).toEqual({ reason: 'joined_from_another_connection' });
    await gone;
    // b closed its copy (its producer too) without telling anyone the seat left.
    await expect(
      b.call('plainTransport', { consultId, peerId: before.peerId, direction: 'send' }),
    ).rejects.toThrow(/no peer/);
    await sleep(2 * GRACE_S * 1000);
    expect(host.received('peerLeft')).toEqual([]);
    // (from a at the takeover, and again from b as its copy closes)
    const closed = host.received('producerClosed');
    expect(closed.length).toBeGreaterThan(0);
    expect(new Set(closed.map((m) => JSON.stringify(m)))).toEqual(
      new Set([JSON.stringify({ peerId: before.peerId, producerId: oldMic })]),
    );
    // b's late removal left a's entry alone: the seat is a's, one move on, no secret of b's.
    const r = createClient({ url: redis.url });
    await r.connect();
    const seat = await r.hGet(`telemed:consult:${consultId}:seats`, before.peerId);
    r.destroy();
    expect(JSON.parse(seat!)).toMatchObject({ node: 'a', epoch: 1, userId: expect.any(String) });
    expect(JSON.parse(seat!).resume).toMatch(/^[0-9a-f]{64}$/);
    expect(hostJoin.peerId).not.toBe(before.peerId);
  }, 45_000);

  it('a seat dropped on b is taken back through a in its grace period; dropped on b as b dies, a releases it after the grace period', async () => {
    // b is up again (the previous test started it).
    const { consultId, hostToken, specialistToken } = await a.call<{
      consultId: string;
      hostToken: string;
      specialistToken: string;
    }>('seed');
    const host = await connect(a, hostToken);
    await host.call<JoinResponse>('join', { consultId });
    const onB = await connect(b, specialistToken);
    const waiting = await onB.call<WaitingResponse>('join', { consultId });
    const admitted = onB.next('admitted');
    await host.call('admit', { peerId: waiting.peerId });
    await admitted;
    const first = await onB.call<JoinResponse>('join', { consultId });
    const r = createClient({ url: redis.url });
    await r.connect();
    const graced = async () =>
      (await r.zRange('telemed:grace', 0, -1)).includes(`${consultId}\u0000${first.peerId}`);
    try {
      // Dropped on b: its grace period is in Redis, and ends when a takes the seat back.
      onB.close();
      await timeUntil(graced, 10_000, 'grace period in Redis');
      const onA = await connect(a, specialistToken);
      const back = await onA.call<JoinResponse>('join', {
        consultId,
        resumeSecret: first.resumeSecret,
      });
      expect(back.peerId).toBe(first.peerId);
      await timeUntil(async () => !(await graced()), 10_000, 'grace period ended');

      // Back to b, dropped there, and b dies: nobody holds the seat, its grace period goes on.
      const again = await connect(b, specialistToken);
      const onBAgain = await again.call<JoinResponse>('join', {
        consultId,
        resumeSecret: back.resumeSecret,
      });
      expect(onBAgain.peerId).toBe(first.peerId);
      again.close();
      await timeUntil(graced, 10_000, 'grace period in Redis again');
      const droppedAt = Date.now();
      await b.crash();
      // a claims it when it runs out; b does not answer, so the claim comes back to a once b
      // is declared dead (its lease, 5 s), and a removes the seat and tells everyone.
      await timeUntil(
        () => host.received('peerLeft').length > 0,
        (GRACE_S + DEAD_AFTER_S + 10) * 1000,
        'peerLeft of the seat of dead b',
      );
      expect(Date.now() - droppedAt).toBeGreaterThanOrEqual(GRACE_S * 1000);
      expect(host.received('peerLeft')).toEqual([{ peerId: first.peerId }]);
      expect(await graced()).toBe(false);
      expect((await r.hGet(`telemed:consult:${consultId}:seats`, first.peerId)) ?? null).toBeNull();
    } finally {
      r.destroy();
    }
  }, 60_000);
});
