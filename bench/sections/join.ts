/**
 * Join time: a headless Chromium page joins a live consult (a publishing Chromium with a fake
 * camera is already in it); measured from the start of its signalling connection to the first
 * remote video frame presented, over repeated joins, the systems taking turns. Three systems, the same browser, the
 * same publisher settings: the gateway (its real, built client), bare mediasoup (a minimal
 * page, bench/pages/bare.ts) and Janus VideoRoom (bench/pages/janus.ts).
 */
import type { Page } from 'playwright-core';
import { benchConsult } from '../lib/access.js';
import { launchBrowser, type BenchBrowser } from '../lib/browser.js';
import {
  BREAKDOWN_HOOK,
  FIRST_FRAME_HOOK,
  PUBLISHER_HOOK,
  READ_BREAKDOWN,
  READ_JOIN,
  READ_PUBLISHER,
} from '../lib/firstFrame.js';
import { startBenchGateway, type BenchGateway } from '../lib/gateway.js';
import { JanusApi } from '../lib/janus.js';
import { traceFirstKeyFrames, traceSince, type KeyFrameTrace } from '../lib/keyFrameTrace.js';
import type { Measured, Section, Services } from '../lib/section.js';
import { summarise, type Summary } from '../lib/stats.js';

interface System {
  name: string;
  publisherUrl: string;
  /** Resolves once the publisher's media is flowing into the SFU. */
  publishing(page: Page): Promise<boolean>;
  joinerUrl(i: number): string;
  cleanup?(): Promise<void>;
  /** BENCH_JOIN_BREAKDOWN=1: the SFU's first-key-frame traces (our gateway and bare mediasoup). */
  sfuTraces?: KeyFrameTrace[];
}

interface JoinSample {
  ms: number;
  via: string;
  start: string;
  /** Round of the interleaved run and this system's place in it (0 = first). */
  round: number;
  slot: number;
  /** BENCH_JOIN_BREAKDOWN=1: the video's marks (ms after the start), see READ_BREAKDOWN. */
  breakdown?: unknown;
}

const BREAKDOWN = process.env.BENCH_JOIN_BREAKDOWN === '1';

export interface SystemResult {
  samples: JoinSample[];
  summary: Summary;
  failures: string[];
}

const WARMUP_JOINS = 1;

