/**
 * A rolling restart of a three-node cluster during a consult, with real Chromium pages (three
 * gateway processes, one Redis, one PostgreSQL database): the doctor's page joins through
 * node a, the specialist's through node b. Each node in turn gets SIGTERM, drains (the pages
 * on it are told to `migrate` and move make-before-break: new transports up on another node
 * before the old ones close), exits on its own, and starts again as the same node. After every
 * step both pages are connected, each decodes the other's video and receives its audio, no
 * page ever lost the other's tile (nobody saw `peerLeft`), and the record shows the consult
 * live with no end.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import type { TestBrowser } from '../support/browser.js';
import { startRedis, type ClusterNodeProcess, type TestRedis } from '../support/cluster.js';
import { startNodes, type TestNodes } from '../support/nodes.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import {
  connectionState,
  mediaCounter,
  openConsultAt,
  stepsSince,
  receivesMedia,
  transportStats,
  watchMedia,
  waitConnected,
} from './helpers.js';

let redis: TestRedis;
let db: TestDatabase;
let cluster: TestNodes;
const browsers: TestBrowser[] = [];

beforeAll(async () => {
  [redis, db] = await Promise.all([startRedis(), createTestDatabase()]);
  cluster = await startNodes(['a', 'b', 'c'], redis.url, {
    DATABASE_URL: db.url,
    NODE_DEAD_AFTER_SECONDS: '3',
    // Long enough for a page to move on a loaded machine; a drain that needs it fails the test.
    DRAIN_TIMEOUT_SECONDS: '30',
  });
}, 150_000);

afterAll(async () => {
  for (const browser of browsers.splice(0)) await browser.close();
  await cluster?.stop();
  await Promise.all([redis?.stop(), db?.drop()]);
}, 60_000);

const openConsult = (node: ClusterNodeProcess, name: string, token: string) =>
  openConsultAt(browsers, node.url, name, token);

/** The node (name) the page's signalling goes to now. */
const nodeOf = async (page: Page) =>
  cluster.byUrl(
    await page.evaluate(
      () => (globalThis as unknown as { __consult: { server: string } }).__consult.server,
    ),
  );

const transportIds = async (page: Page) =>
  new Set((await transportStats(page)).map((t) => t.transportId));

describe('a rolling restart of three nodes during a two-browser consult', () => {
  it('every node drains and restarts in turn; the pages move each time and the consult goes on', async () => {
    const startedAt = Date.now();
    const log: string[] = [];
    const note = (what: string) => log.push(`${Date.now() - startedAt} ${what}`);
    onTestFailed(() => {
      const outputs = [...cluster.nodes].map(([n, p]) => `node ${n}:\n${p.output()}`);
      console.log(`failed after ${Date.now() - startedAt} ms:\n${log.join('\n')}\n${outputs}`);
    });
    const { consultId, hostToken, specialistToken } = await cluster.get('a').call<{
      consultId: string;
      hostToken: string;
      specialistToken: string;
    }>('seed');
    const doctor = await openConsult(cluster.get('a'), 'doctor@rolling', hostToken);
    const specialist = await openConsult(cluster.get('b'), 'specialist@rolling', specialistToken);
    const pages = { doctor, specialist };
    await waitConnected(doctor);
    const entry = doctor.getByTestId('lobby-entry');
    await entry.waitFor({ timeout: 15_000 });
    await entry.getByTestId('admit-button').click();
    await waitConnected(specialist);
    for (const page of [doctor, specialist]) {
      await expect.poll(() => receivesMedia(page), { timeout: 20_000, interval: 250 }).toBe(true);
    }
    expect([await nodeOf(doctor), await nodeOf(specialist)]).toEqual(['a', 'b']);
    note('consult up: doctor on a, specialist on b');

    // Each page must keep the other's tile throughout (a peerLeft would remove it).
    const fewestTiles = { doctor: 1, specialist: 1 };
    let watching = true;
    const tiles = (async () => {
      while (watching) {
        for (const [who, page] of Object.entries(pages) as [keyof typeof pages, Page][]) {
          const n = await page.getByTestId('remote-tile').count();
          fewestTiles[who] = Math.min(fewestTiles[who], n);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const counters = { doctor: mediaCounter(doctor), specialist: mediaCounter(specialist) };
    const moves: string[] = [];

    for (const name of ['a', 'b', 'c']) {
      const node = cluster.get(name);
      const before = new Map<Page, { on: string | undefined; transports: Set<string> }>();
      for (const page of [doctor, specialist]) {
        before.set(page, { on: await nodeOf(page), transports: await transportIds(page) });
      }
      const stalls = { doctor: watchMedia(doctor), specialist: watchMedia(specialist) };
      const sigterm = Date.now();
      await node.stop(30_000);
      const drainedMs = Date.now() - sigterm;
      // It exited on its own once empty, within the drain timeout (not killed by the test).
      expect([node.child.exitCode, node.child.signalCode], node.output()).toEqual([0, null]);
      expect(node.output()).not.toMatch(/drain timed out/);
      note(`node ${name} drained and exited in ${drainedMs} ms`);

      // With the node gone, media flows both ways, through the pages' new transports if they moved.
      const counted = {
        doctor: await counters.doctor(),
        specialist: await counters.specialist(),
      };
      await expect
        .poll(
          async () => {
            for (const [who, page] of Object.entries(pages) as [keyof typeof pages, Page][]) {
              if ((await connectionState(page)) !== 'connected') return `${who} not connected`;
              const was = before.get(page)!;
              if (was.on === name) {
                if ((await nodeOf(page)) === name) return `${who} still on ${name}`;
                const now = await transportIds(page);
                if ([...now].some((id) => was.transports.has(id))) return `${who}: old transports`;
              }
              const media = await counters[who]();
              if (media.audio <= counted[who].audio || media.video <= counted[who].video) {
                return `${who}: no new media`;
              }
            }
            return 'ok';
          },
          { timeout: 20_000, interval: 250 },
        )
        .toBe('ok');
      for (const [who, page] of Object.entries(pages) as [keyof typeof pages, Page][]) {
        const { audioGapMs, videoGapMs } = await stalls[who].stop();
        const was = before.get(page)!.on;
        const now = await nodeOf(page);
        if (was !== now) moves.push(`${who} ${was}→${now}`);
        note(`${who} on ${now}: longest audio stall ${audioGapMs} ms, video ${videoGapMs} ms`);
        if (was !== now) note(`${who}'s steps since SIGTERM: ${await stepsSince(page, sigterm)}`);
      }
      await cluster.start(name);
      note(`node ${name} started again`);
      const record = await cluster
        .get(name)
        .call<{ status: string; endedAt: number | null }>('consult', { consultId });
      expect([record.status, record.endedAt]).toEqual(['live', null]);
    }
    watching = false;
    await tiles;
    console.log(`rolling restart with two pages:\n${log.join('\n')}\nmoves: ${moves.join(', ')}`);
    // Both pages moved (each sat on a node that was restarted), and nobody ever left.
    expect(moves.some((m) => m.startsWith('doctor'))).toBe(true);
    expect(moves.some((m) => m.startsWith('specialist'))).toBe(true);
    expect(fewestTiles).toEqual({ doctor: 1, specialist: 1 });
    expect(await doctor.getByTestId('remote-tile').count()).toBe(1);
    expect(await specialist.getByTestId('remote-tile').count()).toBe(1);
  }, 240_000);
});
