/**
 * Fan-out to WebRTC subscribers: one synthetic 500 kbit/s VP8 stream (the traffic agent's,
 * the same as the forwarder rows) forwarded to N browser subscribers, each its own
 * RTCPeerConnection (ICE, DTLS-SRTP, RTCP, NACK) in one headless Chromium page
 * (bench/pages/fanout.ts). Our side: gateway peers whose receive transports are made by
 * Peer.createTransport on the worker's WebRtcServer (the consult's transport settings), their
 * consumers resumed as the signalling does; Janus side: VideoRoom subscribers (attach, join as
 * subscriber, start) on its WebSocket API. The subscribers' own CPU shares the machine: a
 * probe that loses packets while the machine is saturated and the SFU is not at its CPU limit
 * halts the search ("not reached at N, subscriber-bound") instead of counting as a failure.
 * Chromium decodes received video even with no sink (measured: a loopback call's receiver
 * decoded 75 of 75 frames with no <video>); the synthetic VP8 frames are received and assembled
 * but do not decode (framesDecoded stays 0, recorded per probe), so each subscriber costs its
 * transport, SRTP, RTCP and jitter buffer, not a decoder: more subscribers fit on the machine.
 */
import os from 'node:os';
import type { Page } from 'playwright-core';
import type { types } from 'mediasoup';
import type { RunReport } from '../agents/traffic.js';
import type { Agent } from '../lib/agent.js';
import { launchBrowser, type BenchBrowser } from '../lib/browser.js';
import { JanusApi } from '../lib/janus.js';
import { busySeconds } from '../lib/load.js';
import { cpuSeconds, cpuSecondsOf, descendants, rssMiB } from '../lib/proc.js';
import type { Services } from '../lib/section.js';
import { JanusRoom, inBatches, plainIngest } from '../lib/sfu.js';
import { findLimit, type LimitSearch } from '../lib/stats.js';
import type { SubscriberStats } from '../pages/fanout.js';
import type { ProducerAppData } from '../../src/sfu/Peer.js';
import { fit, MAX_CPU, MAX_LOSS, type Series, type Step } from './fanout.js';

/** The machine counts as saturated above this share of all its cores over a probe's window. */
export const SATURATED = 0.9;
/** Subscribers set up concurrently (each is a full ICE + DTLS handshake in the one page). */
const SETUP_WIDTH = 8;

/** A probe of the WebRTC fan-out: the fan-out step plus the subscribers' side. */
export interface WebrtcStep extends Step {
  /** CPU of all the browser's processes (the subscribers), percent of one core. */
  subscriberCpu: number;
  /** The whole machine's busy CPU over the window, percent of one core (cores × 100 max). */
  machineCpu: number;
  saturated: boolean;
  /** Subscribers that received nothing in the window (a stalled path: a failure, not 0 % loss). */
  stalled: number;
  /** Frames Chromium decoded / received in the window (the synthetic VP8 does not decode). */
  framesDecoded: number;
  framesReceived: number;
  nacks: number;
  plis: number;
  /** True when the probe halted the search: loss with the machine, not the SFU, out of CPU. */
  subscriberBound: boolean;
  /** Why the subscribers could not be set up at this N (the probe then halts the search). */
  setupError?: string;
}

/** The record of a probe whose subscribers could not all be set up. */
const setupFailed = (n: number, error: string): WebrtcStep => ({
  n,
  sfuCpu: 0,
  nodeCpu: 0,
  agentCpu: 0,
  sfuRssMiB: 0,
  nodeRssMiB: 0,
  loss: 0,
  received: 0,
  expected: 0,
  receiverDrops: 0,
  setupMs: 0,
  pass: false,
  subscriberCpu: 0,
  machineCpu: 0,
  saturated: false,
  stalled: 0,
  framesDecoded: 0,
  framesReceived: 0,
  nacks: 0,
  plis: 0,
  subscriberBound: false,
  setupError: error,
});

export interface WebrtcSeries extends Series {
  steps: WebrtcStep[];
  /** Set when the search ended on a subscriber-bound probe: the N it happened at. */
  subscriberBoundAt: number | null;
}

/** One system's subscribers, added and removed by index in the shared page. */
interface Subscribers {
  sfuPid: number;
  /** The sending SSRC the traffic agent uses, the port it sends to, and its RTCP latch port. */
  ingest: { port: number; ssrc: number; rtcpPort?: number };
  add(i: number): Promise<void>;
  remove(i: number): Promise<void>;
  teardown(): Promise<void>;
}

