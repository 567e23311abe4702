/**
 * A consult split across two gateway nodes (separate processes, one Redis, one PostgreSQL
 * database) with real Chromium: the doctor's page on node a, the specialist's on node b. The
 * specialist waits in b's lobby, the doctor admits them from a, and each page decodes the
 * other's video and receives its audio through the SRTP pipe between the nodes.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestBrowser } from '../support/browser.js';
import {
  startClusterNode,
  startRedis,
  type ClusterNodeProcess,
  type TestRedis,
} from '../support/cluster.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { openPage, receivesMedia, waitConnected } from './helpers.js';

interface Pipes {
  links: number;
  srtpLinks: number;
  incoming: number;
}

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

/** Opens the consult page on a node with a join grant; it joins on its own. */
async function openConsult(node: ClusterNodeProcess, name: string, token: string): Promise<Page> {
  const { page } = await openPage(browsers, name);
  await page.goto(`${node.url}/?token=${token}`);
  const join = page.getByTestId('join-button');
  if ((await join.isVisible()) && (await join.textContent()) === 'Join consult') await join.click();
  return page;
}

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
});
