/**
 * Issue 4 end to end: a doctor (logged in through the UI) starts a consult from the dashboard
 * and admits a specialist from the lobby; media flows, they chat, the tiles show the server's
 * live quality figures; the doctor ends the consult and opens its record, which shows both
 * participants with their time present, the timeline, the chat and non-empty quality charts.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestBrowser } from '../support/browser.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import type { Consult, User } from '../../src/store/repositories.js';
import { logIn, openPage, receivesMedia, waitConnected } from './helpers.js';

let gw: TestGateway;
let admin: User;
let doctor: User;
let specialist: User;
let consult: Consult;
const browsers: TestBrowser[] = [];
/** Set E2E_SHOTS_DIR to keep screenshots of the record page. */
const shots = process.env.E2E_SHOTS_DIR;

beforeAll(async () => {
  gw = await startTestGateway({ QUALITY_SAMPLE_SECONDS: '1' });
  admin = await gw.user('admin', 'Ada Admin');
  doctor = await gw.user('doctor', 'Dr. Grey');
  specialist = await gw.user('specialist', 'Dr. Shepherd');
  consult = await gw.consult(doctor, [specialist], { title: 'Cardiology follow-up' });
});

afterAll(async () => {
  for (const b of browsers.splice(0)) await b.close();
  await gw?.stop();
});

async function shot(target: Page | Locator, name: string): Promise<void> {
  if (!shots) return;
  fs.mkdirSync(shots, { recursive: true });
  const file = path.join(shots, name);
  if ('goto' in target) await target.screenshot({ path: file, fullPage: true });
  else await target.screenshot({ path: file });
}

const chatTexts = (page: Page) => page.getByTestId('chat-text').allTextContents();

