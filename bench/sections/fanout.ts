/**
 * Fan-out capacity: one synthetic producer (500 kbit/s VP8, or 32 kbit/s opus) forwarded
 * to N receivers, N bisected, on the gateway's worker and on Janus VideoRoom: first to WebRTC
 * subscribers in a browser (fanoutWebrtc.ts: the like-for-like rows), then to SRTP
 * PlainTransport consumers vs Janus SRTP RTP forwarders (the forwarders are a lower bound of
 * Janus's cost: no RTCP, no NACK buffer). Both systems get the same stream and the same
 * receivers. Per step: the SFU process's CPU, the gateway (Node) process's CPU, RSS, loss.
 */
import type { RunReport, StreamSpec } from '../agents/traffic.js';
import type { Agent } from '../lib/agent.js';
import type { types } from 'mediasoup';
import { JanusApi } from '../lib/janus.js';
import { plainReceiverCapabilities, streamKey } from '../lib/rtp.js';
import { CpuWindow, rssMiB } from '../lib/proc.js';
import type { Measured, Section, Services } from '../lib/section.js';
import { JanusRoom, inBatches, plainEgress, plainIngest } from '../lib/sfu.js';
import { findLimit, type LimitResult, type LimitSearch } from '../lib/stats.js';
import { webrtcFanout } from './fanoutWebrtc.js';

export const MAX_LOSS = 0.001;
export const MAX_CPU = 85;

/** An SFU under test whose load is set in units (consumers, or consults). */
export interface LoadTarget {
  sfuPid: number;
  /** Grows or shrinks the load to n units. */
  resize(n: number): Promise<void>;
  /** What the traffic agent sends at the current size. */
  streams(): StreamSpec[];
  /** How many of the monitored receivers are in use at the current size. */
  monitoredInUse(): number;
  /** The sending streams (port and SSRC) whose packets monitored receiver i gets. */
  sources(i: number): { port: number; ssrc: number }[];
  teardown(): Promise<void>;
}

/** Where the i-th receiving endpoint sends: a monitored (counted) port, or the sink. */
export const destination = (i: number, monitored: number[], sinkPort: number) =>
  i < monitored.length ? monitored[i]! : sinkPort;

export interface Step {
  n: number;
  sfuCpu: number;
  nodeCpu: number;
  agentCpu: number;
  sfuRssMiB: number;
  nodeRssMiB: number;
  loss: number;
  received: number;
  expected: number;
  /** Receive-buffer drops at our own counting sockets (the load generator's limit). */
  receiverDrops: number;
  setupMs: number;
  pass: boolean;
}

export interface Series {
  /** Every probe, in the order the search ran them. */
  steps: Step[];
  /** Largest passing N: the limit when reached, else a lower bound. */
  limit: number;
  /** True when some probe failed, so `limit` is measured; false: "not reached at `limit`". */
  reached: boolean;
  /** Smallest failing N (null when not reached). */
  failedAt: number | null;
  /** Percent of one core per unit of load (slope over the passing probes). */
  cpuPerStream: number | null;
  /** N at which the CPU line reaches MAX_CPU. */
  extrapolatedN: number | null;
  stoppedBy: string;
}