/** Joins slower than this need a cause the bench can show (the bar). */
export const SLOW_JOIN_MS = 600;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(
  what: string,
  timeoutMs: number,
  check: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** One join of a fresh page in the joiner browser: its sample, or why it failed. */
async function joinOnce(
  joiner: BenchBrowser,
  sys: System,
  i: number,
  timeoutMs: number,
): Promise<Omit<JoinSample, 'round' | 'slot'> | { error: string }> {
  const page = await joiner.context.newPage();
  try {
    await page.goto(sys.joinerUrl(i));
    let result: JoinSample | { error: string } | null = null;
    await until(`${sys.name} join ${i}: first remote frame`, timeoutMs, async () => {
      result = (await page.evaluate(READ_JOIN)) as typeof result;
      return result !== null;
    });
    if (BREAKDOWN && result && 'ms' in result) {
      await sleep(100); // the stats poll sees the first decoded frame too
      const breakdown = (await page.evaluate(READ_BREAKDOWN)) as { originMs?: number } | null;
      const sfu =
        sys.sfuTraces && breakdown?.originMs !== undefined
          ? traceSince(sys.sfuTraces, breakdown.originMs)
          : null;
      (result as JoinSample).breakdown = sfu ? { ...breakdown, sfu } : breakdown;
    }
    return (result as JoinSample | { error: string } | null) ?? { error: 'no result' };
  } catch (err) {
    return { error: (err as Error).message };
  } finally {
    await page.close();
  }
}

/**
 * Every system's publisher runs for the whole section (one publisher browser, a page each),
 * and one joiner browser joins the systems in turn, round by round, the order rotated each
 * round: a slow spell of the machine hits every system alike.
 */
async function measureInterleaved(s: Services, systems: System[]): Promise<SystemResult[]> {
  const { joins, warmupMs, timeoutMs } = s.opts.join;
  const out = systems.map((): SystemResult => ({
    samples: [],
    summary: summarise([]),
    failures: [],
  }));
  const browsers: BenchBrowser[] = [];
  const pubs: Page[] = [];
  try {
    const publisher = await launchBrowser();
    browsers.push(publisher);
    if (BREAKDOWN) await publisher.context.addInitScript({ content: PUBLISHER_HOOK });
    for (const sys of systems) {
      const pub = await publisher.context.newPage();
      pubs.push(pub);
      pub.on('pageerror', (err) => s.log(`[${sys.name} publisher] ${err.message}`));
      await pub.goto(sys.publisherUrl);
      await until(`${sys.name} publisher`, timeoutMs, () => sys.publishing(pub));
    }
    await sleep(warmupMs); // let the encoders ramp up to their layers

    const joiner = await launchBrowser();
    browsers.push(joiner);
    await joiner.context.addInitScript({ content: FIRST_FRAME_HOOK });
    if (BREAKDOWN) await joiner.context.addInitScript({ content: BREAKDOWN_HOOK });
    // One unmeasured round first: the joiner browser's first pages pay its own start-up.
    for (let round = -WARMUP_JOINS; round < joins; round++) {
      for (let slot = 0; slot < systems.length; slot++) {
        const k = (((round + slot) % systems.length) + systems.length) % systems.length;
        const r = await joinOnce(joiner, systems[k]!, round + WARMUP_JOINS, timeoutMs);
        if (BREAKDOWN && 'ms' in r) {
          s.log(
            `breakdown ${systems[k]!.name} ${Math.round(r.ms)} ms ${JSON.stringify(r.breakdown)}`,
          );
        }
        if (round >= 0) {
          if ('ms' in r) out[k]!.samples.push({ ...r, round, slot });
          else out[k]!.failures.push(r.error);
        }
        await sleep(300); // let the server see the leave
      }
    }
    if (BREAKDOWN) {
      for (const [k, pub] of pubs.entries()) {
        s.log(
          `publisher ${systems[k]!.name}: ${JSON.stringify(await pub.evaluate(READ_PUBLISHER))}`,
        );
      }
    }
  } finally {
    for (const b of browsers) await b.close();
    for (const sys of systems) await sys.cleanup?.();
  }
  systems.forEach((sys, k) => {
    const x = out[k]!;
    x.summary = summarise(x.samples.map((j) => j.ms));
    s.log(
      `join ${sys.name}: ${x.samples.map((j) => Math.round(j.ms)).join(', ')} ms` +
        (x.failures.length ? `; failures: ${x.failures.join('; ')}` : ''),
    );
  });
  return out;
}

async function gatewaySystem(
  s: Services,
  gw: BenchGateway = s.gateway,
  name = 'gateway',
): Promise<System> {
  const consultId = `bench-join-${Date.now()}`;
  const [host, ...joiners] = await benchConsult(
    gw.gateway,
    consultId,
    s.opts.join.joins + WARMUP_JOINS,
    {
      receiveOnly: true,
    },
  );
  const sfuTraces: KeyFrameTrace[] = [];
  if (BREAKDOWN)
    for (const slot of gw.gateway.pool.slots) traceFirstKeyFrames(slot.worker, sfuTraces);
  return {
    name,
    sfuTraces,
    publisherUrl: `${gw.url}/?token=${host!.token}`,
    async publishing() {
      const room = gw.gateway.rooms.rooms.get(consultId);
      const producers = [...(room?.peers.values() ?? [])].flatMap((p) => [...p.producers.values()]);
      return producers.some((p) => p.kind === 'video' && p.score.some((x) => x.score > 0));
    },
    joinerUrl: (i) => `${gw.url}/?token=${joiners[i]!.token}`,
    ...(gw === s.gateway ? {} : { cleanup: () => gw.stop() }),
  };
}

/**
 * BENCH_JOIN_AB=DIR: a second gateway (same server code) serving the client built in DIR
 * (e.g. the last release's client/dist) joins the same interleaved rounds as a fourth system,
 * "gateway A"; its figures are in the details (`ab`) and the log, not in the table.
 * BENCH_JOIN_AB_SETTINGS="NAME=value …" gives that gateway other settings (an A/B of a server setting).
 */
async function abSystem(s: Services): Promise<System | null> {
  const dir = process.env.BENCH_JOIN_AB;
  if (!dir) return null;
  const settings = Object.fromEntries(
    (process.env.BENCH_JOIN_AB_SETTINGS ?? '')
      .split(/\s+/)
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
  return gatewaySystem(s, await startBenchGateway(dir, settings), 'gateway A');
}

function bareSystem(s: Services): System {
  const consult = `join-${Date.now()}`;
  const sfuTraces: KeyFrameTrace[] = [];
  if (BREAKDOWN) traceFirstKeyFrames(s.bare.worker, sfuTraces);
  return {
    name: 'bare',
    sfuTraces,
    publisherUrl: `${s.bare.url}/bare.html?role=publish&consult=${consult}`,
    async publishing(page) {
      const ok = await page.evaluate('window.__bare && window.__bare.published');
      return Boolean(ok) && s.bare.producers(consult).some((p) => p.kind === 'video');
    },
    joinerUrl: () => `${s.bare.url}/bare.html?consult=${consult}`,
  };
}

async function janusSystem(s: Services): Promise<System> {
  const api = await JanusApi.open(s.janus!.httpUrl);
  const room = 9000 + Math.floor(Math.random() * 1000);
  await api.request({
    request: 'create',
    room,
    publishers: 4,
    videocodec: 'vp8',
    audiocodec: 'opus',
    notify_joining: false,
  });
  const q = `ws=${encodeURIComponent(s.janus!.wsUrl)}&room=${room}&feed=1`;
  return {
    name: 'janus',
    publisherUrl: `${s.bare.url}/janus.html?role=publish&${q}`,
    async publishing(page) {
      return Boolean(await page.evaluate('window.__janus && window.__janus.published'));
    },
    joinerUrl: () => `${s.bare.url}/janus.html?${q}`,
    async cleanup() {
      await api.request({ request: 'destroy', room }).catch(() => undefined);
      await api.close();
    },
  };
}

const STATS = ['p50', 'iqr', 'p95', 'max'] as const;
const STAT_LABEL = {
  p50: 'median',
  iqr: 'interquartile range (q3 − q1)',
  p95: 'p95',
  max: 'max',
};

const slow = (x: SystemResult) => x.samples.filter((j) => j.ms > SLOW_JOIN_MS).length;

export const joinSection: Section = {
  name: 'join',
  specs: [
    ...STATS.map((q) => ({
      id: q,
      label: `join time (signalling start → first remote video frame), ${STAT_LABEL[q]}`,
      unit: 'ms',
      better: 'lower' as const,
      baselineLabel: 'bare mediasoup page',
    })),
    ...STATS.map((q) => ({
      id: `janus.${q}`,
      label: `join time, ours vs Janus, ${STAT_LABEL[q]}`,
      unit: 'ms',
      better: 'lower' as const,
      baselineLabel: 'Janus VideoRoom page',
    })),
  ],
  async run(s) {
    const systems: System[] = [await gatewaySystem(s), bareSystem(s)];
    let janusReason = s.janusReason ?? undefined;
    if (s.janus) {
      try {
        systems.push(await janusSystem(s));
      } catch (err) {
        janusReason = `Janus room set-up failed: ${(err as Error).message}`;
      }
    }
    const ab = await abSystem(s);
    if (ab) systems.push(ab);
    const results = await measureInterleaved(s, systems);
    const [ours, bare] = results;
    const janus = (s.janus && systems[2]?.name === 'janus' ? results[2] : null) ?? null;
    const abResult = ab ? results[systems.length - 1]! : null;
    if (janus && !janus.samples.length) {
      janusReason = `no Janus join succeeded: ${janus.failures[0] ?? '?'}`;
    }
    const values: Record<string, Measured> = {};
    const why = (x: SystemResult, who: string) =>
      x.samples.length ? undefined : `no ${who} join succeeded: ${x.failures[0] ?? '?'}`;
    const tailWhy = (x: SystemResult | null, q: string) =>
      q === 'p95' && x?.samples.length ? x.summary.p95Reason : undefined;
    const bothWhy = (a?: string, b?: string) =>
      a && b ? (a === b ? `${a} on both sides` : `${a}; baseline ${b}`) : (a ?? b);
    const n = (x?: SystemResult | null) => x?.samples.length ?? 0;
    for (const q of STATS) {
      values[q] = {
        value: ours!.summary[q],
        baseline: bare!.summary[q],
        reason:
          why(ours!, 'gateway') ??
          why(bare!, 'bare') ??
          bothWhy(tailWhy(ours!, q), tailWhy(bare!, q)),
        ...(q === 'p50'
          ? {
              note:
                `n = ${n(ours)} gateway / ${n(bare)} bare / ${n(janus)} Janus joins, interleaved round by round after one unmeasured round ` +
                `(receive-only joiners; every page on WebSocket from the start; publishers send simulcast camera + mic); ` +
                `start = the page's first WebSocket or Socket.IO request; end = first frame presented; ` +
                `joins over ${SLOW_JOIN_MS} ms: gateway ${slow(ours!)}, bare ${slow(bare!)}` +
                (janus ? `, Janus ${slow(janus)}` : ''),
            }
          : {}),
      };
      values[`janus.${q}`] = {
        value: ours!.summary[q],
        baseline: janus?.samples.length ? janus.summary[q] : null,
        reason: janus?.samples.length
          ? (why(ours!, 'gateway') ?? bothWhy(tailWhy(ours!, q), tailWhy(janus, q)))
          : janusReason,
      };
    }
    return {
      values,
      details: {
        gateway: ours,
        bare,
        janus,
        janusReason: janus?.samples.length ? null : janusReason,
        ...(abResult ? { ab: { clientDir: process.env.BENCH_JOIN_AB, ...abResult } } : {}),
      },
    };
  },
};
