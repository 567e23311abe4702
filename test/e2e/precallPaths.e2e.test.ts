/**
 * Issue 11 item 3 in real Chromium, with the media port behind the impairment relay (the
 * gateway announces 127.0.0.2, the relay forwards to 127.0.0.1): when UDP is blocked the
 * pre-call check finds the media server over TCP and says so, with the UDP port to ask IT
 * for; when the media port cannot be reached at all it says that plainly, while HTTPS works.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestBrowser } from '../support/browser.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { ImpairmentRelay } from '../support/relay/index.js';
import type { Consult, User } from '../../src/store/repositories.js';
import { logIn, openPage } from './helpers.js';

let gw: TestGateway;
let relay: ImpairmentRelay;
let doctor: User;
let consult: Consult;
const browsers: TestBrowser[] = [];

beforeAll(async () => {
  gw = await startTestGateway({ RTC_LISTEN_IP: '127.0.0.1', ANNOUNCED_IP: '127.0.0.2' });
  const port = gw.pool.slots[0]!.port;
  relay = await ImpairmentRelay.start({
    listenHost: '127.0.0.2',
    listenPort: port,
    targetHost: '127.0.0.1',
    targetPort: port,
  });
  doctor = await gw.user('doctor', 'Dr. Grey');
  consult = await gw.consult(doctor, [], { title: 'Paths consult' });
});

afterAll(async () => {
  for (const b of browsers.splice(0)) await b.close();
  await relay?.close();
  await gw?.stop();
});

describe('the pre-call network check over a blocked network', () => {
  it('reports TCP when UDP is blocked, and an unreachable media server when nothing gets through', async () => {
    const port = gw.pool.slots[0]!.port;
    relay.set({ blockUdp: true });
    const { page } = await openPage(browsers, 'doctor');
    await logIn(page, gw.url, doctor.email, '/doctor');
    const row = page.locator(`[data-testid="consult-row"][data-consult-id="${consult.id}"]`);
    await row.getByTestId('precall-button').click({ timeout: 15_000 });
    const network = row.getByTestId('precall-network');
    await expect
      .poll(() => network.getAttribute('data-verdict'), { timeout: 30_000 })
      .toMatch(/^(fair|poor)$/);
    expect(await network.getAttribute('data-path')).toBe('tcp');
    expect(await network.getByTestId('precall-network-verdict').textContent()).toMatch(
      new RegExp(
        `over TCP.*Video will go over TCP: it works but may stutter; ask your IT team to allow UDP port ${port}`,
      ),
    );
    expect(relay.stats().up.droppedBlocked).toBeGreaterThan(0);

    // Nothing reaches the media port now (HTTPS still does): check again.
    void relay.cut(30_000);
    await network.getByTestId('precall-network-again').click();
    await expect
      .poll(() => network.getAttribute('data-verdict'), { timeout: 30_000 })
      .toBe('failed');
    expect(await network.getAttribute('data-path')).toBe('https');
    expect(await network.getByTestId('precall-network-verdict').textContent()).toMatch(
      new RegExp(`cannot reach the media server \\(UDP or TCP port ${port}\\)`),
    );
    // The unreachable probe was closed by the client, not left to its expiry.
    expect(gw.probes.open).toBe(0);
    relay.reset();
  }, 120_000);
});