/** Least-squares slope and intercept of y over x. */
export function fit(
  points: { x: number; y: number }[],
): { slope: number; intercept: number } | null {
  if (points.length === 0) return null;
  if (points.length === 1) return { slope: points[0]!.y / points[0]!.x, intercept: 0 };
  const n = points.length;
  const mx = points.reduce((a, p) => a + p.x, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  const sxx = points.reduce((a, p) => a + (p.x - mx) ** 2, 0);
  if (sxx === 0) return null;
  const slope = points.reduce((a, p) => a + (p.x - mx) * (p.y - my), 0) / sxx;
  return { slope, intercept: my - slope * mx };
}

/** Runs one probe: the target at n units, measured over one window. */
async function probe(
  s: Services,
  traffic: Agent,
  target: LoadTarget,
  n: number,
  cfg: { warmupMs: number; stepMs: number },
  label: string,
): Promise<Step> {
  const setup0 = Date.now();
  await target.resize(n);
  const setupMs = Date.now() - setup0;
  const running = traffic.call<RunReport>('run', {
    streams: target.streams(),
    warmupMs: cfg.warmupMs,
    measureMs: cfg.stepMs,
  });
  await new Promise((r) => setTimeout(r, cfg.warmupMs));
  const cpu = new CpuWindow([target.sfuPid, process.pid, traffic.pid]);
  await new Promise((r) => setTimeout(r, cfg.stepMs));
  const shares = cpu.stop();
  const report = await running;
  const counted = report.receivers.slice(0, target.monitoredInUse());
  // Expected: what was sent for the receiver's sources in the window (a lagging SFU that
  // forwards late or not at all shows here), or its sequence-number range if larger.
  let received = 0;
  let expected = 0;
  counted.forEach((r, i) => {
    const sent = target
      .sources(i)
      .reduce((a, src) => a + (report.sentPerStream[streamKey(src)] ?? 0), 0);
    const want = Math.max(sent, r.expected);
    expected += want;
    received += Math.min(r.received, want);
  });
  const loss = expected > 0 ? 1 - received / expected : 1;
  const step: Step = {
    n,
    sfuCpu: shares.get(target.sfuPid)!,
    nodeCpu: shares.get(process.pid)!,
    agentCpu: shares.get(traffic.pid)!,
    sfuRssMiB: rssMiB(target.sfuPid),
    nodeRssMiB: rssMiB(process.pid),
    loss,
    received,
    expected,
    receiverDrops: counted.reduce((a, r) => a + r.drops, 0),
    setupMs,
    pass: loss < MAX_LOSS && shares.get(target.sfuPid)! < MAX_CPU,
  };
  s.log(
    `${label} N=${n}: sfu ${step.sfuCpu.toFixed(1)}% cpu, node ${step.nodeCpu.toFixed(1)}%, ` +
      `loss ${(loss * 100).toFixed(3)}% (${received}/${expected}), sfu rss ${step.sfuRssMiB.toFixed(0)} MiB, ` +
      `load generator ${step.agentCpu.toFixed(0)}% → ${step.pass ? 'pass' : 'FAIL'}`,
  );
  return step;
}

/**
 * Finds the largest load the target carries (loss < MAX_LOSS, SFU CPU < MAX_CPU) by growing
 * it geometrically and then bisecting (findLimit), within the time budget.
 */
export async function limitSeries(
  s: Services,
  traffic: Agent,
  target: LoadTarget,
  search: LimitSearch,
  cfg: { warmupMs: number; stepMs: number; budgetMs: number },
  label: string,
): Promise<Series> {
  const t0 = Date.now();
  let found: LimitResult<Step>;
  try {
    found = await findLimit(
      search,
      async (n) => {
        const step = await probe(s, traffic, target, n, cfg, label);
        return { pass: step.pass, result: step };
      },
      () => Date.now() - t0 > cfg.budgetMs,
    );
  } finally {
    await target.teardown();
  }
  const steps = found.probes.map((p) => p.result);
  const failed = found.failedAt === null ? null : steps.find((x) => x.n === found.failedAt)!;
  const stoppedBy = failed
    ? failed.loss >= MAX_LOSS
      ? `loss ${(failed.loss * 100).toFixed(2)}% at N=${failed.n}`
      : `CPU ${failed.sfuCpu.toFixed(0)}% at N=${failed.n}`
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
  };
}

/** What a limit figure says about a series: its limit, or that it was not reached. */
export function limitOf(x: Series): { value: number; notReached?: number } {
  return x.reached ? { value: x.limit } : { value: x.limit, notReached: x.limit };
}

/** One producer fanned out to consumers added one by one. */
function fanoutTarget(
  sfuPid: number,
  ingest: { port: number; ssrc: number; kind: 'audio' | 'video' },
  addConsumer: (port: number) => Promise<() => Promise<void>>,
  teardown: () => Promise<void>,
  monitored: number[],
  sinkPort: number,
): LoadTarget {
  /** How to remove each consumer, by index (the i-th sends to destination(i)). */
  const consumers: (() => Promise<void>)[] = [];
  return {
    sfuPid,
    async resize(n) {
      const removed = consumers.splice(n);
      await inBatches(removed, 16, (remove) => remove());
      const indices: number[] = [];
      for (let i = consumers.length; i < n; i++) indices.push(i);
      const added = new Map<number, () => Promise<void>>();
      await inBatches(indices, 16, async (i) => {
        added.set(i, await addConsumer(destination(i, monitored, sinkPort)));
      });
      for (const i of indices) consumers[i] = added.get(i)!;
    },
    streams: () => [{ port: ingest.port, kind: ingest.kind, ssrc: ingest.ssrc }],
    monitoredInUse: () => Math.min(consumers.length, monitored.length),
    sources: () => [{ port: ingest.port, ssrc: ingest.ssrc }],
    teardown,
  };
}