const VIDEO_SSRC = 0x3000;

/** Gateway subscribers: peers of one consult room fed by a plain-RTP ingest. */
async function gatewaySubscribers(s: Services, page: Page): Promise<Subscribers> {
  const room = await s.gateway.gateway.rooms.getOrCreate(`bench-fanout-webrtc-${Date.now()}`);
  // A seated publisher keeps the room open while subscribers come and go.
  const publisher = room.join({
    userId: 'bench-publisher',
    displayName: 'bench publisher',
    role: 'doctor',
  });
  const ingest = await plainIngest(room.router, [{ kind: 'video', ssrc: VIDEO_SSRC }]);
  const producer = ingest.producers[0]! as types.Producer<ProducerAppData>;
  Object.assign(producer.appData, { source: 'camera', peerId: publisher.id });
  const connects = new Map<string, (dtls: types.DtlsParameters) => Promise<void>>();
  await page.exposeFunction('benchConnect', (id: string, dtls: types.DtlsParameters) =>
    connects.get(id)!(dtls),
  );
  const caps = (await page.evaluate(
    (routerCaps) =>
      (
        window as unknown as {
          __fanout: { load(c: unknown): Promise<unknown> };
        }
      ).__fanout.load(routerCaps),
    room.router.rtpCapabilities,
  )) as types.RtpCapabilities;
  const peers = new Map<number, ReturnType<typeof room.join>>();
  const remove = async (i: number) => {
    await removeInPage(page, `g${i}`);
    peers.get(i)?.close('left');
    peers.delete(i);
    connects.delete(`g${i}`);
  };
  return {
    sfuPid: s.gateway.workerPid,
    ingest: { port: ingest.port, ssrc: VIDEO_SSRC },
    async add(i) {
      const peer = room.join({ userId: `bench-sub-${i}`, displayName: `sub ${i}`, role: 'guest' });
      peers.set(i, peer);
      const t = await peer.createTransport('recv');
      connects.set(`g${i}`, (dtlsParameters) => t.connect({ dtlsParameters }));
      const consumer = await peer.consume(producer, caps);
      await page.evaluate(
        ([id, init]) =>
          (
            window as unknown as { __fanout: { addGateway(id: string, x: unknown): Promise<void> } }
          ).__fanout.addGateway(id, init),
        [
          `g${i}`,
          {
            transport: {
              id: t.id,
              iceParameters: t.iceParameters,
              iceCandidates: t.iceCandidates,
              dtlsParameters: t.dtlsParameters,
            },
            consumer: {
              id: consumer.id,
              producerId: producer.id,
              kind: consumer.kind,
              rtpParameters: consumer.rtpParameters,
            },
          },
        ] as const,
      );
      // What the resumeConsumer event does once the client has its consumer.
      await peer.bandwidth.resume(consumer.id);
    },
    remove,
    async teardown() {
      for (const i of [...peers.keys()]) await remove(i);
      ingest.transport.close();
      publisher.close('left');
      room.close('consult_ended');
    },
  };
}

/** Janus subscribers: VideoRoom subscribers of one remote publisher fed with the same stream. */
async function janusSubscribers(s: Services, page: Page): Promise<Subscribers> {
  const api = await JanusApi.open(s.janus!.httpUrl);
  const room = await JanusRoom.create(api);
  const pub = await room.addPublisher(1, ['video']);
  const ids = new Set<number>();
  const remove = async (i: number) => {
    await removeInPage(page, `j${i}`);
    ids.delete(i);
  };
  return {
    sfuPid: s.janus!.pid,
    ingest: { port: pub.port, ssrc: pub.ssrcs[0]!, rtcpPort: pub.rtcpPort ?? undefined },
    async add(i) {
      ids.add(i);
      await page.evaluate(
        ([id, ws, r]) =>
          (
            window as unknown as {
              __fanout: {
                addJanus(id: string, ws: string, room: number, feed: number): Promise<void>;
              };
            }
          ).__fanout.addJanus(id, ws, r, 1),
        [`j${i}`, s.janus!.wsUrl, room.room] as const,
      );
    },
    remove,
    async teardown() {
      for (const i of [...ids]) await remove(i);
      await room.destroy();
      await api.close();
    },
  };
}

const removeInPage = (page: Page, id: string) =>
  page.evaluate(
    (x) => (window as unknown as { __fanout: { remove(id: string): void } }).__fanout.remove(x),
    id,
  );

