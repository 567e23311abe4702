/**
 * Issue 11, items 3 and 4 in real Chromium (fake camera and microphone): the waiting guest's
 * pre-call check lists devices, shows a moving microphone level and a network verdict, and
 * that verdict reaches the consult record; the host hears a beep and gets a notification
 * within a second of the guest's arrival, sees the dashboard badge, and can send the guest
 * a message shown on the waiting page. Once admitted, the guest switches camera and microphone
 * mid-call without re-joining.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { TestBrowser } from '../support/browser.js';
import { TEST_PASSWORD, startTestGateway, type TestGateway } from '../support/gateway.js';
import { apiClient } from '../support/http.js';
import type { Consult, User } from '../../src/store/repositories.js';
import { localInput, logIn, mediaCounter, openPage, waitConnected } from './helpers.js';

let gw: TestGateway;
let doctor: User;
let specialist: User;
let consult: Consult;
const browsers: TestBrowser[] = [];

beforeAll(async () => {
  gw = await startTestGateway();
  doctor = await gw.user('doctor', 'Dr. Grey');
  specialist = await gw.user('specialist', 'Dr. Bailey');
  consult = await gw.consult(doctor, [specialist], { title: 'Pre-call check consult' });
});

afterAll(async () => {
  for (const b of browsers.splice(0)) await b.close();
  await gw?.stop();
});

interface AlertLog {
  beeps: number[];
  notifications: { at: number; title: string }[];
}

/** Records every oscillator started (the beep) and every notification shown, with times. */
function instrumentAlerts(): void {
  const log: AlertLog = { beeps: [], notifications: [] };
  (window as unknown as { __alerts: AlertLog }).__alerts = log;
  const start = OscillatorNode.prototype.start;
  OscillatorNode.prototype.start = function (this: OscillatorNode, ...args: [number?]) {
    log.beeps.push(Date.now());
    return start.apply(this, args);
  };
  const Real = window.Notification;
  window.Notification = class extends Real {
    constructor(title: string, options?: NotificationOptions) {
      super(title, options);
      log.notifications.push({ at: Date.now(), title });
    }
  } as typeof Notification;
}

const alerts = (page: Page) =>
  page.evaluate(() => (window as unknown as { __alerts: AlertLog }).__alerts);

