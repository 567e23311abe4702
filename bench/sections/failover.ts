/**
 * Cluster figures that need the signalling (issue 14, item 7): three gateway processes (a, b,
 * c), one Redis, one PostgreSQL database.
 *
 * - Cross-node join time: a participant connects, joins, consumes a sender's microphone and
 *   receives its first RTP packet, through the sender's node (same node) or another one (the
 *   producer is piped over on the first consume), interleaved, the order alternating per pair.
 * - Failover gap: a sender on a or b, its receiver on c. The sender's node is SIGKILLed; the
 *   sender's client (Socket.IO with the browser client's reconnection policy and probe,
 *   client/src/failover.ts) finds the node gone, moves to the other node, takes its seat with
 *   its resume secret and produces again; the receiver consumes the new producer when told.
 *   The gap is the last packet received before the kill to the first one after. The killed
 *   node restarts meanwhile, for the next kill. Plain RTP stands in for WebRTC, so a
 *   browser's ICE and DTLS set-up (about 0.1–0.3 s on loopback) is not in the figure.
 */
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { io, type Socket } from 'socket.io-client';
import { NODE_GONE_AFTER_FAILURES, RECONNECT, nodeAnswers } from '../../client/src/failover.js';
import { loadConfig } from '../../src/config.js';
import { createServices, type Services as GatewayServices } from '../../src/gateway.js';
import { createLogger } from '../../src/logger.js';
import type { JoinResponse } from '../../src/protocol/index.js';
import { connectClient, type TestClient } from '../../test/support/client.js';
import {
  startClusterNode,
  startRedis,
  type ClusterNodeProcess,
} from '../../test/support/cluster.js';
import { TEST_PASSWORD, TEST_SECRET } from '../../test/support/gateway.js';
import { startNodes } from '../../test/support/nodes.js';
import { createTestDatabase } from '../../test/support/postgres.js';
import { audioRtpParameters } from '../../test/support/rtp.js';
import { sendRtp, type RtpSender } from '../../test/support/rtpSocket.js';
import type { Section } from '../lib/section.js';
import { summarise } from '../lib/stats.js';
import { scheduledConsult } from '../../test/support/consultRow.js';

/** Issue 14's figures. */
export const GAP_P50_TARGET_MS = 3000;
export const GAP_MAX_TARGET_MS = 5000;
export const JOIN_RATIO_TARGET = 1.15;

/** The A/B's old policy: the same backoff, but the node is left only after failed reconnects (no probe). */
const NO_PROBE = { ...RECONNECT };

interface TimedReceiver {
  port: number;
  arrivals: number[];
  close(): void;
}