const pageStats = (page: Page) =>
  page.evaluate(() =>
    (window as unknown as { __fanout: { stats(): Promise<SubscriberStats[]> } }).__fanout.stats(),
  );

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs one probe: n subscribers, measured over one window. */
async function probe(
  s: Services,
  traffic: Agent,
  page: Page,
  subs: Subscribers,
  current: Set<number>,
  n: number,
  cfg: { warmupMs: number; stepMs: number },
  label: string,
): Promise<WebrtcStep> {
  const setup0 = Date.now();
  const extra = [...current].filter((i) => i >= n);
  await inBatches(extra, SETUP_WIDTH, async (i) => {
    await subs.remove(i);
    current.delete(i);
  });
  const missing = Array.from({ length: n }, (_, i) => i).filter((i) => !current.has(i));
  await inBatches(missing, SETUP_WIDTH, async (i) => {
    await subs.add(i);
    current.add(i);
  });
  const setupMs = Date.now() - setup0;
  const running = traffic.call<RunReport>('run', {
    streams: [{ kind: 'video', ...subs.ingest }],
    warmupMs: cfg.warmupMs,
    measureMs: cfg.stepMs,
  });
  await sleep(cfg.warmupMs);
  const browserPids = descendants(process.pid, /chrom/i);
  const before = await pageStats(page);
  const t0 = performance.now();
  const pids = [subs.sfuPid, process.pid, traffic.pid];
  const cpu0 = pids.map(cpuSeconds);
  const browser0 = cpuSecondsOf(browserPids);
  const busy0 = busySeconds();
  await sleep(cfg.stepMs);
  const elapsed = (performance.now() - t0) / 1000;
  const pct = (a: number, b: number) => ((b - a) / elapsed) * 100;
  const [sfuCpu, nodeCpu, agentCpu] = pids.map((pid, k) => pct(cpu0[k]!, cpuSeconds(pid)));
  const subscriberCpu = pct(browser0, cpuSecondsOf(browserPids));
  const machineCpu = pct(busy0, busySeconds());
  const after = await pageStats(page);
  await running;
  // Loss as each subscriber's Chromium counts it (sequence gaps after its NACKs), summed.
  const first = new Map(before.map((x) => [x.id, x]));
  const d = { received: 0, lost: 0, decoded: 0, frames: 0, nacks: 0, plis: 0 };
  let connected = 0;
  let stalled = 0;
  for (const b of after) {
    if (b.connected) connected++;
    const a = first.get(b.id);
    if (!a) continue;
    if (b.packetsReceived === a.packetsReceived) stalled++;
    d.received += b.packetsReceived - a.packetsReceived;
    d.lost += Math.max(0, b.packetsLost - a.packetsLost);
    d.decoded += b.framesDecoded - a.framesDecoded;
    d.frames += b.framesReceived - a.framesReceived;
    d.nacks += b.nackCount - a.nackCount;
    d.plis += b.pliCount - a.pliCount;
  }
  const received = d.received;
  const expected = d.received + d.lost;
  const loss = expected > 0 ? d.lost / expected : 1;
  const saturated = machineCpu >= SATURATED * os.cpus().length * 100;
  const connectedAll = connected >= n;
  const pass = connectedAll && stalled === 0 && loss < MAX_LOSS && sfuCpu! < MAX_CPU;
  const subscriberBound = !pass && connectedAll && saturated && sfuCpu! < MAX_CPU;
  const step: WebrtcStep = {
    n,
    sfuCpu: sfuCpu!,
    nodeCpu: nodeCpu!,
    agentCpu: agentCpu!,
    sfuRssMiB: rssMiB(subs.sfuPid),
    nodeRssMiB: rssMiB(process.pid),
    loss,
    received,
    expected,
    receiverDrops: 0,
    setupMs,
    pass,
    subscriberCpu,
    machineCpu,
    saturated,
    stalled,
    framesDecoded: d.decoded,
    framesReceived: d.frames,
    nacks: d.nacks,
    plis: d.plis,
    subscriberBound,
  };
  s.log(
    `${label} N=${n}: sfu ${sfuCpu!.toFixed(1)}% cpu, subscribers ${subscriberCpu.toFixed(0)}%, ` +
      `machine ${machineCpu.toFixed(0)}%, loss ${(loss * 100).toFixed(3)}% (${received}/${expected}), ` +
      `stalled ${stalled}, connected ${connected}/${n}, ` +
      `decoded ${step.framesDecoded}/${step.framesReceived} frames → ` +
      (pass ? 'pass' : subscriberBound ? 'subscriber-bound (search ends)' : 'FAIL'),
  );
  return step;
}

