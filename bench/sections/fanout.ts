/**
 * Fan-out capacity: one synthetic producer (500 kbit/s VP8, or 32 kbit/s opus) forwarded
 * to N SRTP consumers, N stepped up, on the gateway's worker and on Janus VideoRoom (remote
 * publisher → SRTP RTP forwarders): both get the same stream and the same receivers. Per
 * step: the SFU process's CPU, the gateway (Node) process's CPU, RSS, consumer loss.
 */
import type { RunReport, StreamSpec } from '../agents/traffic.js';
import type { Agent } from '../lib/agent.js';
import type { types } from 'mediasoup';
import { JanusApi } from '../lib/janus.js';
import { plainReceiverCapabilities } from '../lib/rtp.js';
import { CpuWindow, rssMiB } from '../lib/proc.js';
import type { Measured, Section, Services } from '../lib/section.js';
import { JanusRoom, inBatches, plainEgress, plainIngest } from '../lib/sfu.js';

export const MAX_LOSS = 0.001;
export const MAX_CPU = 85;

/** An SFU under test whose load grows in units (consumers, or consults). */
export interface LoadTarget {
  sfuPid: number;
  /** Grows the load to n units. */
  grow(n: number): Promise<void>;
  /** What the traffic agent sends at the current size. */
  streams(): StreamSpec[];
  /** How many of the monitored receivers are in use at the current size. */
  monitoredInUse(): number;
  /** The sending SSRCs whose packets monitored receiver i gets. */
  sources(i: number): number[];
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
  steps: Step[];
  maxN: number;
  allPassed: boolean;
  /** Percent of one core per unit of load (slope over the passing steps). */
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

/** Steps the load up on one target until loss or CPU crosses the limit (or time runs out). */
export async function stepSeries(
  s: Services,
  traffic: Agent,
  target: LoadTarget,
  steps: number[],
  cfg: { warmupMs: number; stepMs: number; budgetMs: number },
  label: string,
): Promise<Series> {
  const out: Step[] = [];
  let stoppedBy = 'all steps passed';
  const t0 = Date.now();
  for (const n of steps) {
    const setup0 = Date.now();
    await target.grow(n);
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
      const sent = target.sources(i).reduce((a, ssrc) => a + (report.sentPerSsrc[ssrc] ?? 0), 0);
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
    out.push(step);
    s.log(
      `${label} N=${n}: sfu ${step.sfuCpu.toFixed(1)}% cpu, node ${step.nodeCpu.toFixed(1)}%, ` +
        `loss ${(loss * 100).toFixed(3)}% (${received}/${expected}), sfu rss ${step.sfuRssMiB.toFixed(0)} MiB, ` +
        `load generator ${step.agentCpu.toFixed(0)}%`,
    );
    if (!step.pass) {
      stoppedBy =
        loss >= MAX_LOSS
          ? `loss ${(loss * 100).toFixed(2)}% at N=${n}`
          : `CPU ${step.sfuCpu.toFixed(0)}% at N=${n}`;
      break;
    }
    if (Date.now() - t0 > cfg.budgetMs && n !== steps[steps.length - 1]) {
      stoppedBy = `time budget (${cfg.budgetMs / 1000} s) after N=${n}`;
      break;
    }
  }
  await target.teardown();
  const passing = out.filter((x) => x.pass);
  const line = fit(passing.map((x) => ({ x: x.n, y: x.sfuCpu })));
  const slope = line && line.slope > 0 ? line.slope : null;
  return {
    steps: out,
    maxN: passing.length ? passing[passing.length - 1]!.n : 0,
    allPassed: passing.length === out.length,
    cpuPerStream: slope,
    extrapolatedN: slope && line ? Math.floor((MAX_CPU - line.intercept) / slope) : null,
    stoppedBy,
  };
}

/** One producer fanned out to consumers added one by one. */
function fanoutTarget(
  sfuPid: number,
  ingest: { port: number; ssrc: number; kind: 'audio' | 'video' },
  addConsumer: (port: number) => Promise<void>,
  teardown: () => Promise<void>,
  monitored: number[],
  sinkPort: number,
): LoadTarget {
  let consumers = 0;
  return {
    sfuPid,
    async grow(n) {
      const ports: number[] = [];
      for (let i = consumers; i < n; i++) ports.push(destination(i, monitored, sinkPort));
      await inBatches(ports, 16, addConsumer);
      consumers = Math.max(consumers, n);
    },
    streams: () => [{ port: ingest.port, kind: ingest.kind, ssrc: ingest.ssrc }],
    monitoredInUse: () => Math.min(consumers, monitored.length),
    sources: () => [ingest.ssrc],
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
  const egress: { close(): void }[] = [];
  return fanoutTarget(
    s.gateway.workerPid,
    { port: ingest.port, ssrc, kind },
    async (port) => {
      egress.push(await plainEgress(room.router, [producerId], port, true, caps));
    },
    async () => {
      for (const t of egress) t.close();
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
    (port) => room.forward(1, '0', port),
    async () => {
      await room.destroy();
      await api.close();
    },
    monitored,
    sinkPort,
  );
}

function seriesNote(x: Series): string {
  const cap = x.allPassed
    ? `every step passed (limit above ${x.maxN}; raise the steps)`
    : `stopped by ${x.stoppedBy}`;
  const est = x.extrapolatedN !== null ? `; CPU line reaches 85% at N≈${x.extrapolatedN}` : '';
  return cap + est;
}

const WHAT = { video: '500 kbit/s VP8', audio: '32 kbit/s opus' };
const JANUS = 'Janus VideoRoom (SRTP RTP forwarders)';

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
  specs: SERIES.flatMap((x) => [
    {
      id: `${x.key}.maxN`,
      label: `${WHAT[x.kind]} to N SRTP consumers, largest N per worker (loss < 0.1 %, CPU < 85 %): ${x.who}`,
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
    const janusSeries: Partial<Record<'audio' | 'video', Series | null>> = {};
    let reason = s.janusReason ?? undefined;
    for (const x of SERIES) {
      const steps = x.kind === 'video' ? cfg.videoSteps : cfg.audioSteps;
      const ours = await stepSeries(
        s,
        traffic,
        await mediasoupTarget(s, x.kind, x.browserLike, monitored, sinkPort),
        steps,
        cfg,
        `fanout ${x.key} gateway`,
      );
      if (s.janus && !(x.kind in janusSeries)) {
        try {
          janusSeries[x.kind] = await stepSeries(
            s,
            traffic,
            await janusTarget(s, x.kind, monitored, sinkPort),
            steps,
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
      values[`${x.key}.maxN`] = {
        value: ours.maxN,
        baseline: janus ? janus.maxN : null,
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
