/**
 * Issue 3 end to end in two browsers: an admin logs in and schedules a consult for a doctor;
 * the doctor logs in, creates an invite link and starts the consult; an external specialist
 * opens the invite link, waits in the lobby, is admitted, and both see each other's video.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestBrowser } from '../support/browser.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import type { User } from '../../src/store/repositories.js';
import { localInput, logIn, openPage, receivesMedia, waitConnected } from './helpers.js';

let gw: TestGateway;
let admin: User;
let doctor: User;
let specialist: User;
const browsers: TestBrowser[] = [];

beforeAll(async () => {
  gw = await startTestGateway();
  admin = await gw.user('admin', 'Ada Admin');
  doctor = await gw.user('doctor', 'Dr. Grey');
  specialist = await gw.user('specialist', 'Dr. Bailey');
});

afterAll(async () => {
  for (const b of browsers.splice(0)) await b.close();
  await gw?.stop();
});

describe('scheduling, invitation and the waiting room in the browser', () => {
  it('admin schedules, doctor invites and starts, the guest is admitted from the lobby, both see video', async () => {
    const { page: clinic } = await openPage(browsers, 'clinic');

    // The admin schedules a consult hosted by the doctor, inviting a specialist account.
    await logIn(clinic, gw.url, admin.email, '/admin');
    const start = new Date();
    start.setSeconds(0, 0);
    await clinic.getByTestId('consult-title').fill('Cardiology second opinion');
    await clinic.getByTestId('consult-patient').fill('MRN-7f3a9c');
    await clinic.getByTestId('consult-start').fill(localInput(start));
    await clinic
      .getByTestId('consult-end')
      .fill(localInput(new Date(start.getTime() + 45 * 60_000)));
    await clinic.getByTestId('consult-host').selectOption(doctor.id);
    await clinic.getByTestId(`consult-specialist-${specialist.id}`).check();
    await clinic.getByTestId('consult-create').click();
    const adminRow = clinic
      .getByTestId('consult-row')
      .filter({ hasText: 'Cardiology second opinion' });
    await adminRow.waitFor({ timeout: 10_000 });
    const consultId = (await adminRow.getAttribute('data-consult-id'))!;
    const scheduled = (await gw.consults.find(consultId))!;
    expect(scheduled).toMatchObject({
      hostId: doctor.id,
      specialistIds: [specialist.id],
      patientRef: 'MRN-7f3a9c',
    });
    expect(scheduled.scheduledStart).toBe(start.getTime());

    // The doctor (same browser, after logging the admin out) sees it and creates an invite link.
    await clinic.getByTestId('logout-button').click();
    await clinic.waitForURL(`${gw.url}/login`);
    await logIn(clinic, gw.url, doctor.email, '/doctor');
    const row = clinic.locator(`[data-testid="consult-row"][data-consult-id="${consultId}"]`);
    await row.waitFor({ timeout: 10_000 });
    await row.getByTestId('invite-button').click();
    await row.getByTestId('invite-name').fill('Dr. House (external)');
    await row.getByTestId('invite-create').click();
    const inviteUrl = await row.getByTestId('invite-url').inputValue({ timeout: 10_000 });
    expect(inviteUrl).toMatch(new RegExp(`^${gw.url}/\\?invite=`));
    await expect.poll(() => row.getByTestId('invite-row').count()).toBe(1);

    // The doctor starts the consult: the consult page joins as host.
    await row.getByTestId('start-button').click();
    await clinic.waitForURL(/\/consult\?token=/);
    await waitConnected(clinic);
    expect((await gw.consults.find(consultId))?.status).toBe('live');

    // The external specialist opens the invite link in another browser and waits.
    const { page: guest } = await openPage(browsers, 'guest');
    await guest.goto(inviteUrl);
    await guest.getByTestId('lobby-waiting').waitFor({ timeout: 15_000 });
    expect(await guest.getByTestId('connection-state').textContent()).toBe('waiting');
    expect(await guest.getByTestId('remote-video').count()).toBe(0);

    // The doctor admits them from the lobby panel.
    const entry = clinic.getByTestId('lobby-entry');
    await entry.waitFor({ timeout: 10_000 });
    expect(await entry.textContent()).toContain('Dr. House (external)');
    await entry.getByTestId('admit-button').click();
    await waitConnected(guest);
    expect(await guest.getByTestId('lobby-waiting').isVisible()).toBe(false);

    // Both see each other's video.
    await expect
      .poll(() => receivesMedia(clinic, false), { timeout: 15_000, interval: 250 })
      .toBe(true);
    await expect
      .poll(() => receivesMedia(guest, false), { timeout: 15_000, interval: 250 })
      .toBe(true);
    expect(await clinic.getByTestId('remote-video').count()).toBe(1);
    expect(await guest.getByTestId('remote-video').count()).toBe(1);
  }, 60_000);
});