/** Bisects the largest N of one system's WebRTC subscribers (see probe for the verdicts). */
async function webrtcSeries(
  s: Services,
  traffic: Agent,
  page: Page,
  subs: Subscribers,
  search: LimitSearch,
  cfg: { warmupMs: number; stepMs: number; budgetMs: number },
  label: string,
): Promise<WebrtcSeries> {
  const t0 = Date.now();
  const current = new Set<number>();
  let found;
  try {
    found = await findLimit(
      search,
      async (n) => {
        try {
          const step = await probe(s, traffic, page, subs, current, n, cfg, label);
          return { pass: step.pass, result: step, halt: step.subscriberBound };
        } catch (err) {
          // Subscribers that cannot connect in time on a saturated machine say nothing of the SFU.
          s.log(`${label} N=${n}: set-up failed (${(err as Error).message}): search ends`);
          return { pass: false, result: setupFailed(n, (err as Error).message), halt: true };
        }
      },
      () => Date.now() - t0 > cfg.budgetMs,
    );
  } finally {
    await subs.teardown();
  }
  const steps = found.probes.map((p) => p.result);
  const failed = found.failedAt === null ? null : steps.find((x) => x.n === found.failedAt)!;
  const bound = found.haltedAt;
  const stoppedBy = failed
    ? failed.sfuCpu >= MAX_CPU
      ? `CPU ${failed.sfuCpu.toFixed(0)}% at N=${failed.n}`
      : `loss ${(failed.loss * 100).toFixed(2)}%, ${failed.stalled} stalled at N=${failed.n}`
    : bound !== null && steps.find((x) => x.n === bound)!.setupError
      ? `subscribers could not be set up at N=${bound}: ${steps.find((x) => x.n === bound)!.setupError}`
      : bound !== null
        ? `subscriber-bound at N=${bound}: the machine was saturated (the subscribers' browser used ` +
          `${steps.find((x) => x.n === bound)!.subscriberCpu.toFixed(0)}% CPU) before the SFU reached its limit`
        : found.stopped
          ? `time budget (${cfg.budgetMs / 1000} s) after N=${found.limit}`
          : `search range ends at ${search.max}`;
  const passing = steps.filter((x) => x.pass).sort((a, b) => a.n - b.n);
  const line = fit(passing.map((x) => ({ x: x.n, y: x.sfuCpu })));
  const slope = line && line.slope > 0 ? line.slope : null;
  return {
    steps,
    limit: found.limit,
    reached: found.reached,
    failedAt: found.failedAt,
    cpuPerStream: slope,
    extrapolatedN: slope && line ? Math.floor((MAX_CPU - line.intercept) / slope) : null,
    stoppedBy,
    subscriberBoundAt: bound,
  };
}

/**
 * Runs the gateway's and Janus's WebRTC fan-out series in one subscriber browser; Janus's is
 * null (with the reason) when it cannot run.
 */
export async function webrtcFanout(
  s: Services,
  traffic: Agent,
  search: LimitSearch,
  cfg: { warmupMs: number; stepMs: number; budgetMs: number },
): Promise<{ gateway: WebrtcSeries; janus: WebrtcSeries | null; janusReason: string | null }> {
  let browser: BenchBrowser | null = null;
  const open = async () => {
    const page = await browser!.context.newPage();
    page.on('pageerror', (err) => s.log(`[fanout page] ${err.message}`));
    await page.goto(`${s.bare.url}/fanout.html`);
    await page.waitForFunction(() => '__fanout' in window);
    return page;
  };
  try {
    browser = await launchBrowser();
    const gwPage = await open();
    const gateway = await webrtcSeries(
      s,
      traffic,
      gwPage,
      await gatewaySubscribers(s, gwPage),
      search,
      cfg,
      'fanout video.webrtc gateway',
    );
    await gwPage.close();
    let janus: WebrtcSeries | null = null;
    let janusReason = s.janusReason;
    if (s.janus) {
      try {
        const jPage = await open();
        janus = await webrtcSeries(
          s,
          traffic,
          jPage,
          await janusSubscribers(s, jPage),
          search,
          cfg,
          'fanout video.webrtc janus',
        );
        await jPage.close();
      } catch (err) {
        janusReason = `Janus WebRTC run failed: ${(err as Error).message}`;
      }
    }
    return { gateway, janus, janusReason };
  } finally {
    await browser?.close();
  }
}
