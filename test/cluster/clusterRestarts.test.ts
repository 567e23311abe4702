/**
 * A cluster survives its Redis and its PostgreSQL restarting (three gateway processes, one
 * Redis, a private PostgreSQL server this test stops and starts): a consult spanning nodes a
 * and b keeps its media flowing through the outage, nobody is told anyone left, and once the
 * service is back people join through any node and see everyone, the lobby works across
 * nodes, and the record holds what happened. While a service is down, what needs it answers a
 * clear `unavailable`, never a crash and never a half-written record.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createServices, type Services } from '../../src/gateway.js';
import { createLogger } from '../../src/logger.js';
import type { JoinResponse, WaitingResponse } from '../../src/protocol/index.js';
import type { User } from '../../src/store/repositories.js';
import { audioRtpParameters, connectClient, type TestClient } from '../support/client.js';
import {
  consumeAsJoined,
  startRedis,
  type ClusterNodeProcess,
  type TestRedis,
} from '../support/cluster.js';
import { TEST_PASSWORD, TEST_SECRET } from '../support/gateway.js';
import { startNodes, startPrivatePostgres, type PrivatePostgres } from '../support/nodes.js';
import { sendRtp, type RtpReceiver, type RtpSender } from '../support/rtpSocket.js';
import { sleep, timeUntil } from '../support/wait.js';
import { scheduledConsult } from '../support/consultRow.js';

/** Short, so that an outage longer than it would get nodes declared dead if that were the rule. */
const DEAD_AFTER_S = 2;
const OUTAGE_MS = 3500;

let redis: TestRedis;
let pg: PrivatePostgres;
let a: ClusterNodeProcess;
let b: ClusterNodeProcess;
let c: ClusterNodeProcess;
let services: Services;
let sharedDir: string;
const clients: TestClient[] = [];
const senders: RtpSender[] = [];
const receivers: RtpReceiver[] = [];

beforeAll(async () => {
  [redis, pg] = await Promise.all([startRedis(), startPrivatePostgres()]);
  sharedDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-restarts-'));
  const env = {
    DATABASE_URL: pg.url,
    NODE_DEAD_AFTER_SECONDS: String(DEAD_AFTER_S),
    RECONNECT_GRACE_SECONDS: '2',
  };
  // This process's services make the accounts and consults and read the record.
  services = await createServices(
    loadConfig({
      DATA_DIR: sharedDir,
      JWT_SECRET: TEST_SECRET,
      SCRYPT_COST: '1024',
      LOG_LEVEL: 'silent',
      ...env,
    }),
    createLogger('silent'),
  );
  const nodes = await startNodes(['a', 'b', 'c'], redis.url, env);
  [a, b, c] = [nodes.get('a'), nodes.get('b'), nodes.get('c')];
}, 150_000);

afterAll(async () => {
  for (const cl of clients) cl.close();
  for (const s of senders) s.stop();
  for (const r of receivers) r.close();
  await Promise.all([a?.stop(), b?.stop(), c?.stop()]);
  await services?.store.close();
  await Promise.all([redis?.stop(), pg?.destroy()]);
  if (sharedDir) fs.rmSync(sharedDir, { recursive: true, force: true });
}, 60_000);

let seq = 0;
const user = (role: 'doctor' | 'specialist' | 'admin') =>
  services.auth.createUser(
    { role, name: `${role} ${++seq}`, email: `${role}.${seq}@test.local`, password: TEST_PASSWORD },
    null,
    null,
  );

async function consultOf(host: User, specialists: User[]): Promise<string> {
  const now = Date.now();
  const id = `restarts-${++seq}-${now}`;
  await services.store.consults.insert(
    scheduledConsult(id, host.id, {
      title: 'Consult across restarts',
      patientRef: 'P-RESTART',
      specialistIds: specialists.map((s) => s.id),
    }),
  );
  return id;
}

async function connect(node: ClusterNodeProcess, consultId: string, u: User) {
  const grant = await services.consults.mintOperatorGrant(consultId, u.id);
  const client = await connectClient(node.url, grant.token);
  clients.push(client);
  return client;
}

/** Joins through `node`, waiting in the lobby until `host` admits (specialists). */
async function joinVia(
  node: ClusterNodeProcess,
  consultId: string,
  u: User,
  host?: TestClient,
): Promise<{ client: TestClient; join: JoinResponse }> {
  const client = await connect(node, consultId, u);
  const first = await client.call<JoinResponse | WaitingResponse>('join', { consultId });
  if (!('waiting' in first)) return { client, join: first };
  if (!host) throw new Error(`${u.name} waits in the lobby and nobody admits`);
  const admitted = client.next('admitted');
  await host.call('admit', { peerId: first.peerId });
  await admitted;
  return { client, join: await client.call<JoinResponse>('join', { consultId }) };
}

