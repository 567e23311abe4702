/**
 * Issue 11 (room): the consult room on a phone and a laptop, in real Chromium. A doctor on a
 * 390×844 touch phone hosts two specialists on 1366×768 laptops: the phone's call controls are
 * on screen without scrolling, admitting takes one tap to open the waiting-room drawer and End is
 * in the bar; a shared screen takes the laptop's stage without a click; M mutes (not while
 * typing); after the end the controls are off, every camera/microphone/screen track is stopped
 * and the page says so. Screenshots at 390×844, 768×1024 and 1366×768 are saved (path printed).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestBrowser } from '../support/browser.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import type { Consult, User } from '../../src/store/repositories.js';
import {
  logIn,
  openPage,
  pageEvents,
  receivesMedia,
  remoteStats,
  waitConnected,
} from './helpers.js';

const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };
const LAPTOP = { viewport: { width: 1366, height: 768 } };
const SHOTS = path.resolve(process.env.E2E_SHOTS_DIR ?? 'test-results/screenshots');

let gw: TestGateway;
let doctor: User;
let cardio: User;
let radio: User;
let consult: Consult;
const browsers: TestBrowser[] = [];

beforeAll(async () => {
  gw = await startTestGateway();
  doctor = await gw.user('doctor', 'Dr. Grey');
  cardio = await gw.user('specialist', 'Dr. Shepherd');
  radio = await gw.user('specialist', 'Dr. Yang');
  consult = await gw.consult(doctor, [cardio, radio], {
    title: 'Cardiology follow-up with a long title that cannot fit on one phone line',
  });
});

afterAll(async () => {
  for (const b of browsers.splice(0)) await b.close();
  await gw?.stop();
});

/** Keeps every camera, microphone and screen track the page obtains (to check they stop). */
const TRACK_SPY = () => {
  const seen: MediaStreamTrack[] = [];
  (globalThis as unknown as { __tracks: MediaStreamTrack[] }).__tracks = seen;
  const md = navigator.mediaDevices;
  for (const name of ['getUserMedia', 'getDisplayMedia'] as const) {
    const original = md[name].bind(md);
    md[name] = async (constraints?: MediaStreamConstraints) => {
      const stream = await original(constraints);
      seen.push(...stream.getTracks());
      return stream;
    };
  }
};

const trackStates = (page: Page) =>
  page.evaluate(() =>
    (globalThis as unknown as { __tracks: MediaStreamTrack[] }).__tracks.map((t) => ({
      kind: t.kind,
      state: t.readyState,
    })),
  );

async function shot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(SHOTS, { recursive: true });
  const file = path.join(SHOTS, name);
  await page.screenshot({ path: file });
  console.log(`screenshot: ${file}`);
}

/** The element's box lies wholly inside the viewport, and is at least 44×44 px. */
async function inViewport(page: Page, testid: string) {
  const box = await page.getByTestId(testid).boundingBox();
  const vp = page.viewportSize()!;
  expect(box, testid).not.toBeNull();
  expect(box!.x, testid).toBeGreaterThanOrEqual(0);
  expect(box!.y, testid).toBeGreaterThanOrEqual(0);
  expect(box!.x + box!.width, testid).toBeLessThanOrEqual(vp.width);
  expect(box!.y + box!.height, testid).toBeLessThanOrEqual(vp.height);
  expect(box!.width, testid).toBeGreaterThanOrEqual(44);
  expect(box!.height, testid).toBeGreaterThanOrEqual(44);
}

async function openSpecialist(user: User): Promise<Page> {
  const { page } = await openPage(browsers, user.name, [], LAPTOP);
  await page.addInitScript(TRACK_SPY);
  await page.goto(`${gw.url}/?token=${await gw.grant(consult.id, user)}`);
  await page.getByTestId('lobby-waiting').waitFor({ timeout: 15_000 });
  return page;
}

/** The host admits `name`: one tap opens the drawer (unless open), one tap admits. */
async function admitFromPhone(phone: Page, name: string): Promise<void> {
  const entry = phone.getByTestId('lobby-entry').filter({ hasText: name });
  const toggle = phone.getByTestId('lobby-toggle');
  if ((await toggle.getAttribute('aria-expanded')) !== 'true') {
    await inViewport(phone, 'lobby-toggle');
    await phone.getByTestId('lobby-toggle').tap();
  }
  await entry.waitFor({ timeout: 10_000 });
  const admit = entry.getByTestId('admit-button');
  // Reachable as is: inside the viewport, no scrolling of the page.
  const box = (await admit.boundingBox())!;
  expect(box.y + box.height).toBeLessThanOrEqual(844);
  await admit.tap();
}