/** A UDP socket recording when each RTP packet (not RTCP) arrives, on performance.now(). */
async function timedReceiver(): Promise<TimedReceiver> {
  const socket = dgram.createSocket('udp4');
  const arrivals: number[] = [];
  socket.on('message', (m) => {
    if (m.length >= 12 && m[0]! >> 6 === 2 && !(m[1]! >= 192 && m[1]! <= 223)) {
      arrivals.push(performance.now());
    }
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { port: socket.address().port, arrivals, close: () => socket.close() };
}

/** A timed join's steps, ms from its start: connected, join answered, receive transport made, consume answered, consumer resumed, first packet. */
const JOIN_STEPS = ['connected', 'joined', 'transport', 'consumed', 'resumed', 'first'] as const;
type JoinSteps = Record<(typeof JOIN_STEPS)[number], number>;

/** The median of each step over the joins. */
function stepMedians(joins: JoinSteps[]): Partial<JoinSteps> {
  return Object.fromEntries(
    JOIN_STEPS.map((k) => [k, summarise(joins.map((j) => j[k])).p50 ?? undefined]),
  );
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function until(check: () => boolean | Promise<boolean>, ms: number, what: string) {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(20);
  }
}

export const failoverSection: Section = {
  name: 'failover',
  specs: [
    {
      id: 'gap.p50',
      label: 'failover gap, p50: last packet before the SIGKILL of the sender’s node → first after',
      unit: 'ms',
      better: 'lower',
      baselineLabel: 'issue 14 target: ≤ 3 s',
    },
    {
      id: 'gap.max',
      label: 'failover gap, max over the kills',
      unit: 'ms',
      better: 'lower',
      baselineLabel: 'issue 14 target: ≤ 5 s',
    },
    {
      id: 'join.p50',
      label: 'join → first packet, p50: sender on another node (piped on first consume)',
      unit: 'ms',
      better: 'lower',
      baselineLabel: 'sender on the same node (interleaved; target ≤ 1.15×)',
    },
  ],
  async run(s) {
    const { kills, joins } = s.opts.failover;
    const ab = process.env.BENCH_FAILOVER_AB === '1';
    const redis = await startRedis();
    const db = process.env.DATABASE_URL
      ? { url: process.env.DATABASE_URL, drop: async () => undefined }
      : await createTestDatabase();
    const sharedDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-bench-failover-'));
    const env = {
      DATABASE_URL: db.url,
      NODE_DEAD_AFTER_SECONDS: '5',
      RECONNECT_GRACE_SECONDS: '5',
      LOG_LEVEL: 'error',
    };
    const cleanup: (() => unknown)[] = [];
    let services: GatewayServices | undefined;
    const nodes = new Map<string, ClusterNodeProcess>();
    try {
      services = await createServices(
        loadConfig({
          DATA_DIR: sharedDir,
          JWT_SECRET: TEST_SECRET,
          SCRYPT_COST: '1024',
          LOG_LEVEL: 'silent',
          DATABASE_URL: db.url,
        }),
        createLogger('silent'),
      );
      const svc = services;
      s.log('failover: starting nodes a, b and c (separate processes, one Redis, PostgreSQL)');
      for (const n of (await startNodes(['a', 'b', 'c'], redis.url, env)).nodes.values())
        nodes.set(n.nodeId, n);
      const node = (id: string) => nodes.get(id)!;
      const user = (role: 'doctor' | 'admin', name: string) =>
        svc.auth.createUser(
          { role, name, email: `${name}.${Date.now()}@bench.local`, password: TEST_PASSWORD },
          null,
          null,
        );
      const [host, sender, joiner] = [
        await user('doctor', 'host'),
        await user('admin', 'sender'),
        await user('admin', 'joiner'),
      ];
      const now = Date.now();
      const consultId = `bench-failover-${now}`;
      await svc.store.consults.insert(
        scheduledConsult(consultId, host.id, {
          title: 'Bench failover',
          patientRef: 'P-BENCH',
          scheduledEnd: now + 3 * 3600_000,
        }),
      );
      const grant = async (u: { id: string }) =>
        (await svc.consults.mintOperatorGrant(consultId, u.id)).token;
      const clients: (TestClient | Socket)[] = [];
      cleanup.push(() => clients.forEach((c) => c.close()));

      // The receiver: the host on c.
      const hostClient = await connectClient(node('c').url, await grant(host));
      clients.push(hostClient);
      const hostJoin = await hostClient.call<JoinResponse>('join', { consultId });
      const rx = await timedReceiver();
      cleanup.push(() => rx.close());
      let consumedAt = Infinity;
      const consumeOnC = async (producerId: string) => {
        await node('c').call('plainTransport', {
          consultId,
          peerId: hostJoin.peerId,
          direction: 'recv',
          port: rx.port,
        });
        const { consumerId } = await hostClient.call<{ consumerId: string }>('consume', {
          producerId,
          rtpCapabilities: hostJoin.routerRtpCapabilities,
        });
        await hostClient.call('resumeConsumer', { consumerId });
        consumedAt = performance.now();
      };

      // The sender, with the browser client's reconnection policy and node move.
      let rtp: RtpSender | undefined;
      cleanup.push(() => rtp?.stop());
      let ssrc = 7000;
      let carrier = 'a';
      // A/B: kill k's reconnects use the policy of the socket opened at the move before it.
      const policyOf = (k: number) => (ab && k % 2 === 1 ? NO_PROBE : RECONNECT);
      let policy: typeof RECONNECT | typeof NO_PROBE = policyOf(0);
      let resumeSecret: string | undefined;
      let producerId = '';
      let seated: () => void = () => undefined;
      const senderToken = await grant(sender);
      const open = (id: string) => {
        const opened = policy;
        const socket = io(node(id).url, {
          auth: { token: senderToken },
          forceNew: true,
          transports: ['websocket'],
          ...opened,
        });
        clients.push(socket);
        let failures = 0;
        let moved = false;
        // Gone: the other of a and b (c carries the receiver and is never killed).
        const move = () => {
          if (moved) return;
          moved = true;
          socket.removeAllListeners();
          socket.disconnect();
          open(id === 'a' ? 'b' : 'a');
        };
        socket.on('connect_error', () => {
          if (++failures >= NODE_GONE_AFTER_FAILURES) move();
        });
        // As the browser client does: a node that no longer answers at all is left at once
        // (the A/B's old policy waits for the failed reconnects, as before the probe).
        socket.on('disconnect', (reason) => {
          if (
            opened !== RECONNECT ||
            (reason !== 'transport close' && reason !== 'transport error')
          )
            return;
          void nodeAnswers(node(id).url).then((answers) => {
            if (!answers && !socket.connected) move();
          });
        });
        socket.on('connect', () => {
          failures = 0;
          void (async () => {
            const join = (await socket.emitWithAck('join', {
              consultId,
              ...(resumeSecret ? { resumeSecret } : {}),
            })) as { ok: boolean; data: JoinResponse };
            if (!join.ok) throw new Error(`sender's join failed: ${JSON.stringify(join)}`);
            resumeSecret = join.data.resumeSecret;
            const { transportId, port } = await node(id).call<{
              transportId: string;
              port: number;
            }>('plainTransport', {
              consultId,
              peerId: join.data.peerId,
              direction: 'send',
            });
            ssrc += 1;
            const produced = (await socket.emitWithAck('produce', {
              transportId,
              kind: 'audio',
              rtpParameters: audioRtpParameters(ssrc),
              appData: { source: 'mic' },
            })) as { ok: boolean; data: { producerId: string } };
            if (!produced.ok)
              throw new Error(`sender's produce failed: ${JSON.stringify(produced)}`);
            rtp?.stop();
            rtp = sendRtp(port, ssrc, 1_000_000);
            producerId = produced.data.producerId;
            carrier = id;
            seated();
          })().catch((err: Error) => s.log(`failover: sender on ${id}: ${err.message}`));
        });
      };
      // Only the sender produces: the receiver consumes each of its producers when told.
      hostClient.socket.on('newProducer', (m: { producerId: string }) => {
        void consumeOnC(m.producerId).catch((err: Error) =>
          s.log(`failover: receiver: ${err.message}`),
        );
      });
      const firstSeat = new Promise<void>((r) => (seated = r));
      cleanup.push(() => seated());
      open('a');
      await firstSeat;
      await until(() => rx.arrivals.length > 0, 15_000, 'first RTP on c');

      // Join time: the joiner consumes the sender's microphone through a (same) or b (other).
      const joinerToken = await grant(joiner);
      /** Each join's steps, ms from its start (the breakdown in the details). */
      const steps: Record<'same' | 'other', JoinSteps[]> = { same: [], other: [] };
      const timeJoin = async (id: string): Promise<number> => {
        const r = await timedReceiver();
        const t0 = performance.now();
        const at = () => performance.now() - t0;
        const cl = await connectClient(node(id).url, joinerToken);
        try {
          const connected = at();
          const join = await cl.call<JoinResponse>('join', { consultId });
          const joined = at();
          await node(id).call('plainTransport', {
            consultId,
            peerId: join.peerId,
            direction: 'recv',
            port: r.port,
          });
          const transport = at();
          const { consumerId } = await cl.call<{ consumerId: string }>('consume', {
            producerId,
            rtpCapabilities: join.routerRtpCapabilities,
          });
          const consumed = at();
          await cl.call('resumeConsumer', { consumerId });
          const resumed = at();
          await until(() => r.arrivals.length > 0, 10_000, 'joiner’s first packet');
          const first = r.arrivals[0]! - t0;
          steps[id === 'a' ? 'same' : 'other'].push({
            connected,
            joined,
            transport,
            consumed,
            resumed,
            first,
          });
          return first;
        } finally {
          await cl.request('leave', {}).catch(() => undefined);
          cl.close();
          r.close();
          await sleep(300); // the pipe to b is released with its last consumer
        }
      };
      const same: number[] = [];
      const other: number[] = [];
      s.log(`failover: ${joins} joins per side, interleaved`);
      for (let i = 0; i < joins; i++) {
        const order = i % 2 === 0 ? ['a', 'b'] : ['b', 'a'];
        for (const id of order) (id === 'a' ? same : other).push(await timeJoin(id));
      }

      // Failover: kill the sender's node, measure, restart it for the next kill.
      const gaps: { policy: string; gapMs: number }[] = [];
      const total = ab ? kills * 2 : kills;
      for (let k = 0; k < total; k++) {
        const used = policy;
        const victim = carrier;
        const survivor = victim === 'a' ? 'b' : 'a';
        await until(
          () => rx.arrivals.at(-1)! > performance.now() - 100,
          10_000,
          'media before the kill',
        );
        const reseated = new Promise<void>((r) => (seated = r));
        consumedAt = Infinity;
        const tKill = performance.now();
        await node(victim).crash();
        policy = policyOf(k + 1);
        await Promise.race([
          reseated,
          sleep(20_000).then(() => Promise.reject(new Error('the sender did not come back'))),
        ]);
        await until(() => rx.arrivals.at(-1)! > consumedAt, 15_000, 'media after the move');
        const last = rx.arrivals.filter((t) => t <= tKill).at(-1)!;
        const first = rx.arrivals.find((t) => t > consumedAt)!;
        gaps.push({ policy: used === RECONNECT ? 'new' : 'old', gapMs: first - last });
        s.log(
          `failover: kill ${k + 1}/${total} of ${victim}: gap ${Math.round(first - last)} ms (${used === RECONNECT ? 'new' : 'old'} policy)`,
        );
        // Restarted once the gap is measured, so that its start-up does not load the move.
        nodes.set(
          victim,
          await startClusterNode(victim, redis.url, {
            ...env,
            PIPE_PORT_MIN: String(44000 + k * 20),
            PIPE_PORT_MAX: String(44000 + k * 20 + 9),
          }),
        );
        await until(
          async () =>
            (await node(survivor).call<{ id: string; alive: boolean }[]>('nodes')).some(
              (n) => n.id === victim && n.alive,
            ),
          20_000,
          `${victim} listed again`,
        );
      }
      const mine = gaps.filter((g) => g.policy === 'new').map((g) => g.gapMs);
      const gap = summarise(mine);
      const max = mine.length ? Math.max(...mine) : null;
      const j = { same: summarise(same), other: summarise(other) };
      const breakdown = {
        same: stepMedians(steps.same),
        other: stepMedians(steps.other),
      };
      s.log(
        `failover: join steps, p50 ms from the start (same node | other node): ${JOIN_STEPS.map((k) => `${k} ${breakdown.same[k]?.toFixed(1)} | ${breakdown.other[k]?.toFixed(1)}`).join(', ')}`,
      );
      const ratio = j.other.p50 !== null && j.same.p50 ? j.other.p50 / j.same.p50 : null;
      const verdict = (ok: boolean) => (ok ? 'meets' : 'misses');
      return {
        values: {
          'gap.p50': {
            value: gap.p50,
            baseline: GAP_P50_TARGET_MS,
            note: `${mine.length} kills; ${verdict((gap.p50 ?? Infinity) <= GAP_P50_TARGET_MS)} the target`,
          },
          'gap.max': {
            value: max,
            baseline: GAP_MAX_TARGET_MS,
            note: `${verdict((max ?? Infinity) <= GAP_MAX_TARGET_MS)} the target`,
          },
          'join.p50': {
            value: j.other.p50,
            baseline: j.same.p50,
            note: `n = ${joins} per side, interleaved; ratio ${ratio?.toFixed(2)}, ${verdict((ratio ?? Infinity) <= JOIN_RATIO_TARGET)} the ≤ ${JOIN_RATIO_TARGET}× target`,
          },
        },
        details: {
          unit: 'ms',
          gaps,
          gap,
          ...(ab
            ? { oldPolicy: summarise(gaps.filter((g) => g.policy === 'old').map((g) => g.gapMs)) }
            : {}),
          join: j,
          joinSteps: breakdown,
          ratio,
          note: 'three gateway processes on one machine, one Redis, PostgreSQL; plain RTP (no ICE/DTLS) stands in for the browser; the sender’s client uses client/src/failover.ts',
        },
      };
    } finally {
      for (const fn of cleanup) fn();
      await Promise.all([...nodes.values()].map((n) => n.stop().catch(() => undefined)));
      await services?.store.close();
      await redis.stop();
      await db.drop();
      fs.rmSync(sharedDir, { recursive: true, force: true });
    }
  },
};