async function produceMic(
  node: ClusterNodeProcess,
  client: TestClient,
  consultId: string,
  peerId: string,
  ssrc: number,
): Promise<string> {
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
  senders.push(sendRtp(port, ssrc, 1_000_000));
  return producerId;
}

const consume = async (...args: [ClusterNodeProcess, TestClient, JoinResponse, string, string]) =>
  (await consumeAsJoined(...args, receivers)).receiver;

/**
 * Samples the receivers every 500 ms for `ms` and asserts each got RTP in every window (a
 * 20 ms sender: 25 packets a window, so one packet is proof the path is up).
 */
async function flowsThroughout(rx: RtpReceiver[], ms: number): Promise<void> {
  const end = Date.now() + ms;
  let last = rx.map((r) => r.packets());
  const gaps: string[] = [];
  while (Date.now() < end) {
    await sleep(500);
    const now = rx.map((r) => r.packets());
    now.forEach((n, i) => {
      if (n === last[i]) gaps.push(`receiver ${i} got nothing in a 500 ms window`);
    });
    last = now;
  }
  expect(gaps).toEqual([]);
}

interface Live {
  consultId: string;
  host: TestClient;
  hostJoin: JoinResponse;
  specialist: TestClient;
  specialistJoin: JoinResponse;
  /** The host's receiver of the specialist's mic (b → a) and the reverse (a → b). */
  rx: RtpReceiver[];
  spares: User[];
}

/** A consult with the host on a and the specialist on b, each receiving the other's RTP through a pipe. */
async function liveSplitConsult(): Promise<Live> {
  const [host, specialistUser, ...spares] = await Promise.all([
    user('doctor'),
    user('specialist'),
    user('specialist'),
    user('specialist'),
    user('admin'),
    user('admin'),
  ]);
  const consultId = await consultOf(host!, [specialistUser!, spares[0]!, spares[1]!]);
  const h = await joinVia(a, consultId, host!);
  const s = await joinVia(b, consultId, specialistUser!, h.client);
  const hostMic = await produceMic(a, h.client, consultId, h.join.peerId, 1111);
  const specMic = await produceMic(b, s.client, consultId, s.join.peerId, 2222);
  const rx = [
    await consume(a, h.client, h.join, consultId, specMic),
    await consume(b, s.client, s.join, consultId, hostMic),
  ];
  await timeUntil(() => rx.every((r) => r.packets() >= 10), 15_000, 'RTP both ways');
  return {
    consultId,
    host: h.client,
    hostJoin: h.join,
    specialist: s.client,
    specialistJoin: s.join,
    rx,
    spares,
  };
}

const allAlive = async (node: ClusterNodeProcess) => {
  const nodes = await node.call<{ id: string; alive: boolean }[]>('nodes').catch(() => []); // unavailable until its connection is back
  return ['a', 'b', 'c'].every((id) => nodes.some((n) => n.id === id && n.alive));
};

/** What a participant on either side would have noticed as someone leaving or the consult ending. */
const noLeaves = (live: Live, except: string[] = []) => {
  for (const cl of [live.host, live.specialist]) {
    const left = cl.received('peerLeft') as { peerId: string }[];
    expect(left.filter((m) => !except.includes(m.peerId))).toEqual([]);
    expect(cl.received('consultEnded')).toEqual([]);
    expect(cl.socket.connected).toBe(true);
  }
};