describe('the pre-call check and waiting-room alerts in the browser', () => {
  it('checks devices and network while waiting, alerts the host within 1 s, and records the check', async () => {
    // The doctor starts the consult from the dashboard (the click allows sound and asks for
    // notifications, which this profile grants).
    const { browser: clinicBrowser, page: clinic } = await openPage(browsers, 'doctor');
    await clinicBrowser.context.grantPermissions(['notifications', 'camera', 'microphone'], {
      origin: gw.url,
    });
    await clinic.addInitScript(instrumentAlerts);
    await logIn(clinic, gw.url, doctor.email, '/doctor');
    const row = clinic.locator(`[data-testid="consult-row"][data-consult-id="${consult.id}"]`);
    await row.getByTestId('start-button').click();
    await clinic.waitForURL(/\/consult\?token=/);
    await waitConnected(clinic);
    expect((await alerts(clinic)).beeps).toEqual([]);

    // The specialist arrives and waits.
    const { page: guest } = await openPage(browsers, 'specialist');
    await guest.goto(`${gw.url}/?token=${await gw.grant(consult.id, specialist)}`);
    await guest.getByTestId('lobby-waiting').waitFor({ timeout: 15_000 });
    await expect
      .poll(async () => (await gw.lobby.list(consult.id)).length, { timeout: 10_000 })
      .toBe(1);
    const arrivedAt = (await gw.lobby.list(consult.id))[0]!.since;

    // The host was alerted: a beep and a notification, within a second of the arrival.
    await expect.poll(async () => (await alerts(clinic)).notifications.length).toBe(1);
    const log = await alerts(clinic);
    expect(log.beeps.length).toBeGreaterThan(0);
    expect(log.beeps[0]! - arrivedAt).toBeLessThanOrEqual(1000);
    expect(log.notifications[0]!.at - arrivedAt).toBeLessThanOrEqual(1000);
    expect(log.notifications[0]!.title).toMatch(/waiting/);
    expect(await clinic.getByTestId('lobby-entry').textContent()).toContain('waiting');

    // The guest's pre-call check: devices listed, a moving microphone level, a network verdict.
    const check = guest.getByTestId('precall');
    await check.waitFor({ timeout: 10_000 });
    await expect
      .poll(() => check.getByTestId('precall-camera-select').locator('option').count(), {
        timeout: 15_000,
      })
      .toBeGreaterThan(0);
    await expect
      .poll(() => check.getByTestId('precall-mic-select').locator('option').count(), {
        timeout: 15_000,
      })
      .toBeGreaterThan(0);
    await expect
      .poll(() => check.getByTestId('precall-camera').getAttribute('data-state'), {
        timeout: 15_000,
      })
      .toBe('ok');
    // Browsers start audio after a tap: the guest taps the check once.
    await check.getByRole('heading', { name: /Check your camera/ }).click();
    const levels = new Set<string>();
    await expect
      .poll(
        async () => {
          const level = await check.getByTestId('precall-mic-level').getAttribute('data-level');
          if (level && Number(level) > 0) levels.add(level);
          return levels.size;
        },
        { timeout: 10_000, interval: 100 },
      )
      .toBeGreaterThanOrEqual(3);
    const network = check.getByTestId('precall-network');
    await expect
      .poll(() => network.getAttribute('data-verdict'), { timeout: 15_000 })
      .toMatch(/^(good|fair|poor)$/);
    const verdict = (await network.getAttribute('data-verdict'))!;
    // Measured against the media port itself: on loopback UDP gets through.
    expect(await network.getAttribute('data-path')).toBe('udp');
    expect(await network.getByTestId('precall-network-verdict').textContent()).toMatch(
      /round trip \d+ ms to the media server over UDP/,
    );
    // The probe transport was closed once its burst was counted.
    expect(gw.probes.open).toBe(0);

    // The dashboard, in another tab of the host, shows who waits.
    const dashboard = await clinicBrowser.context.newPage();
    await dashboard.goto(`${gw.url}/doctor`);
    await dashboard
      .locator(`[data-testid="consult-row"][data-consult-id="${consult.id}"]`)
      .getByTestId('waiting-badge')
      .waitFor({ timeout: 10_000 });
    await dashboard.close();

    // The host sends "5 minutes"; the waiting page shows it.
    const entry = clinic.getByTestId('lobby-entry');
    await entry.getByTestId('lobby-message').locator('summary').click();
    await entry.getByTestId('lobby-quick-0').click();
    await expect
      .poll(() => guest.getByTestId('host-message').textContent(), { timeout: 10_000 })
      .toContain('I will be with you in 5 minutes');

    // Admitted: the check's result is in the record with the join.
    await entry.getByTestId('admit-button').click();
    await waitConnected(guest);
    expect(await guest.getByTestId('precall').count()).toBe(0);

    // Mid-call the guest picks a camera and a microphone: the same producers send the new
    // tracks (no re-join), the choice is remembered, and the host keeps decoding the video.
    type Sent = { source: string; producerId: string; trackId: string | null }[];
    const sending = () =>
      guest.evaluate(
        () =>
          (globalThis as unknown as { __consult: { localProducers: Sent } }).__consult
            .localProducers,
      );
    await expect
      .poll(async () => (await sending()).map((p) => p.source).sort(), { timeout: 15_000 })
      .toEqual(['camera', 'mic']);
    const before = await sending();
    const menu = guest.getByTestId('device-menu');
    await menu.locator('summary').click();
    const pick = async (testid: string) => {
      const select = menu.getByTestId(testid);
      await expect.poll(() => select.locator('option:not([value=""])').count()).toBeGreaterThan(0);
      await expect.poll(() => select.isDisabled()).toBe(false);
      const value = (await select.locator('option').last().getAttribute('value'))!;
      await select.selectOption(value);
      return value;
    };
    const cameraId = await pick('device-camera');
    const micId = await pick('device-mic');
    const switched = async () => {
      const now = await sending();
      return before.every((b) => {
        const a = now.find((p) => p.source === b.source);
        return a?.producerId === b.producerId && a.trackId !== null && a.trackId !== b.trackId;
      });
    };
    await expect.poll(switched, { timeout: 10_000 }).toBe(true);
    expect(
      await guest.evaluate(() => JSON.parse(localStorage.getItem('telemed.devices') ?? '{}')),
    ).toMatchObject({ cameraId, micId });
    const received = mediaCounter(clinic);
    const framesAfterSwitch = (await received()).video;
    await expect
      .poll(async () => (await received()).video, { timeout: 10_000 })
      .toBeGreaterThan(framesAfterSwitch + 15);
    const api = apiClient(gw.url);
    const token = await api.login(doctor.email, TEST_PASSWORD);
    const precheckOf = async () =>
      (await api.get(`/consults/${consult.id}/record`, token)).body.participants.find(
        (p: { participantId: string }) => p.participantId === specialist.id,
      )?.precheck;
    await expect.poll(precheckOf, { timeout: 10_000 }).toMatchObject({
      camera: 'ok',
      microphone: 'ok',
      micHeard: true,
      network: {
        verdict,
        path: 'udp',
        rttMs: expect.any(Number),
        upKbps: expect.any(Number),
        https: { rttMs: expect.any(Number) },
      },
    });
    // The upstream figure is what the media server counted from the burst: some data came.
    expect((await precheckOf()).network.upKbps).toBeGreaterThan(0);
    await clinic.goto(`${gw.url}/consults/${consult.id}/record`);
    const line = clinic.getByTestId('record-precheck');
    await line.waitFor({ timeout: 10_000 });
    expect(await line.textContent()).toMatch(/camera worked, microphone worked \(heard\)/);
    expect(await line.getAttribute('data-network')).toBe(verdict);
    expect(await line.getAttribute('data-path')).toBe('udp');
    expect(await line.textContent()).toMatch(/media server over UDP .*round trip \d+ ms/);
  }, 120_000);

  it('a doctor schedules with a guest (link and QR code), checks devices, then starts with the check recorded', async () => {
    const { page } = await openPage(browsers, 'scheduler');
    await logIn(page, gw.url, doctor.email, '/doctor');
    await page.getByTestId('schedule-toggle').click();
    const start = new Date();
    start.setSeconds(0, 0);
    await page.getByTestId('consult-title').fill('Wound review');
    await page.getByTestId('consult-patient').fill('MRN-42');
    await page.getByTestId('consult-start').fill(localInput(start));
    await page.getByTestId('consult-end').fill(localInput(new Date(start.getTime() + 30 * 60_000)));
    await page.getByTestId('guest-add').click();
    await page.getByTestId('guest-name').fill('Pat Guest');
    await page.getByTestId('consult-create').click();

    // The guest's link is there to copy, with a QR code for a phone (no e-mail configured).
    const invite = page.getByTestId('scheduled-invite');
    await invite.waitFor({ timeout: 10_000 });
    expect(await invite.getAttribute('data-emailed')).toBe('not_configured');
    expect(await invite.getByTestId('scheduled-invite-url').inputValue()).toMatch(
      new RegExp(`^${gw.url}/\\?invite=`),
    );
    await expect
      .poll(() => invite.getByTestId('scheduled-invite-qr').getAttribute('src'))
      .toMatch(/^data:image\/png;base64,/);

    // Check devices, then start from the check.
    const row = page.getByTestId('consult-row').filter({ hasText: 'Wound review' });
    await row.getByTestId('precall-button').click({ timeout: 15_000 });
    const check = row.getByTestId('precall');
    await check.waitFor({ timeout: 10_000 });
    await expect
      .poll(() => check.getByTestId('precall-network').getAttribute('data-verdict'), {
        timeout: 15_000,
      })
      .toMatch(/^(good|fair|poor)$/);
    await expect
      .poll(() => check.getByTestId('precall-camera').getAttribute('data-state'), {
        timeout: 15_000,
      })
      .toBe('ok');
    await check.getByTestId('precall-continue').click();
    await page.waitForURL(/\/consult\?token=/);
    await waitConnected(page);

    const consultId = (await gw.consults.liveConsults()).find(
      (c) => c.title === 'Wound review',
    )!.id;
    const api = apiClient(gw.url);
    const token = await api.login(doctor.email, TEST_PASSWORD);
    await expect
      .poll(
        async () =>
          (await api.get(`/consults/${consultId}/record`, token)).body.participants.find(
            (p: { participantId: string }) => p.participantId === doctor.id,
          )?.precheck?.camera,
        { timeout: 10_000 },
      )
      .toBe('ok');
  }, 90_000);
});