/** The gateway's worker; `browserLike` consumers negotiate NACK/PLI/RTX as Chromium does. */
async function mediasoupTarget(
  s: Services,
  kind: 'audio' | 'video',
  browserLike: boolean,
  monitored: number[],
  sinkPort: number,
): Promise<LoadTarget> {
  const room = await s.gateway.gateway.rooms.getOrCreate(`bench-fanout-${kind}-${browserLike}`);
  const caps = browserLike
    ? room.router.rtpCapabilities
    : (plainReceiverCapabilities(kind) as types.RtpCapabilities);
  const ssrc = 0x2000;
  const ingest = await plainIngest(room.router, [{ kind, ssrc }]);
  const producerId = ingest.producers[0]!.id;
  return fanoutTarget(
    s.gateway.workerPid,
    { port: ingest.port, ssrc, kind },
    async (port) => {
      const t = await plainEgress(room.router, [producerId], port, true, caps);
      return async () => t.close();
    },
    async () => {
      ingest.transport.close();
      room.close('consult_ended');
    },
    monitored,
    sinkPort,
  );
}

async function janusTarget(
  s: Services,
  kind: 'audio' | 'video',
  monitored: number[],
  sinkPort: number,
): Promise<LoadTarget> {
  const api = await JanusApi.open(s.janus!.httpUrl);
  const room = await JanusRoom.create(api);
  const pub = await room.addPublisher(1, [kind]);
  return fanoutTarget(
    s.janus!.pid,
    { port: pub.port, ssrc: pub.ssrcs[0]!, kind },
    async (port) => {
      const streamId = await room.forward(1, '0', port);
      return () => room.stopForward(1, streamId);
    },
    async () => {
      await room.destroy();
      await api.close();
    },
    monitored,
    sinkPort,
  );
}

export function seriesNote(x: Series): string {
  const cap = x.reached
    ? `limit ${x.limit} (failed at ${x.failedAt}: ${x.stoppedBy}; ${x.steps.length} probes)`
    : `not reached at ${x.limit} (${x.stoppedBy})`;
  const est = x.extrapolatedN !== null ? `; CPU line reaches 85% at N≈${x.extrapolatedN}` : '';
  return cap + est;
}

const WHAT = { video: '500 kbit/s VP8', audio: '32 kbit/s opus' };
const JANUS = 'Janus VideoRoom SRTP RTP forwarders (lower bound: no RTCP, no NACK buffer)';
const JANUS_WEBRTC = 'Janus VideoRoom WebRTC subscribers (same browser page)';
const WEBRTC_WHO =
  'WebRTC subscribers in one Chromium page (ICE, DTLS-SRTP, RTCP, NACK), through the WebRtcServer';

/** The series run per kind: browser-like consumers, and (video) consumers like Janus's forwarders. */
const SERIES = [
  {
    key: 'video',
    kind: 'video',
    browserLike: true,
    who: 'gateway worker, browser-like consumers (NACK buffer, RTX)',
  },
  {
    key: 'video.plain',
    kind: 'video',
    browserLike: false,
    who: 'gateway worker, consumers without NACK (like-for-like with forwarders)',
  },
  { key: 'audio', kind: 'audio', browserLike: true, who: 'gateway worker' },
] as const;

