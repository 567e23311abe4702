/** Debian's Chromium driven by playwright-core, with a fake camera and microphone on loopback. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  // Use 127.0.0.1 ICE candidates so media stays on loopback.
  '--allow-loopback-in-peer-connection',
];

export interface TestBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** The screen a test browser emulates (a phone: viewport, isMobile, hasTouch). */
export interface DeviceOptions {
  viewport?: { width: number; height: number };
  isMobile?: boolean;
  hasTouch?: boolean;
}

/**
 * A fresh browser profile per call, so two "people" share nothing. `extraArgs` adds
 * Chromium switches (e.g. field trials) for one test.
 */
export async function launchBrowser(
  extraArgs: readonly string[] = [],
  device: DeviceOptions = {},
): Promise<TestBrowser> {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...ARGS, ...extraArgs],
    permissions: ['camera', 'microphone'],
    ...device,
  });
  return {
    context,
    async close() {
      await context.close();
      fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}
