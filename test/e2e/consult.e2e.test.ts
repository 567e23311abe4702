/**
 * Two headless Chromium "people" (fake camera and mic) join one consult through the real
 * gateway, its real mediasoup worker and the built client, and see and hear each other.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, type TestBrowser } from '../support/browser.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

interface RemoteStat {
  peerId: string;
  kind: 'audio' | 'video';
  framesDecoded?: number;
  packetsReceived: number;
}

let gw: TestGateway;
const browsers: TestBrowser[] = [];

beforeAll(async () => {
  gw = await startTestGateway();
});

afterAll(async () => {
  for (const b of browsers.splice(0)) await b.close();
  await gw?.stop();
});

async function openConsult(name: string, role: 'doctor' | 'specialist'): Promise<Page> {
  const browser = await launchBrowser();
  browsers.push(browser);
  const page = await browser.context.newPage();
  page.on('pageerror', (err) => console.error(`[${name}] page error:`, err.message));
  const token = gw.token({ consultId: 'e2e-consult', name, role, userId: name });
  await page.goto(`${gw.url}/?token=${token}`);
  // The page may join on its own from the URL token; otherwise press Join.
  const join = page.getByTestId('join-button');
  if (await join.isVisible()) await join.click();
  await expect
    .poll(() => page.getByTestId('connection-state').textContent(), { timeout: 15_000 })
    .toBe('connected');
  return page;
}

const remoteStats = (page: Page) =>
  page.evaluate(() =>
    (
      globalThis as unknown as { __consult: { getRemoteStats(): Promise<unknown> } }
    ).__consult.getRemoteStats(),
  ) as Promise<RemoteStat[]>;

/** True once this page decodes a remote video frame and receives remote audio packets. */
async function receivesMedia(page: Page): Promise<boolean> {
  const stats = await remoteStats(page);
  const video = stats.some((s) => s.kind === 'video' && (s.framesDecoded ?? 0) > 0);
  const audio = stats.some((s) => s.kind === 'audio' && s.packetsReceived > 0);
  return video && audio;
}

describe('a two-browser consult', () => {
  it('each side decodes the other’s video and receives its audio; a leave removes the tile', async () => {
    const [doctor, specialist] = await Promise.all([
      openConsult('Dr. Grey', 'doctor'),
      openConsult('Dr. Shepherd', 'specialist'),
    ]);

    await expect.poll(() => receivesMedia(doctor), { timeout: 15_000, interval: 250 }).toBe(true);
    await expect
      .poll(() => receivesMedia(specialist), { timeout: 15_000, interval: 250 })
      .toBe(true);
    expect(await doctor.getByTestId('remote-video').count()).toBe(1);
    expect(await specialist.getByTestId('remote-video').count()).toBe(1);

    // The server sees both peers with simulcast camera video and audio.
    expect(gw.rooms.counts()).toMatchObject({ consults: 1, peers: 2, producers: 4, consumers: 4 });

    await specialist.getByTestId('leave-button').click();
    await expect
      .poll(() => doctor.getByTestId('remote-video').count(), { timeout: 10_000 })
      .toBe(0);
    await expect
      .poll(() => specialist.getByTestId('connection-state').textContent(), { timeout: 5_000 })
      .toMatch(/left/i);
    expect(gw.rooms.counts()).toMatchObject({ peers: 1, consumers: 0 });
  }, 60_000);
});