describe('the consult room on a phone and a laptop', () => {
  let phone: Page;
  let cardioPage: Page;
  let radioPage: Page;

  it('on a 390×844 phone the host admits with one tap to open a drawer; mute, camera, leave and end are on screen without scrolling', async () => {
    ({ page: phone } = await openPage(browsers, 'doctor', [], PHONE));
    await phone.addInitScript(TRACK_SPY);
    await logIn(phone, gw.url, doctor.email, '/doctor');
    await phone.goto(`${gw.url}/consult?token=${await gw.grant(consult.id, doctor)}`);
    await waitConnected(phone);

    cardioPage = await openSpecialist(cardio);
    await expect
      .poll(() => phone.getByTestId('lobby-toggle-count').textContent(), { timeout: 10_000 })
      .toBe('1');
    await admitFromPhone(phone, 'Dr. Shepherd');
    await waitConnected(cardioPage);
    radioPage = await openSpecialist(radio);
    await admitFromPhone(phone, 'Dr. Yang');
    await waitConnected(radioPage);
    await phone.getByTestId('panel-close').tap();

    for (const page of [phone, cardioPage, radioPage]) {
      await expect.poll(() => page.getByTestId('remote-tile').count()).toBe(2);
      await expect.poll(() => receivesMedia(page), { timeout: 15_000, interval: 250 }).toBe(true);
    }

    console.log('three in the call, media flowing');
    // Nothing to scroll: the page is the window, the controls at its bottom.
    const scroll = await phone.evaluate(() => ({
      page: document.scrollingElement!.scrollHeight,
      window: innerHeight,
      y: scrollY,
    }));
    expect(scroll.y).toBe(0);
    expect(scroll.page).toBeLessThanOrEqual(scroll.window);
    for (const id of [
      'mute-button',
      'camera-button',
      'device-menu',
      'leave-button',
      'end-button',
    ]) {
      await inViewport(phone, id);
    }
    // Every control has a name for screen readers.
    const unnamed = await phone
      .locator('nav.controls button:visible')
      .evaluateAll((els) => els.filter((e) => !e.getAttribute('aria-label')).length);
    expect(unnamed).toBe(0);
    // The header is one line: the title is cut, not wrapped.
    const meta = await phone.getByTestId('consult-meta').boundingBox();
    expect(meta!.height).toBeLessThan(30);
    // Three tiles fill the stage: together they cover over half of it.
    const cover = await phone.evaluate(() => {
      const stage = document.getElementById('tiles')!.getBoundingClientRect();
      const tiles = Array.from(document.querySelectorAll('#tiles > .tile')).map((t) =>
        t.getBoundingClientRect(),
      );
      return tiles.reduce((a, r) => a + r.width * r.height, 0) / (stage.width * stage.height);
    });
    expect(cover).toBeGreaterThan(0.5);
    await shot(phone, 'consult-390x844.png');

    console.log('portrait checked');
    // Turned to landscape, the controls are still all on screen.
    await phone.setViewportSize({ width: 844, height: 390 });
    for (const id of ['mute-button', 'camera-button', 'leave-button', 'end-button']) {
      await expect
        .poll(async () => ((await phone.getByTestId(id).boundingBox())?.y ?? 999) + 44)
        .toBeLessThanOrEqual(390);
      await inViewport(phone, id);
    }
    await phone.setViewportSize(PHONE.viewport);
  }, 180_000);

  it('a shared screen fills at least half of a 1366×768 receiver’s width without a click; M mutes, not while typing', async () => {
    await cardioPage.getByTestId('screen-button').click();
    const screen = radioPage.locator('#tiles video[data-source="screen"]');
    await screen.waitFor({ timeout: 30_000 });
    await expect
      .poll(() => radioPage.locator('#tiles').getAttribute('data-layout'), { timeout: 5_000 })
      .toBe('spotlight');
    // The width the shared picture takes on screen (object-fit: contain), once it has frames.
    const shown = async () =>
      screen.evaluate((v: HTMLVideoElement) => {
        const r = v.getBoundingClientRect();
        if (!v.videoWidth || !v.videoHeight) return 0;
        return Math.min(r.width, (r.height * v.videoWidth) / v.videoHeight);
      });
    try {
      // The first frame of a new screen share can take a while on a loaded machine.
      await expect.poll(shown, { timeout: 30_000, interval: 250 }).toBeGreaterThanOrEqual(1366 / 2);
    } catch (err) {
      await shot(radioPage, 'debug-share.png');
      console.log(JSON.stringify((await pageEvents(radioPage)).slice(-15)));
      console.log(JSON.stringify(await remoteStats(radioPage)));
      throw err;
    }
    await expect
      .poll(() => phone.locator('#tiles').getAttribute('data-layout'), { timeout: 5_000 })
      .toBe('spotlight');
    await shot(radioPage, 'consult-1366x768-screen-share.png');

    // "Show all" goes back to the grid; pinning a tile brings a spotlight back.
    await radioPage.getByTestId('spotlight-exit').click();
    await expect.poll(() => radioPage.locator('#tiles').getAttribute('data-layout')).toBe('grid');
    expect(await radioPage.getByTestId('spotlight-exit').isHidden()).toBe(true);
    await radioPage.locator('#tiles > .tile').first().hover();
    await radioPage.locator('#tiles > .tile').first().getByTestId('pin-button').click();
    await expect
      .poll(() => radioPage.locator('#tiles').getAttribute('data-layout'))
      .toBe('spotlight');
    await radioPage.getByTestId('spotlight-exit').click();

    // Keyboard: M mutes and unmutes; typed into the chat it is a letter.
    const mute = radioPage.getByTestId('mute-button');
    expect(await mute.getAttribute('aria-pressed')).toBe('false');
    await radioPage.keyboard.press('m');
    await expect.poll(() => mute.getAttribute('aria-pressed')).toBe('true');
    await radioPage.getByTestId('chat-input').fill('');
    await radioPage.getByTestId('chat-input').press('m');
    expect(await radioPage.getByTestId('chat-input').inputValue()).toBe('m');
    expect(await mute.getAttribute('aria-pressed')).toBe('true');
    await radioPage.getByTestId('chat-input').fill('');
    await radioPage.locator('body').click({ position: { x: 5, y: 5 } });
    await radioPage.keyboard.press('m');
    await expect.poll(() => mute.getAttribute('aria-pressed')).toBe('false');

    await cardioPage.getByTestId('screen-button').click();
    await expect.poll(() => radioPage.locator('#tiles').getAttribute('data-layout')).toBe('grid');
    await shot(radioPage, 'consult-1366x768.png');
    await radioPage.setViewportSize({ width: 768, height: 1024 });
    await expect.poll(() => radioPage.getByTestId('chat-toggle').isVisible()).toBe(true);
    await inViewport(radioPage, 'mute-button');
    await shot(radioPage, 'consult-768x1024.png');
  }, 180_000);

  it('after the end: controls off, every track stopped, the page says so; the host gets the record link', async () => {
    await phone.getByTestId('end-button').tap();
    await phone.getByTestId('end-confirm-button').tap();
    for (const page of [phone, cardioPage, radioPage]) {
      await expect
        .poll(() => page.getByTestId('connection-state').textContent(), { timeout: 10_000 })
        .toBe('ended');
      for (const id of ['mute-button', 'camera-button', 'screen-button', 'leave-button']) {
        expect(await page.getByTestId(id).isDisabled(), id).toBe(true);
      }
      const tracks = await trackStates(page);
      expect(tracks.length).toBeGreaterThanOrEqual(2);
      expect(tracks.filter((t) => t.state !== 'ended')).toEqual([]);
      expect(await page.getByTestId('devices-released').textContent()).toContain('released');
      expect(await page.getByTestId('chat-input').isDisabled()).toBe(true);
    }
    expect(await cardioPage.getByTestId('after-next').textContent()).toMatch(/close this window/);
    await expect
      .poll(() => phone.getByTestId('banner-record').getAttribute('href'))
      .toBe(`/consults/${consult.id}/record`);
    await inViewport(phone, 'banner-record');
    expect(await phone.getByTestId('after-next').textContent()).toMatch(/record/);
    await shot(phone, 'consult-390x844-ended.png');
  }, 30_000);
});