export const fanoutSection: Section = {
  name: 'fanout',
  specs: [
    {
      id: 'video.webrtc.maxN',
      label: `${WHAT.video} to N ${WEBRTC_WHO}, largest N (loss < 0.1 %, CPU < 85 %, bisected; "not reached" when the subscribers saturate the machine first)`,
      unit: 'subscribers',
      better: 'higher' as const,
      baselineLabel: JANUS_WEBRTC,
    },
    {
      id: 'video.webrtc.cpuPerStream',
      label: `${WHAT.video}: SFU CPU per forwarded stream to ${WEBRTC_WHO}`,
      unit: '% core',
      better: 'lower' as const,
      baselineLabel: JANUS_WEBRTC,
    },
    ...SERIES.flatMap((x) => [
      {
        id: `${x.key}.maxN`,
        label: `${WHAT[x.kind]} to N SRTP consumers, largest N per worker (loss < 0.1 %, CPU < 85 %, bisected): ${x.who}`,
        unit: 'consumers',
        better: 'higher' as const,
        baselineLabel: JANUS,
      },
      {
        id: `${x.key}.cpuPerStream`,
        label: `${WHAT[x.kind]}: SFU CPU per forwarded stream: ${x.who}`,
        unit: '% core',
        better: 'lower' as const,
        baselineLabel: JANUS,
      },
    ]),
  ],
  async run(s) {
    const cfg = s.opts.fanout;
    const traffic = await s.agent('traffic');
    const { ports: monitored } = await traffic.call<{ ports: number[] }>('openReceivers', {
      count: cfg.sample,
    });
    const sinkPort = await s.sinkPort();
    const values: Record<string, Measured> = {};
    const details: Record<string, unknown> = {
      monitoredConsumers: cfg.sample,
      note:
        'one producer per series, plain RTP in; consumers are SRTP PlainTransports (mediasoup) or SRTP RTP forwarders (Janus). ' +
        'Loss is counted on the monitored consumers; the others send to a socket whose packets the kernel drops unread. ' +
        'CPU is percent of one core for the whole SFU process (mediasoup worker, or all Janus threads).',
    };
    try {
      const webrtc = await webrtcFanout(s, traffic, cfg.webrtc, {
        ...cfg,
        budgetMs: cfg.webrtcBudgetMs,
      });
      details['video.webrtc'] = webrtc;
      const wg = limitOf(webrtc.gateway);
      const wj = webrtc.janus ? limitOf(webrtc.janus) : null;
      const webrtcReason = webrtc.janus ? undefined : (webrtc.janusReason ?? undefined);
      values['video.webrtc.maxN'] = {
        value: wg.value,
        baseline: wj ? wj.value : null,
        notReached: { value: wg.notReached, baseline: wj?.notReached },
        note:
          `gateway: ${seriesNote(webrtc.gateway)}` +
          (webrtc.janus ? `. Janus: ${seriesNote(webrtc.janus)}` : ''),
        reason: webrtcReason,
      };
      values['video.webrtc.cpuPerStream'] = {
        value: webrtc.gateway.cpuPerStream,
        baseline: webrtc.janus ? webrtc.janus.cpuPerStream : null,
        note: 'slope of the SFU process CPU over N across the passing probes (the subscribers are not counted)',
        reason: webrtcReason,
      };
    } catch (err) {
      // The browser side failing must not cost the forwarder rows: report why, go on.
      const reason = `WebRTC fan-out failed: ${(err as Error).message}`;
      s.log(reason);
      details['video.webrtc'] = { error: (err as Error).stack ?? reason };
      for (const id of ['video.webrtc.maxN', 'video.webrtc.cpuPerStream']) {
        values[id] = { value: null, baseline: null, reason };
      }
    }
    const janusSeries: Partial<Record<'audio' | 'video', Series | null>> = {};
    let reason = s.janusReason ?? undefined;
    for (const x of SERIES) {
      const range = x.kind === 'video' ? cfg.video : cfg.audio;
      const ours = await limitSeries(
        s,
        traffic,
        await mediasoupTarget(s, x.kind, x.browserLike, monitored, sinkPort),
        range,
        cfg,
        `fanout ${x.key} gateway`,
      );
      if (s.janus && !(x.kind in janusSeries)) {
        try {
          janusSeries[x.kind] = await limitSeries(
            s,
            traffic,
            await janusTarget(s, x.kind, monitored, sinkPort),
            range,
            cfg,
            `fanout ${x.kind} janus`,
          );
        } catch (err) {
          janusSeries[x.kind] = null;
          reason = `Janus run failed: ${(err as Error).message}`;
        }
      }
      const janus = janusSeries[x.kind] ?? null;
      details[x.key] = {
        gateway: ours,
        ...(x.key === x.kind ? { janus, janusReason: janus ? null : reason } : {}),
      };
      const o = limitOf(ours);
      const j = janus ? limitOf(janus) : null;
      values[`${x.key}.maxN`] = {
        value: o.value,
        baseline: j ? j.value : null,
        notReached: { value: o.notReached, baseline: j?.notReached },
        note: `gateway: ${seriesNote(ours)}` + (janus ? `. Janus: ${seriesNote(janus)}` : ''),
        reason: janus ? undefined : reason,
      };
      values[`${x.key}.cpuPerStream`] = {
        value: ours.cpuPerStream,
        baseline: janus ? janus.cpuPerStream : null,
        note: 'slope of the SFU process CPU over N across the passing steps',
        reason: janus ? undefined : reason,
      };
    }
    await traffic.call('closeReceivers');
    return { values, details };
  },
};
