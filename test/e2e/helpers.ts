/** Shared steps of the browser tests: pages with logging, logging in, and media checks. */
import type { Page } from 'playwright-core';
import { expect } from 'vitest';
import { launchBrowser, type TestBrowser } from '../support/browser.js';
import { TEST_PASSWORD } from '../support/gateway.js';

export interface RemoteStat {
  peerId: string;
  kind: 'audio' | 'video';
  framesDecoded?: number;
  packetsReceived: number;
}

/** A fresh browser (its own profile) with one page whose errors are logged under `name`. */
export async function openPage(
  browsers: TestBrowser[],
  name: string,
): Promise<{ browser: TestBrowser; page: Page }> {
  const browser = await launchBrowser();
  browsers.push(browser);
  const page = await browser.context.newPage();
  page.on('pageerror', (err) => console.error(`[${name}] page error:`, err.message));
  return { browser, page };
}

/** Logs in through the login page and waits for the role's home page. */
export async function logIn(page: Page, baseUrl: string, email: string, home: string) {
  await page.goto(`${baseUrl}/login`);
  await page.getByTestId('login-email').fill(email);
  await page.getByTestId('login-password').fill(TEST_PASSWORD);
  await page.getByTestId('login-submit').click();
  await page.waitForURL(`${baseUrl}${home}`, { timeout: 10_000 });
}

export const connectionState = (page: Page) => page.getByTestId('connection-state').textContent();

export async function waitConnected(page: Page, timeout = 15_000): Promise<void> {
  await expect.poll(() => connectionState(page), { timeout }).toBe('connected');
}

export const remoteStats = (page: Page) =>
  page.evaluate(() =>
    (
      globalThis as unknown as { __consult: { getRemoteStats(): Promise<unknown> } }
    ).__consult.getRemoteStats(),
  ) as Promise<RemoteStat[]>;

/** True once this page has decoded remote video frames (and, with `audio`, got audio packets). */
export async function receivesMedia(page: Page, audio = true): Promise<boolean> {
  const stats = await remoteStats(page);
  const video = stats.some((s) => s.kind === 'video' && (s.framesDecoded ?? 0) > 0);
  const sound = stats.some((s) => s.kind === 'audio' && s.packetsReceived > 0);
  return video && (!audio || sound);
}

/** A Date as a datetime-local input value (local time, minutes). */
export function localInput(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}
