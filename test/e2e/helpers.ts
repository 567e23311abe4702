/** Shared steps of the browser tests: pages with logging, logging in, and media checks. */
import type { Page } from 'playwright-core';
import { expect } from 'vitest';
import { launchBrowser, type DeviceOptions, type TestBrowser } from '../support/browser.js';
import { TEST_PASSWORD } from '../support/gateway.js';

export interface RemoteStat {
  peerId: string;
  consumerId: string;
  kind: 'audio' | 'video';
  framesDecoded?: number;
  packetsReceived: number;
}

/**
 * A fresh browser (its own profile) with one page whose errors are logged under `name`;
 * `args` adds Chromium switches, `device` emulates a screen (e.g. a phone).
 */
export async function openPage(
  browsers: TestBrowser[],
  name: string,
  args: readonly string[] = [],
  device: DeviceOptions = {},
): Promise<{ browser: TestBrowser; page: Page }> {
  const browser = await launchBrowser(args, device);
  browsers.push(browser);
  const page = await browser.context.newPage();
  page.on('pageerror', (err) => console.error(`[${name}] page error:`, err.message));
  return { browser, page };
}

/** Logs in through the login page and waits for the role's home page. */
export async function logIn(page: Page, baseUrl: string, email: string, home: string) {
  await page.goto(`${baseUrl}/login`);
  await page.getByTestId('login-email').fill(email);
  await page.getByTestId('login-password').fill(TEST_PASSWORD);
  await page.getByTestId('login-submit').click();
  await page.waitForURL(`${baseUrl}${home}`, { timeout: 10_000 });
}

export const connectionState = (page: Page) => page.getByTestId('connection-state').textContent();

export async function waitConnected(page: Page, timeout = 15_000): Promise<void> {
  await expect.poll(() => connectionState(page), { timeout }).toBe('connected');
}

export const remoteStats = (page: Page) =>
  page.evaluate(() =>
    (
      globalThis as unknown as { __consult: { getRemoteStats(): Promise<unknown> } }
    ).__consult.getRemoteStats(),
  ) as Promise<RemoteStat[]>;

export interface TransportStat {
  direction: 'send' | 'recv';
  transportId: string;
  connectionState: string;
  iceRestarts: number;
  selected: { localProtocol: string; remoteProtocol: string } | null;
}

/** The page's transports: state, ICE restarts and the selected candidate pair. */
export const transportStats = (page: Page) =>
  page.evaluate(() =>
    (
      globalThis as unknown as { __consult: { getTransportStats(): Promise<unknown> } }
    ).__consult.getTransportStats(),
  ) as Promise<TransportStat[]>;

/** What happened on the page (state changes, removed participants, ICE restarts, …). */
export const pageEvents = (page: Page) =>
  page.evaluate(() =>
    (globalThis as unknown as { __consult: { events: unknown[] } }).__consult.events.slice(),
  ) as Promise<{ at: number; type: string; detail: string }[]>;

/**
 * Audio packets and decoded video frames received so far, summed over remote consumers. A
 * consumer that went away keeps its last count, so the totals never go down.
 */
export function mediaCounter(page: Page) {
  const last = new Map<string, number>();
  return async (): Promise<{ audio: number; video: number }> => {
    for (const s of await remoteStats(page)) {
      const count = s.kind === 'audio' ? s.packetsReceived : (s.framesDecoded ?? 0);
      last.set(`${s.kind}:${s.consumerId}`, count);
    }
    const sum = (kind: string) =>
      [...last].filter(([k]) => k.startsWith(kind)).reduce((n, [, v]) => n + v, 0);
    return { audio: sum('audio'), video: sum('video') };
  };
}

export interface MediaWatch {
  /** Longest time (ms) each counter did not rise, and how much it rose in all. */
  stop(): Promise<{ audioGapMs: number; videoGapMs: number; audio: number; video: number }>;
  /** ms after `since` (Date.now()) at which audio and video each first rose, or null (after stop()). */
  resumedAfter(since: number): { audio: number | null; video: number | null };
}

/**
 * Samples a page's received audio packets and decoded frames every `intervalMs`, inside the
 * page on its own timers: a busy test process (whose event loop stalls for hundreds of
 * milliseconds on a loaded machine) does not lengthen the gaps it reports, so they are what
 * the person at that page would notice. `resumedAfter` answers once `stop()` has resolved.
 */
