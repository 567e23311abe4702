/**
 * Debian's Firefox ESR driven by puppeteer-core over WebDriver BiDi, with a fake camera and
 * microphone and no permission prompts. Firefox pairs no loopback ICE candidates, so media
 * reaches it on the gateway's LAN address (RTC_LAN_IP).
 */
import fs from 'node:fs';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';

export const FIREFOX_PATH = process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr';

const PREFS: Record<string, unknown> = {
  'media.navigator.streams.fake': true,
  'media.navigator.permission.disabled': true,
  // Play received audio and video without a user gesture, as a clicked "Join" would allow.
  'media.autoplay.default': 0,
  'media.autoplay.blocking_policy': 0,
  // No first-run pages, updates or telemetry traffic.
  'app.update.disabledForTesting': true,
  'browser.shell.checkDefaultBrowser': false,
  'datareporting.policy.dataSubmissionEnabled': false,
  'toolkit.telemetry.reportingpolicy.firstRun': false,
};

export interface TestFirefox {
  browser: Browser;
  page: Page;
  close(): Promise<void>;
}

/** Whether Firefox ESR is installed (scripts/setup.sh --test installs it). */
export const firefoxInstalled = (): boolean => fs.existsSync(FIREFOX_PATH);

/** A fresh Firefox (its own temporary profile) with one page; errors are logged under `name`. */
export async function launchFirefox(name: string): Promise<TestFirefox> {
  const browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX_PATH,
    headless: true,
    extraPrefsFirefox: PREFS,
  });
  const page = await browser.newPage();
  page.on('pageerror', (err) => console.error(`[${name}] page error:`, (err as Error).message));
  return {
    browser,
    page,
    close: () => browser.close(),
  };
}
