/**
 * Two headless Chromium "people" (fake camera and mic) join one consult through the real
 * gateway, its real mediasoup worker and the built client: the specialist waits in the lobby
 * until the doctor admits them, then each sees and hears the other.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestBrowser } from '../support/browser.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import type { Consult, User } from '../../src/store/repositories.js';
import { openPage, receivesMedia, waitConnected } from './helpers.js';

let gw: TestGateway;
let doctor: User;
let specialist: User;
let consult: Consult;
const browsers: TestBrowser[] = [];

beforeAll(async () => {
  gw = await startTestGateway();
  doctor = await gw.user('doctor', 'Dr. Grey');
  specialist = await gw.user('specialist', 'Dr. Shepherd');
  consult = await gw.consult(doctor, [specialist]);
});

afterAll(async () => {
  for (const b of browsers.splice(0)) await b.close();
  await gw?.stop();
});

/** Opens the consult page with a join grant (as `npm run token` mints it). */
async function openConsult(user: User): Promise<Page> {
  const { page } = await openPage(browsers, user.name);
  await page.goto(`${gw.url}/?token=${await gw.grant(consult.id, user)}`);
  // The page joins on its own from the URL token; otherwise press Join.
  const join = page.getByTestId('join-button');
  if ((await join.isVisible()) && (await join.textContent()) === 'Join consult') await join.click();
  return page;
}

describe('a two-browser consult', () => {
  it('the host admits the specialist; each decodes the other’s video and receives its audio; a leave removes the tile', async () => {
    const [doctorPage, specialistPage] = await Promise.all([
      openConsult(doctor),
      openConsult(specialist),
    ]);
    await waitConnected(doctorPage);

    // The specialist waits in the lobby until the doctor admits them.
    await expect
      .poll(() => specialistPage.getByTestId('lobby-waiting').isVisible(), { timeout: 10_000 })
      .toBe(true);
    expect(await specialistPage.getByTestId('connection-state').textContent()).toBe('waiting');
    const entry = doctorPage.getByTestId('lobby-entry');
    await entry.waitFor({ timeout: 10_000 });
    expect(await entry.textContent()).toContain('Dr. Shepherd');
    await entry.getByTestId('admit-button').click();
    await waitConnected(specialistPage);
    expect(await specialistPage.getByTestId('lobby-waiting').isVisible()).toBe(false);
    await expect.poll(() => doctorPage.getByTestId('lobby-entry').count()).toBe(0);

    await expect
      .poll(() => receivesMedia(doctorPage), { timeout: 15_000, interval: 250 })
      .toBe(true);
    await expect
      .poll(() => receivesMedia(specialistPage), { timeout: 15_000, interval: 250 })
      .toBe(true);
    expect(await doctorPage.getByTestId('remote-video').count()).toBe(1);
    expect(await specialistPage.getByTestId('remote-video').count()).toBe(1);

    // The server sees both peers with simulcast camera video and audio.
    expect(gw.rooms.counts()).toMatchObject({ consults: 1, peers: 2, producers: 4, consumers: 4 });
    expect((await gw.consults.find(consult.id))?.status).toBe('live');

    await specialistPage.getByTestId('leave-button').click();
    await expect
      .poll(() => doctorPage.getByTestId('remote-video').count(), { timeout: 10_000 })
      .toBe(0);
    await expect
      .poll(() => specialistPage.getByTestId('connection-state').textContent(), { timeout: 5_000 })
      .toMatch(/left/i);
    expect(gw.rooms.counts()).toMatchObject({ peers: 1, consumers: 0 });
  }, 60_000);
});