export function watchMedia(page: Page, intervalMs = 250): MediaWatch {
  const key = `__mediaWatch${Math.random().toString(36).slice(2)}`;
  type Result = {
    audioGapMs: number;
    videoGapMs: number;
    audio: number;
    video: number;
    rises: { kind: 'audio' | 'video'; at: number }[];
  };
  const started = page.evaluate(
    ({ key, intervalMs }) => {
      type Stat = {
        kind: 'audio' | 'video';
        consumerId: string;
        packetsReceived: number;
        framesDecoded?: number;
      };
      const hook = (globalThis as unknown as { __consult: { getRemoteStats(): Promise<Stat[]> } })
        .__consult;
      const last = new Map<string, number>();
      const read = async () => {
        for (const s of await hook.getRemoteStats()) {
          last.set(
            `${s.kind}:${s.consumerId}`,
            s.kind === 'audio' ? s.packetsReceived : (s.framesDecoded ?? 0),
          );
        }
        const sum = (kind: string) =>
          [...last].filter(([k]) => k.startsWith(kind)).reduce((n, [, v]) => n + v, 0);
        return { audio: sum('audio'), video: sum('video') };
      };
      const state: { stopped: boolean; done?: Promise<unknown> } = { stopped: false };
      state.done = (async () => {
        const start = await read();
        let prev = start;
        const lastRise = { audio: Date.now(), video: Date.now() };
        const gap = { audio: 0, video: 0 };
        const rises: { kind: 'audio' | 'video'; at: number }[] = [];
        while (!state.stopped) {
          await new Promise((r) => setTimeout(r, intervalMs));
          const now = await read().catch(() => prev);
          const t = Date.now();
          for (const kind of ['audio', 'video'] as const) {
            if (now[kind] > prev[kind]) {
              lastRise[kind] = t;
              rises.push({ kind, at: t });
            }
            gap[kind] = Math.max(gap[kind], t - lastRise[kind]);
          }
          prev = now;
        }
        return {
          audioGapMs: gap.audio,
          videoGapMs: gap.video,
          audio: prev.audio - start.audio,
          video: prev.video - start.video,
          rises,
        };
      })();
      (globalThis as unknown as Record<string, unknown>)[key] = state;
    },
    { key, intervalMs },
  );
  let result: Result | null = null;
  return {
    stop: async () => {
      await started;
      result = await page.evaluate((key) => {
        const state = (
          globalThis as unknown as Record<string, { stopped: boolean; done: Promise<Result> }>
        )[key]!;
        state.stopped = true;
        return state.done;
      }, key);
      const { rises: _, ...gaps } = result;
      return gaps;
    },
    resumedAfter: (since) => {
      if (!result) throw new Error('watchMedia: resumedAfter() before stop() resolved');
      const first = (kind: 'audio' | 'video') => {
        const rise = result!.rises.find((r) => r.kind === kind && r.at > since);
        return rise ? rise.at - since : null;
      };
      return { audio: first('audio'), video: first('video') };
    },
  };
}

/** True once this page has decoded remote video frames (and, with `audio`, got audio packets). */
export async function receivesMedia(page: Page, audio = true): Promise<boolean> {
  const stats = await remoteStats(page);
  const video = stats.some((s) => s.kind === 'video' && (s.framesDecoded ?? 0) > 0);
  const sound = stats.some((s) => s.kind === 'audio' && s.packetsReceived > 0);
  return video && (!audio || sound);
}

/** A Date as a datetime-local input value (local time, minutes). */
export function localInput(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** Opens the consult page at `baseUrl` (a node) with a join grant; it joins on its own. */
export async function openConsultAt(
  browsers: TestBrowser[],
  baseUrl: string,
  name: string,
  token: string,
): Promise<Page> {
  const { page } = await openPage(browsers, name);
  await page.goto(`${baseUrl}/?token=${token}`);
  const join = page.getByTestId('join-button');
  if ((await join.isVisible()) && (await join.textContent()) === 'Join consult') await join.click();
  return page;
}

/** The page client's set-up steps since `t0`, as "ms step" pairs: where a move's time went. */
export async function stepsSince(page: Page, t0: number): Promise<string> {
  return (await traceSince(page, t0)).map((s) => `${s.at - t0} ${s.step}`).join(', ');
}

/** The page's client steps (Date.now() and name) from `t0` on. */
export async function traceSince(page: Page, t0: number): Promise<{ at: number; step: string }[]> {
  const steps = await page.evaluate(
    () =>
      (globalThis as unknown as { __consult: { trace: { at: number; step: string }[] } }).__consult
        .trace,
  );
  return steps.filter((s) => s.at >= t0);
}