describe('a Redis restart', () => {
  it('keeps media flowing, ends nothing, and everything works again once Redis is back', async () => {
    const live = await liveSplitConsult();
    const [spare1, spare2, admin1] = live.spares;
    const downAt = Date.now();
    await redis.down();

    // A flood of joins through c while Redis is down: each gets a clear answer, nothing crashes.
    const flood = await Promise.all(
      [0, 1, 2, 3, 4].map(async () => {
        const cl = await connect(c, live.consultId, admin1!);
        return cl.request('join', { consultId: live.consultId });
      }),
    );
    for (const ack of flood) {
      expect(ack).toMatchObject({ ok: false, error: { code: 'unavailable' } });
    }
    await flowsThroughout(live.rx, OUTAGE_MS - (Date.now() - downAt));
    await redis.up();
    const upAt = Date.now();

    // Every node lists every node again (each beats within a third of the limit) …
    for (const node of [a, b, c]) await timeUntil(() => allAlive(node), 10_000, 'nodes listed');
    // … and none was taken for dead or gone meanwhile: the pipes carry on past the limit.
    await flowsThroughout(live.rx, DEAD_AFTER_S * 1000 + 1500);
    noLeaves(live);

    // The lobby works across nodes: a specialist waits on c, the host on a admits; joined,
    // they see the host and the specialist of before with their microphones.
    const third = await joinVia(c, live.consultId, spare1!, live.host);
    const seen = new Map(third.join.peers.map((p) => [p.peerId, p.producers.length]));
    expect(seen).toEqual(
      new Map([
        [live.hostJoin.peerId, 1],
        [live.specialistJoin.peerId, 1],
      ]),
    );
    // Another joins through b and sees all three.
    const fourth = await joinVia(b, live.consultId, spare2!, live.host);
    expect(fourth.join.peers.map((p) => p.peerId).sort()).toEqual(
      [live.hostJoin.peerId, live.specialistJoin.peerId, third.join.peerId].sort(),
    );
    // The newcomer on c receives the specialist's microphone from b.
    const specMic = third.join.peers.find((p) => p.peerId === live.specialistJoin.peerId)!
      .producers[0]!.producerId;
    const onC = await consume(c, third.client, third.join, live.consultId, specMic);
    await timeUntil(() => onC.packets() >= 10, 10_000, 'RTP from b on c');
    noLeaves(live);
    console.info(
      `Redis down ${upAt - downAt} ms; all nodes listed again and a new join through c answered ${Date.now() - upAt} ms after it was back`,
    );
  }, 60_000);
});

describe('a PostgreSQL restart', () => {
  it('keeps media flowing; writes meanwhile land later or fail with unavailable, never half; all works after', async () => {
    const live = await liveSplitConsult();
    const [, , admin1, admin2] = live.spares;
    // Someone on c who leaves during the outage: their leave is written once it is back.
    const leaver = await joinVia(c, live.consultId, admin1!);
    const lateGrant = await services.consults.mintOperatorGrant(live.consultId, admin2!.id);
    const downAt = Date.now();
    await pg.stop();

    // Chat needs the database: each post is stored or refused with `unavailable` (and then not
    // relayed), never acknowledged and lost.
    const posts: { text: string; ok: boolean }[] = [];
    for (let i = 0; i < 3; i++) {
      const text = `during the outage ${i}`;
      const ack = await live.host.request('chatMessage', { text });
      if (!ack.ok) expect(ack.error.code).toBe('unavailable');
      posts.push({ text, ok: ack.ok });
    }
    expect(posts.some((p) => !p.ok)).toBe(true);
    const left = await leaver.client.request('leave', {});
    expect(left.ok).toBe(true);
    // A newcomer cannot be authorised now: a clear refusal, not a hang or a crash.
    const refused = await connectClient(c.url, lateGrant.token)
      .then((cl) => {
        clients.push(cl);
        return cl.request('join', { consultId: live.consultId });
      })
      .then(
        (ack) => (ack.ok ? 'joined' : ack.error.code),
        (err: Error & { data?: { code?: string } }) => `refused: ${err.data?.code}`,
      );
    expect(refused).toBe('refused: unavailable');
    await flowsThroughout(live.rx, OUTAGE_MS - (Date.now() - downAt));
    await pg.start();
    const upAt = Date.now();

    await flowsThroughout(live.rx, 1000);
    noLeaves(live, [leaver.join.peerId]);
    // Chat works again (the pool opens new connections; the first may still meet a dead one).
    await timeUntil(
      async () => (await live.host.request('chatMessage', { text: 'after the outage' })).ok,
      10_000,
      'chat stored again',
    );
    const newcomer = await joinVia(c, live.consultId, admin2!);
    expect(newcomer.join.peers.map((p) => p.peerId).sort()).toEqual(
      [live.hostJoin.peerId, live.specialistJoin.peerId].sort(),
    );
    // The record: every acknowledged message once, no refused one; the leave made during the
    // outage landed (the record's write queue retried it).
    const stored = (await services.store.records.chat(live.consultId)).map((m) => m.text);
    expect(stored).toEqual([...posts.filter((p) => p.ok).map((p) => p.text), 'after the outage']);
    await timeUntil(
      async () => {
        const mine = (await services.store.records.participations(live.consultId)).filter(
          (p) => p.peerId === leaver.join.peerId,
        );
        return mine.length === 1 && mine[0]!.leftAt !== null;
      },
      15_000,
      'the leave written after the outage',
    );
    for (const node of [a, b, c]) expect(await allAlive(node)).toBe(true);
    console.info(
      `PostgreSQL down ${upAt - downAt} ms; chat, join and the record worked again ${Date.now() - upAt} ms after it was back`,
    );
  }, 60_000);
});
