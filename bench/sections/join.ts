/**
 * Join time: a headless Chromium page joins a live consult (a publishing Chromium with a fake
 * camera is already in it); measured from the start of its Socket.IO connection to the first
 * remote video frame presented, over repeated joins. Three systems, the same browser, the
 * same publisher settings: the gateway (its real, built client), bare mediasoup (a minimal
 * page, bench/pages/bare.ts) and Janus VideoRoom (bench/pages/janus.ts).
 */
import type { Page } from 'playwright-core';
import { benchConsult } from '../lib/access.js';
import { launchBrowser, type BenchBrowser } from '../lib/browser.js';
import { FIRST_FRAME_HOOK, READ_JOIN } from '../lib/firstFrame.js';
import { JanusApi } from '../lib/janus.js';
import type { Measured, Section, Services } from '../lib/section.js';
import { summarise, type Summary } from '../lib/stats.js';

interface System {
  name: string;
  publisherUrl: string;
  /** Resolves once the publisher's media is flowing into the SFU. */
  publishing(page: Page): Promise<boolean>;
  joinerUrl(i: number): string;
  cleanup?(): Promise<void>;
}

interface JoinSample {
  ms: number;
  via: string;
  start: string;
}

const WARMUP_JOINS = 1;

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

async function measureSystem(
  s: Services,
  sys: System,
): Promise<{ samples: JoinSample[]; summary: Summary; failures: string[] }> {
  const { joins, warmupMs, timeoutMs } = s.opts.join;
  const browsers: BenchBrowser[] = [];
  const failures: string[] = [];
  const samples: JoinSample[] = [];
  try {
    const publisher = await launchBrowser();
    browsers.push(publisher);
    const pub = await publisher.context.newPage();
    pub.on('pageerror', (err) => s.log(`[${sys.name} publisher] ${err.message}`));
    await pub.goto(sys.publisherUrl);
    await until(`${sys.name} publisher`, timeoutMs, () => sys.publishing(pub));
    await sleep(warmupMs); // let the encoder ramp up to its layers

    const joiner = await launchBrowser();
    browsers.push(joiner);
    await joiner.context.addInitScript({ content: FIRST_FRAME_HOOK });
    // One unmeasured join first: the joiner browser's first page pays its own start-up.
    for (let i = -WARMUP_JOINS; i < joins; i++) {
      const page = await joiner.context.newPage();
      try {
        await page.goto(sys.joinerUrl(i + WARMUP_JOINS));
        let result: JoinSample | { error: string } | null = null;
        await until(`${sys.name} join ${i + 1}: first remote frame`, timeoutMs, async () => {
          result = (await page.evaluate(READ_JOIN)) as typeof result;
          return result !== null;
        });
        const r = result as JoinSample | { error: string } | null;
        if (i < 0) continue;
        if (r && 'ms' in r) samples.push(r);
        else failures.push(r?.error ?? 'no result');
      } catch (err) {
        if (i >= 0) failures.push((err as Error).message);
      } finally {
        await page.close();
      }
      await sleep(300); // let the server see the leave
    }
  } finally {
    for (const b of browsers) await b.close();
    await sys.cleanup?.();
  }
  s.log(
    `join ${sys.name}: ${samples.map((x) => Math.round(x.ms)).join(', ')} ms` +
      (failures.length ? `; failures: ${failures.join('; ')}` : ''),
  );
  return { samples, summary: summarise(samples.map((x) => x.ms)), failures };
}

async function gatewaySystem(s: Services): Promise<System> {
  const consultId = `bench-join-${Date.now()}`;
  const [host, ...joiners] = await benchConsult(
    s.gateway.gateway,
    consultId,
    s.opts.join.joins + WARMUP_JOINS,
    {
      receiveOnly: true,
    },
  );
  return {
    name: 'gateway',
    publisherUrl: `${s.gateway.url}/?token=${host!.token}`,
    async publishing() {
      const room = s.gateway.gateway.rooms.rooms.get(consultId);
      const producers = [...(room?.peers.values() ?? [])].flatMap((p) => [...p.producers.values()]);
      return producers.some((p) => p.kind === 'video' && p.score.some((x) => x.score > 0));
    },
    joinerUrl: (i) => `${s.gateway.url}/?token=${joiners[i]!.token}`,
  };
}

function bareSystem(s: Services): System {
  const consult = `join-${Date.now()}`;
  return {
    name: 'bare',
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

const STATS = ['p50', 'p95', 'max'] as const;

export const joinSection: Section = {
  name: 'join',
  specs: [
    ...STATS.map((q) => ({
      id: q,
      label: `join time (Socket.IO connect → first remote video frame), ${q}`,
      unit: 'ms',
      better: 'lower' as const,
      baselineLabel: 'bare mediasoup page',
    })),
    ...STATS.map((q) => ({
      id: `janus.${q}`,
      label: `join time, ours vs Janus, ${q}`,
      unit: 'ms',
      better: 'lower' as const,
      baselineLabel: 'Janus VideoRoom page',
    })),
  ],
  async run(s) {
    const ours = await measureSystem(s, await gatewaySystem(s));
    const bare = await measureSystem(s, bareSystem(s));
    let janus: Awaited<ReturnType<typeof measureSystem>> | null = null;
    let janusReason = s.janusReason ?? undefined;
    if (s.janus) {
      try {
        janus = await measureSystem(s, await janusSystem(s));
        if (!janus.samples.length)
          janusReason = `no Janus join succeeded: ${janus.failures[0] ?? '?'}`;
      } catch (err) {
        janusReason = `Janus run failed: ${(err as Error).message}`;
      }
    }
    const values: Record<string, Measured> = {};
    const why = (x: { failures: string[]; samples: unknown[] }, who: string) =>
      x.samples.length ? undefined : `no ${who} join succeeded: ${x.failures[0] ?? '?'}`;
    for (const q of STATS) {
      values[q] = {
        value: ours.summary[q],
        baseline: bare.summary[q],
        reason: why(ours, 'gateway') ?? why(bare, 'bare'),
        ...(q === 'p50'
          ? {
              note: `${ours.samples.length} joins each after one unmeasured warm-up join (receive-only joiners, publisher sends simulcast camera + mic); start = first Socket.IO request (gateway, bare) or just before the WebSocket (Janus); end = first frame presented`,
            }
          : {}),
      };
      values[`janus.${q}`] = {
        value: ours.summary[q],
        baseline: janus?.samples.length ? janus.summary[q] : null,
        reason: janus?.samples.length ? why(ours, 'gateway') : janusReason,
      };
    }
    return {
      values,
      details: {
        gateway: ours,
        bare,
        janus,
        janusReason: janus?.samples.length ? null : janusReason,
      },
    };
  },
};
