/**
 * The client's join path: the signalling socket is a WebSocket from the start (no
 * long-polling phase), long-polling still works where WebSockets are blocked, and a
 * participant who may not publish opens no send transport.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestBrowser } from '../support/browser.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import type { Consult, User } from '../../src/store/repositories.js';
import { openPage, receivesMedia, transportStats, waitConnected } from './helpers.js';

let gw: TestGateway;
let doctor: User;
let viewers: User[];
let consult: Consult;
const browsers: TestBrowser[] = [];

beforeAll(async () => {
  gw = await startTestGateway();
  doctor = await gw.user('doctor', 'Dr. Grey');
  viewers = [await gw.user('specialist', 'Dr. Yang'), await gw.user('specialist', 'Dr. Karev')];
  consult = await gw.consult(doctor, viewers);
});

afterAll(async () => {
  for (const b of browsers.splice(0)) await b.close();
  await gw?.stop();
});

/** A receive-only participant (no publish grant) who needs no admission. */
const viewerToken = (user: User) =>
  gw.token({
    consultId: consult.id,
    userId: user.id,
    role: 'specialist',
    name: user.name,
    grants: { publish: false, subscribe: true, admit: true, end: false },
  });

/** How the page reached /socket.io/: WebSocket URLs opened and HTTP (polling) requests made. */
async function socketRequests(page: Page): Promise<{ ws: string[]; polling: string[] }> {
  return page.evaluate(() => ({
    ws: (window as unknown as { __ws: string[] }).__ws.filter((u) => u.includes('/socket.io/')),
    polling: performance
      .getEntriesByType('resource')
      .map((e) => e.name)
      .filter((u) => u.includes('/socket.io/')),
  }));
}

/** Records every WebSocket the page opens; `block` makes each one fail as a blocking proxy would. */
const WS_WATCH = (block: boolean) => `(() => {
  const Native = window.WebSocket;
  window.__ws = [];
  window.WebSocket = class extends Native {
    constructor(url, ...rest) {
      window.__ws.push(String(url));
      super(${block ? "'ws://127.0.0.1:9/'" : 'url'}, ...rest);
    }
  };
})();`;

async function openViewer(user: User, blockWebSocket: boolean): Promise<Page> {
  const { page } = await openPage(browsers, user.name);
  await page.addInitScript({ content: WS_WATCH(blockWebSocket) });
  await page.goto(`${gw.url}/?token=${viewerToken(user)}`);
  return page;
}

describe('joining', () => {
  it('a viewer joins over a WebSocket from the start and opens only a receive transport', async () => {
    const { page: host } = await openPage(browsers, 'host');
    await host.goto(`${gw.url}/?token=${await gw.grant(consult.id, doctor)}`);
    await waitConnected(host);

    const viewer = await openViewer(viewers[0]!, false);
    await waitConnected(viewer);
    await expect.poll(() => receivesMedia(viewer), { timeout: 20_000 }).toBe(true);

    const seen = await socketRequests(viewer);
    expect(seen.ws.length).toBeGreaterThanOrEqual(1);
    expect(seen.polling).toEqual([]);

    expect((await transportStats(viewer)).map((t) => t.direction)).toEqual(['recv']);
    const room = gw.rooms.rooms.get(consult.id)!;
    const onServer = [...room.peers.values()].find((p) => p.identity.userId === viewers[0]!.id);
    expect([...onServer!.transports.values()].map((t) => t.direction)).toEqual(['recv']);
    // The host, who publishes, has both.
    expect((await transportStats(host)).map((t) => t.direction).sort()).toEqual(['recv', 'send']);
  }, 90_000);

  it('where WebSockets are blocked, the viewer falls back to long-polling and still joins', async () => {
    const viewer = await openViewer(viewers[1]!, true);
    await waitConnected(viewer);
    await expect.poll(() => receivesMedia(viewer), { timeout: 20_000 }).toBe(true);
    const seen = await socketRequests(viewer);
    expect(seen.ws.length).toBeGreaterThanOrEqual(1);
    expect(seen.polling.length).toBeGreaterThan(0);
  }, 60_000);
});