describe('the consult record in the browser', () => {
  it('after a two-browser consult the doctor sees both participants, their durations and quality charts', async () => {
    // The doctor logs in and starts the consult from the dashboard.
    const { page: clinic } = await openPage(browsers, 'doctor');
    await logIn(clinic, gw.url, doctor.email, '/doctor');
    const row = clinic.locator(`[data-testid="consult-row"][data-consult-id="${consult.id}"]`);
    await row.getByTestId('start-button').click();
    await clinic.waitForURL(/\/consult\?token=/);
    await waitConnected(clinic);

    // The specialist joins with a join grant and is admitted from the lobby.
    const { page: remote } = await openPage(browsers, 'specialist');
    await remote.goto(`${gw.url}/?token=${await gw.grant(consult.id, specialist)}`);
    await clinic.getByTestId('lobby-entry').getByTestId('admit-button').click({ timeout: 15_000 });
    await waitConnected(remote);
    await expect.poll(() => receivesMedia(clinic), { timeout: 15_000, interval: 250 }).toBe(true);
    await expect.poll(() => receivesMedia(remote), { timeout: 15_000, interval: 250 }).toBe(true);

    // Chat both ways; the sender sees its own message echoed once.
    await clinic.getByTestId('chat-input').fill('Can you see the ECG I shared?');
    await clinic.getByTestId('chat-send').click();
    await expect.poll(() => chatTexts(remote)).toEqual(['Can you see the ECG I shared?']);
    await remote.getByTestId('chat-input').fill('Yes: sinus rhythm, no ST changes.');
    await remote.getByTestId('chat-input').press('Enter');
    await expect
      .poll(() => chatTexts(clinic))
      .toEqual(['Can you see the ECG I shared?', 'Yes: sinus rhythm, no ST changes.']);
    expect(await clinic.getByTestId('chat-input').inputValue()).toBe('');

    // The tiles' quality indicators show the server's figures (sampled every second here).
    const quality = clinic.getByTestId('remote-tile').getByTestId('quality');
    await expect
      .poll(() => quality.getAttribute('title'), { timeout: 10_000 })
      .toMatch(/^Network (good|fair|poor): RTT/);

    // The host writes notes during the consult.
    const notes = clinic.getByTestId('consult-notes');
    await notes.locator('summary').click();
    await notes.getByTestId('notes-input').fill('Stable; no acute changes.');
    await notes.getByTestId('outcome-input').fill('Follow-up in 3 months.');
    await notes.getByTestId('notes-save').click();
    await expect.poll(() => notes.getByTestId('notes-state').textContent()).toMatch(/^Saved/);
    await shot(clinic, 'consult.png');

    // Media keeps flowing a little longer (more samples), then the doctor ends the consult.
    await clinic.waitForTimeout(2500);
    await clinic.getByTestId('end-button').click();
    await clinic.getByTestId('end-confirm-button').click();
    await expect.poll(() => remote.getByTestId('connection-state').textContent()).toBe('ended');

    // From the end banner to the record page.
    await clinic.getByTestId('banner-record').click();
    await clinic.waitForURL(`${gw.url}/consults/${consult.id}/record`);
    const participants = clinic.getByTestId('record-participant');
    await expect.poll(() => participants.count(), { timeout: 10_000 }).toBe(2);
    expect(await clinic.getByTestId('record-title').textContent()).toBe('Cardiology follow-up');
    expect(await clinic.getByTestId('consult-status').getAttribute('data-status')).toBe('ended');
    expect((await clinic.getByTestId('record-participant-name').allTextContents()).sort()).toEqual([
      'Dr. Grey',
      'Dr. Shepherd',
    ]);
    for (const seconds of await clinic
      .getByTestId('record-duration')
      .evaluateAll((els) => els.map((e) => Number((e as HTMLElement).dataset.seconds)))) {
      expect(seconds).toBeGreaterThan(0);
    }
    expect(await clinic.getByTestId('record-duration').first().textContent()).toMatch(/\d+ s$/);

    // One chart per participant, each with the samples it plotted.
    const charts = clinic.getByTestId('quality-chart');
    expect(await charts.count()).toBe(2);
    const points = await charts.evaluateAll((els) =>
      els.map((e) => Number(e.getAttribute('data-points'))),
    );
    expect(Math.max(...points)).toBeGreaterThan(0);
    expect(points.every((n) => n > 0)).toBe(true);
    expect(await charts.first().locator('path.q-line').count()).toBeGreaterThan(0);
    // Pointing at a chart reads out the figures of the nearest sample.
    await charts.first().hover();
    expect(await clinic.locator('.quality-readout').first().textContent()).toMatch(
      /sent [\d,.]+\s?kbps/,
    );
    await shot(clinic.getByTestId('quality-block').first(), 'record-chart.png');

    // The timeline, the chat transcript and the notes are there too.
    const types = await clinic
      .getByTestId('timeline-item')
      .evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.type));
    expect(types).toEqual(
      expect.arrayContaining([
        'consult.started',
        'participant.joined',
        'lobby.waiting',
        'lobby.admitted',
        'media.started',
        'consult.ended',
      ]),
    );
    expect(await clinic.getByTestId('record-timeline').textContent()).toContain(
      'Dr. Shepherd joined',
    );
    expect(await clinic.getByTestId('record-chat-message').count()).toBe(2);
    expect(await clinic.getByTestId('notes-input').inputValue()).toBe('Stable; no acute changes.');
    await shot(clinic, 'record.png');

    // The FHIR export downloads as a Bundle.
    const [download] = await Promise.all([
      clinic.waitForEvent('download'),
      clinic.getByTestId('fhir-download').click(),
    ]);
    expect(download.suggestedFilename()).toMatch(/fhir-r4\.json$/);
    const bundle = JSON.parse(fs.readFileSync((await download.path())!, 'utf8'));
    expect(bundle.resourceType).toBe('Bundle');

    // The dashboard lists the ended consult under "Past consults", linking to its record.
    await clinic.goto(`${gw.url}/doctor`);
    const past = clinic
      .getByTestId('past')
      .locator(`[data-testid="consult-row"][data-consult-id="${consult.id}"]`);
    await past.waitFor({ timeout: 10_000 });
    await shot(clinic, 'doctor.png');
    expect(await past.getByTestId('record-link').getAttribute('href')).toBe(
      `/consults/${consult.id}/record`,
    );
  }, 60_000);

  it('an admin finds the consult’s joins, record view and export in the audit log', async () => {
    const { page } = await openPage(browsers, 'admin');
    await logIn(page, gw.url, admin.email, '/admin');
    await page.getByTestId('nav-admin-audit').click();
    await page.waitForURL(`${gw.url}/admin/audit`);
    await page.getByTestId('audit-row').first().waitFor({ timeout: 10_000 });

    // Everything that touched this consult, newest first.
    await page.getByTestId('audit-filter-object').fill(consult.id);
    await page.getByTestId('audit-search').click();
    await page.waitForURL(/object=/);
    await expect
      .poll(() => page.getByTestId('audit-action').allTextContents())
      .toContain('record.export');
    const actions = await page.getByTestId('audit-action').allTextContents();
    expect(actions).toEqual(
      expect.arrayContaining(['record.export', 'record.view', 'consult.end', 'consult.notes']),
    );
    expect(actions[0]).toBe('record.export');

    // A prefix filter: only record.* rows.
    await page.getByTestId('audit-filter-action').fill('record');
    await page.getByTestId('audit-search').click();
    await expect
      .poll(async () =>
        [...new Set(await page.getByTestId('audit-action').allTextContents())].sort(),
      )
      .toEqual(['record.export', 'record.view']);
    await shot(page, 'audit.png');
  }, 30_000);
});
