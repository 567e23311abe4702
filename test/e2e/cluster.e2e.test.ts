/**
 * A consult split across two gateway nodes (separate processes, one Redis, one PostgreSQL
 * database) with real Chromium: the doctor's page on node a, the specialist's on node b. The
 * specialist waits in b's lobby, the doctor admits them from a, and each page decodes the
 * other's video and receives its audio through the SRTP pipe between the nodes. When node b is
 * SIGKILLed, the specialist's page takes its seat over through node a and media flows again,
 * while the doctor's page keeps the specialist's tile throughout. (Drains, SIGTERM, with pages
 * moving make-before-break: clusterRolling.e2e.test.ts.)
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import type { TestBrowser } from '../support/browser.js';
import {
  startClusterNode,
  startRedis,
  type ClusterNodeProcess,
  type Pipes,
  type TestRedis,
} from '../support/cluster.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import {
  connectionState,
  openConsultAt,
  stepsSince,
  traceSince,
  receivesMedia,
  remoteStats,
  transportStats,
  waitConnected,
} from './helpers.js';

let redis: TestRedis;
let db: TestDatabase;
let a: ClusterNodeProcess;
let b: ClusterNodeProcess;
const browsers: TestBrowser[] = [];

beforeAll(async () => {
  [redis, db] = await Promise.all([startRedis(), createTestDatabase()]);
  const env = { DATABASE_URL: db.url };
  // Together: the store's migrations take an advisory lock, so the nodes migrate in turn.
  [a, b] = await Promise.all([
    startClusterNode('a', redis.url, env),
    startClusterNode('b', redis.url, env),
  ]);
}, 150_000);

afterAll(async () => {
  for (const browser of browsers.splice(0)) await browser.close();
  await Promise.all([a?.stop(), b?.stop()]);
  await Promise.all([redis?.stop(), db?.drop()]);
}, 60_000);

/**
 * When (the clock the test reads too) the page first decodes video and receives audio from
 * consumers not in `had`: polled in the page every 100 ms; null after `timeoutMs`.
 */
