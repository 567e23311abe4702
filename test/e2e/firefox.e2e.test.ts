/**
 * The browser matrix's second pair: a Chromium–Firefox consult through the real gateway on its
 * default media set-up (loopback HOST, RTC_LAN_IP=auto), in both roles. Firefox pairs no
 * loopback candidates, so it reaches the media ports on the machine's LAN address; each side
 * must decode the other's video and receive its audio within 20 s of admission.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Consult, User } from '../../src/store/repositories.js';
import { launchBrowser, type TestBrowser } from '../support/browser.js';
import {
  firefoxInstalled,
  FIREFOX_PATH,
  launchFirefox,
  type TestFirefox,
} from '../support/firefox.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import type { RemoteStat, TransportStat } from './helpers.js';

/** What the test needs of a page, in both drivers (playwright-core and puppeteer-core). */
interface Person {
  name: string;
  browser: 'chromium' | 'firefox';
  evaluate<T>(fn: () => T | Promise<T>): Promise<T>;
  goto(url: string): Promise<void>;
}

interface ConsultHook {
  getRemoteStats(): Promise<RemoteStat[]>;
  getTransportStats(): Promise<TransportStat[]>;
}

let gw: TestGateway;
let doctor: User;
let specialist: User;
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  if (!firefoxInstalled()) {
    throw new Error(`Firefox ESR is missing at ${FIREFOX_PATH}; run scripts/setup.sh --test`);
  }
  gw = await startTestGateway();
  if (!gw.config.rtc.lanIp) {
    throw new Error('this machine has no LAN address, so Firefox has no media address to pair');
  }
  doctor = await gw.user('doctor', 'Dr. Grey');
  specialist = await gw.user('specialist', 'Dr. Shepherd');
});

afterAll(async () => {
  for (const close of closers.splice(0)) await close().catch(() => undefined);
  await gw?.stop();
});

async function chromium(name: string): Promise<Person> {
  const b: TestBrowser = await launchBrowser();
  closers.push(() => b.close());
  const page = await b.context.newPage();
  page.on('pageerror', (err) => console.error(`[${name}] page error:`, err.message));
  return {
    name,
    browser: 'chromium',
    evaluate: (fn) => page.evaluate(fn),
    goto: async (url) => void (await page.goto(url)),
  };
}

async function firefox(name: string): Promise<Person> {
  const f: TestFirefox = await launchFirefox(name);
  closers.push(() => f.close());
  return {
    name,
    browser: 'firefox',
    evaluate: (fn) => f.page.evaluate(fn),
    goto: async (url) => void (await f.page.goto(url)),
  };
}

/** Opens the consult page with a join grant; the page joins on its own (or via Join). */
async function open(person: Person, consult: Consult, user: User): Promise<void> {
  await person.goto(`${gw.url}/?token=${await gw.grant(consult.id, user)}`);
  await person.evaluate(() => {
    const join = document.querySelector<HTMLButtonElement>('[data-testid="join-button"]');
    if (join && join.offsetParent !== null && join.textContent === 'Join consult') join.click();
  });
}

const stateOf = (p: Person) =>
  p.evaluate(() => document.querySelector('[data-testid="connection-state"]')?.textContent ?? '');

const hook = (p: Person) =>
  p.evaluate(() =>
    (globalThis as unknown as { __consult: ConsultHook }).__consult.getRemoteStats(),
  );

const transports = (p: Person) =>
  p.evaluate(() =>
    (globalThis as unknown as { __consult: ConsultHook }).__consult.getTransportStats(),
  );

/** Width of the first remote video as decoded (0 until a frame is shown). */
const remoteVideoWidth = (p: Person) =>
  p.evaluate(
    () => document.querySelector<HTMLVideoElement>('[data-testid="remote-video"]')?.videoWidth ?? 0,
  );

/**
 * A poll that turns true once, between two of its calls, the page decoded more remote video
 * frames and received more remote audio packets, and shows the remote video at a real size.
 */
function flowing(p: Person) {
  let prev = { audio: -1, video: -1 };
  return async (): Promise<boolean> => {
    const stats = await hook(p);
    const sum = (kind: 'audio' | 'video') =>
      stats
        .filter((s) => s.kind === kind)
        .reduce((n, s) => n + (kind === 'audio' ? s.packetsReceived : (s.framesDecoded ?? 0)), 0);
    const now = { audio: sum('audio'), video: sum('video') };
    const rising = prev.audio >= 0 && now.audio > prev.audio && now.video > prev.video;
    prev = now;
    return rising && now.video > 0 && (await remoteVideoWidth(p)) > 0;
  };
}

const ADMISSION_TO_MEDIA_MS = 20_000;
/** Launching and joining are not what is measured; on a busy 2-core machine they take long. */
const JOIN_MS = 30_000;

describe.each([
  { host: 'firefox', guest: 'chromium' },
  { host: 'chromium', guest: 'firefox' },
] as const)('a Chromium–Firefox consult ($host hosts, $guest is admitted)', ({ host, guest }) => {
  it('each side decodes the other’s video and receives its audio within 20 s of admission', async () => {
    const consult = await gw.consult(doctor, [specialist]);
    const launch = { chromium, firefox };
    const [hostPerson, guestPerson] = await Promise.all([
      launch[host](`${host} host`),
      launch[guest](`${guest} guest`),
    ]);
    await open(hostPerson, consult, doctor);
    await expect.poll(() => stateOf(hostPerson), { timeout: JOIN_MS }).toBe('connected');
    await open(guestPerson, consult, specialist);
    await expect.poll(() => stateOf(guestPerson), { timeout: JOIN_MS }).toBe('waiting');

    // The host admits the guest from the lobby.
    await expect
      .poll(
        () =>
          hostPerson.evaluate(() => {
            const admit = document.querySelector<HTMLButtonElement>(
              '[data-testid="lobby-entry"] [data-testid="admit-button"]',
            );
            admit?.click();
            return Boolean(admit);
          }),
        { timeout: JOIN_MS },
      )
      .toBe(true);
    const admittedAt = Date.now();

    const timing = { timeout: ADMISSION_TO_MEDIA_MS, interval: 250 };
    await Promise.all([
      expect.poll(flowing(hostPerson), timing).toBe(true),
      expect.poll(flowing(guestPerson), timing).toBe(true),
    ]);
    const elapsed = Date.now() - admittedAt;
    expect(elapsed).toBeLessThan(ADMISSION_TO_MEDIA_MS);
    console.info(
      `[${host} host, ${guest} guest] both sides receiving ${elapsed} ms after admission`,
    );

    // Firefox's media runs over the LAN address the gateway announces, never loopback.
    const fox = host === 'firefox' ? hostPerson : guestPerson;
    const foxTransports = await transports(fox);
    expect(foxTransports.map((t) => t.direction).sort()).toEqual(['recv', 'send']);
    for (const t of foxTransports) {
      expect(t.connectionState).toBe('connected');
      expect(t.selected).toMatchObject({ remoteAddress: gw.config.rtc.lanIp });
    }
    expect(gw.rooms.counts()).toMatchObject({ peers: 2, consumers: 4 });

    for (const close of closers.splice(0)) await close();
    await expect.poll(() => gw.rooms.counts().peers, { timeout: 10_000 }).toBe(0);
  }, 150_000);
});