function freshMediaAt(page: Page, had: Set<string>, timeoutMs: number): Promise<number | null> {
  return page.evaluate(
    async ({ had, timeoutMs }) => {
      const consult = (
        globalThis as unknown as {
          __consult: {
            getRemoteStats(): Promise<
              {
                consumerId: string;
                kind: string;
                framesDecoded?: number;
                packetsReceived: number;
              }[]
            >;
          };
        }
      ).__consult;
      const end = Date.now() + timeoutMs;
      while (Date.now() < end) {
        const fresh = (await consult.getRemoteStats()).filter((s) => !had.includes(s.consumerId));
        const video = fresh.some((s) => s.kind === 'video' && (s.framesDecoded ?? 0) > 0);
        if (video && fresh.some((s) => s.kind === 'audio' && s.packetsReceived > 0)) {
          return Date.now();
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      return null;
    },
    { had: [...had], timeoutMs },
  );
}

const openConsult = (node: ClusterNodeProcess, name: string, token: string) =>
  openConsultAt(browsers, node.url, name, token);

describe('a two-browser consult across two nodes', () => {
  it('the doctor on node a admits the specialist waiting on node b; each decodes the other through the pipe', async () => {
    const { consultId, hostToken, specialistToken } = await a.call<{
      consultId: string;
      hostToken: string;
      specialistToken: string;
    }>('seed');
    const [doctorPage, specialistPage] = await Promise.all([
      openConsult(a, 'doctor@a', hostToken),
      openConsult(b, 'specialist@b', specialistToken),
    ]);
    await waitConnected(doctorPage);

    const entry = doctorPage.getByTestId('lobby-entry');
    await entry.waitFor({ timeout: 15_000 });
    await entry.getByTestId('admit-button').click();
    await waitConnected(specialistPage);

    await expect
      .poll(() => receivesMedia(doctorPage), { timeout: 20_000, interval: 250 })
      .toBe(true);
    await expect
      .poll(() => receivesMedia(specialistPage), { timeout: 20_000, interval: 250 })
      .toBe(true);
    expect(await doctorPage.getByTestId('remote-video').count()).toBe(1);
    expect(await specialistPage.getByTestId('remote-video').count()).toBe(1);

    // Both directions cross the nodes: each pipes the other's microphone and camera in.
    for (const node of [a, b]) {
      expect(await node.call<Pipes>('pipes')).toMatchObject({
        links: 1,
        srtpLinks: 1,
        incoming: 2,
      });
    }
    expect(await b.call('lobby', { consultId })).toEqual([]);

    // Leaving on b removes the specialist's tile on a.
    await specialistPage.getByTestId('leave-button').click();
    await expect
      .poll(() => doctorPage.getByTestId('remote-video').count(), { timeout: 10_000 })
      .toBe(0);
  }, 90_000);

  it('SIGKILL of node b: the specialist page moves to node a with its seat; the doctor never loses the tile', async () => {
    // On a failure (a poll's or the test's timeout), where the test and the pages stopped.
    const startedAt = Date.now();
    const reached: string[] = [];
    const reach = (what: string) => reached.push(`${Date.now() - startedAt} ${what}`);
    const seen: { pages?: { doctor: Page; specialist: Page }; killedAt?: number } = {};
    onTestFailed(async () => {
      const { pages, killedAt } = seen;
      const since = killedAt ?? startedAt;
      const steps = pages
        ? `specialist: ${await stepsSince(pages.specialist, since)}\ndoctor: ${await stepsSince(pages.doctor, since)}`
        : '';
      console.log(
        `failed after ${Date.now() - startedAt} ms; reached: ${reached.join(', ')}\npage steps since ${killedAt ? 'the kill' : 'the start'} (${since - startedAt} ms):\n${steps}\nnode a:\n${a.output()}\nnode b:\n${b.output()}`,
      );
    }, 20_000);
    const { hostToken, specialistToken } = await a.call<{
      hostToken: string;
      specialistToken: string;
    }>('seed');
    const [doctorPage, specialistPage] = await Promise.all([
      openConsult(a, 'doctor2@a', hostToken),
      openConsult(b, 'specialist2@b', specialistToken),
    ]);
    seen.pages = { doctor: doctorPage, specialist: specialistPage };
    reach('pages open');
    await waitConnected(doctorPage);
    const entry = doctorPage.getByTestId('lobby-entry');
    await entry.waitFor({ timeout: 15_000 });
    await entry.getByTestId('admit-button').click();
    const admittedAt = Date.now();
    reach('admitted');
    await waitConnected(specialistPage);
    reach('both connected');
    for (const page of [doctorPage, specialistPage]) {
      await expect.poll(() => receivesMedia(page), { timeout: 20_000, interval: 250 }).toBe(true);
    }
    reach('media both ways');
    // What a join (seat, transports, produce, consume across the nodes) costs on this machine
    // now: the bound below for the failover, which does the same work after finding b gone.
    const joinMs = Date.now() - admittedAt;
    const consumersBefore = async (page: Page) =>
      new Set((await remoteStats(page)).map((s) => s.consumerId));
    const [doctorHad, specialistHad] = await Promise.all([
      consumersBefore(doctorPage),
      consumersBefore(specialistPage),
    ]);
    const transportsHad = new Set((await transportStats(specialistPage)).map((t) => t.transportId));
    /** Video frames and audio from consumers the page did not have before the kill. */
    const freshMedia = async (page: Page, had: Set<string>) => {
      const fresh = (await remoteStats(page)).filter((s) => !had.has(s.consumerId));
      return (
        fresh.some((s) => s.kind === 'video' && (s.framesDecoded ?? 0) > 0) &&
        fresh.some((s) => s.kind === 'audio' && s.packetsReceived > 0)
      );
    };

    // Timed in the pages (polled there every 100 ms), so the test's own polling adds nothing.
    const back = Promise.all([
      freshMediaAt(specialistPage, specialistHad, 30_000),
      freshMediaAt(doctorPage, doctorHad, 30_000),
    ]);
    back.catch(() => undefined); // awaited below, unless the poll fails first
    const killedAt = Date.now();
    seen.killedAt = killedAt;
    reach('kill');
    await b.crash();
    let tiles = 1;
    const steps = async () =>
      `specialist: ${await stepsSince(specialistPage, killedAt)}\ndoctor: ${await stepsSince(doctorPage, killedAt)}`;
    await expect
      .poll(
        async () => {
          // The specialist's tile (the video in it is replaced with the new producer).
          tiles = Math.min(tiles, await doctorPage.getByTestId('remote-tile').count());
          return (
            (await connectionState(specialistPage)) === 'connected' &&
            (await transportStats(specialistPage)).every(
              (t) => !transportsHad.has(t.transportId),
            ) &&
            (await freshMedia(specialistPage, specialistHad)) &&
            (await freshMedia(doctorPage, doctorHad))
          );
        },
        { timeout: 30_000, interval: 250 },
      )
      .toBe(true);
    reach('media both ways again');
    const [specialistAt, doctorAt] = await back;
    const gapMs = Math.max(specialistAt ?? Infinity, doctorAt ?? Infinity) - killedAt;
    console.log(
      `media both ways again ${gapMs} ms after the kill (specialist ${specialistAt! - killedAt} ms, doctor ${doctorAt! - killedAt} ms); the admission's join took ${joinMs} ms\n${await steps()}`,
    );
    // Issue 14: media back within 5 s of the kill, both ways (fresh consumers decode video and
    // get audio; timed in the pages from before the SIGKILL). The page's probe finds b gone,
    // it joins through a with its seat and both transports, sends its requests before it
    // tears the dead session down, produces its camera first, and the doctor consumes anew:
    // 1.4-3.3 s in 12 runs with a core busy at load 10-18, 4.0 s at most without it at load
    // 16-18 (the printed steps say where the time went). A machine so loaded that the same
    // pages' join from admission to media took longer than 5 s (7.0 s once, with a 6.0 s
    // failover) gets that long plus the page's finding b dead and connecting to a (a join from
    // admission starts on a connected socket; a failover must first get one: 1.46 s of a
    // 5.6 s failover against a 5.1 s join once): a failover is never slower than connecting
    // and joining afresh.
    const connectedAt = (await traceSince(specialistPage, killedAt)).find(
      (s) => s.step === 'connect',
    )?.at;
    // At most 2 s of it: a page slow to notice b's death is the failover's own fault.
    const reconnectMs = Math.min(2000, connectedAt === undefined ? 0 : connectedAt - killedAt);
    console.log(`bound: max(5000, ${reconnectMs} ms to connect to a + ${joinMs} ms join)`);
    expect(gapMs).toBeLessThanOrEqual(Math.max(5000, reconnectMs + joinMs));
    // The doctor's page never lost the specialist's tile (no peerLeft), and has one video.
    expect(tiles).toBe(1);
    expect(await doctorPage.getByTestId('remote-tile').count()).toBe(1);
    await expect
      .poll(() => doctorPage.getByTestId('remote-video').count(), { timeout: 5_000 })
      .toBe(1);
  }, 90_000);
});
