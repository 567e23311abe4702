/**
 * A consult between two real browsers whose media crosses the impairment relay: the gateway
 * announces 127.0.0.2, where the relay listens and forwards to the worker's media port on
 * 127.0.0.1. The doctor's page hosts the consult and admits the specialist's page from the
 * lobby; both are connected when this resolves. The network and bandwidth tests start here.
 */
import type { Page } from 'playwright-core';
import type { types } from 'mediasoup';
import type { Peer } from '../../src/sfu/Peer.js';
import type { Consult, User } from '../../src/store/repositories.js';
import { connectionState, openPage } from '../e2e/helpers.js';
import type { TestBrowser } from './browser.js';
import { startTestGateway, type TestGateway } from './gateway.js';
import { ImpairmentRelay, ThreadedRelay } from './relay/index.js';
import { timeUntil } from './wait.js';

export interface RelayedConsultOptions {
  /** Gateway settings beyond the announced address. */
  env?: Record<string, string>;
  names: { doctor: string; specialist: string };
  /** Extra Chromium switches for the doctor's browser. */
  doctorArgs?: readonly string[];
  /** A script every consult page runs before the client does (Playwright's addInitScript). */
  initScript?: string;
  /**
   * Run the relay on a worker thread of its own (ThreadedRelay: scopes by ufrag or party), so
   * the test's own event loop cannot hold its packets (bandwidth estimation reads every
   * such stall as a queue; a client reads a stall of a few hundred ms as its path going
   * quiet). Every gateway ufrag is filed under its user's party: `linkOf(user)`.
   */
  relayThread?: boolean;
}

export interface RelayedConsult<Relay = ImpairmentRelay> {
  gw: TestGateway;
  relay: Relay;
  doctor: User;
  specialist: User;
  consult: Consult;
  doctorPage: Page;
  specialistPage: Page;
  /**
   * Every relay flow of this user's browser, across ICE restarts and new transports (a
   * threaded relay only: ufrags are filed under the user's party as the gateway issues them).
   */
  linkOf(user: User): { party: string };
  /** This user's live peer in the consult, if any. */
  peerOf(user: User): Peer | undefined;
  /** Opens the consult page for another participant (it joins on its own). */
  open(user: User, args?: readonly string[]): Promise<Page>;
  close(): Promise<void>;
}

/**
 * What each step of a fixture waits for, at most, ms: a page connects (joined, ICE and DTLS
 * done), the doctor's admit button appears. A test's setup hook must allow at least the sum
 * of the steps (`FIXTURE_BOUND_MS`), so a slow step fails with its own name instead of an
 * anonymous hook timeout.
 */
export const STEP_BOUND_MS = 15_000;
/** Starting a Chromium and loading the consult page (half a minute on a crowded machine). */
export const LAUNCH_BOUND_MS = 60_000;
export const FIXTURE_BOUND_MS = 2 * LAUNCH_BOUND_MS + 3 * STEP_BOUND_MS;

/** Rejects, naming `what`, when `promise` has not settled within `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/**
 * Files each gateway ufrag under its user's id at the threaded relay when the gateway issues
 * it (a new WebRTC transport, an ICE restart), before the answer reaches the browser: the
 * relay thread cannot ask the gateway whose a flow is, and a scope told of a restart later
 * would let the restarted browser's first checks through unimpaired.
 */
function fileUfrags(gw: TestGateway, relay: ThreadedRelay): void {
  const userOf = (peerId: unknown) => {
    for (const room of gw.rooms.rooms.values()) {
      const peer = room.peers.get(String(peerId));
      if (peer) return peer.identity.userId;
    }
    return undefined;
  };
  const file = (transport: types.WebRtcTransport) => {
    const user = userOf(transport.appData.peerId);
    if (user) relay.addToParty(user, [transport.iceParameters.usernameFragment]);
  };
  for (const slot of gw.pool.slots) {
    slot.worker.observer.on('newrouter', (router) =>
      router.observer.on('newtransport', (transport) => {
        if (!('iceParameters' in transport)) return;
        const webRtc = transport as types.WebRtcTransport;
        file(webRtc);
        // The gateway's handler answers the browser right after this resolves, on this loop.
        const restartIce = webRtc.restartIce.bind(webRtc);
        webRtc.restartIce = async () => {
          const iceParameters = await restartIce();
          file(webRtc);
          return iceParameters;
        };
      }),
    );
  }
}

export const isConnected = async (page: Page) => (await connectionState(page)) === 'connected';

export async function startRelayedConsult(
  options: RelayedConsultOptions & { relayThread: true },
): Promise<RelayedConsult<ThreadedRelay>>;
export async function startRelayedConsult(options: RelayedConsultOptions): Promise<RelayedConsult>;
/** Starts the gateway, the relay and both pages; the specialist is admitted and connected. */
export async function startRelayedConsult(
  options: RelayedConsultOptions,
): Promise<RelayedConsult<ImpairmentRelay | ThreadedRelay>> {
  const gw = await startTestGateway({
    RTC_LISTEN_IP: '127.0.0.1',
    ANNOUNCED_IP: '127.0.0.2',
    ...options.env,
  });
  const browsers: TestBrowser[] = [];
  let relay: ImpairmentRelay | ThreadedRelay | undefined;
  const t0 = Date.now();
  const steps: string[] = [];
  /** Notes how long set-up took so far, for the log and for a failure. */
  const done = (what: string) => steps.push(`${what} +${Date.now() - t0} ms`);
  const close = async () => {
    for (const b of browsers.splice(0)) await b.close();
    await relay?.close();
    await gw.stop();
  };
  try {
    const port = gw.pool.slots[0]!.port;
    const at = {
      listenHost: '127.0.0.2',
      listenPort: port,
      targetHost: '127.0.0.1',
      targetPort: port,
    };
    relay = await (options.relayThread ? ThreadedRelay.start(at) : ImpairmentRelay.start(at));
    if (relay instanceof ThreadedRelay) fileUfrags(gw, relay);
    const doctor = await gw.user('doctor', options.names.doctor);
    const specialist = await gw.user('specialist', options.names.specialist);
    const consult = await gw.consult(doctor, [specialist]);
    const open = async (user: User, args: readonly string[] = []) => {
      const { page } = await openPage(browsers, user.name, args);
      if (options.initScript) await page.addInitScript({ content: options.initScript });
      await page.goto(`${gw.url}/?token=${await gw.grant(consult.id, user)}`);
      return page;
    };
    const doctorPage = await within(
      open(doctor, options.doctorArgs),
      LAUNCH_BOUND_MS,
      "the doctor's page opened",
    );
    done('doctor page open');
    await timeUntil(() => isConnected(doctorPage), STEP_BOUND_MS, 'the doctor connected');
    done('doctor connected');
    const specialistPage = await within(
      open(specialist),
      LAUNCH_BOUND_MS,
      "the specialist's page opened",
    );
    done('specialist page open');
    await doctorPage
      .getByTestId('lobby-entry')
      .getByTestId('admit-button')
      .click({ timeout: STEP_BOUND_MS });
    done('specialist admitted');
    await timeUntil(() => isConnected(specialistPage), STEP_BOUND_MS, 'the specialist connected');
    done('specialist connected');
    console.log(`relayed consult (relay seed ${relay.seed}): ${steps.join(', ')}`);
    return {
      gw,
      relay,
      doctor,
      specialist,
      consult,
      doctorPage,
      specialistPage,
      peerOf: (user) =>
        [...(gw.rooms.rooms.get(consult.id)?.peers.values() ?? [])].find(
          (p) => p.identity.userId === user.id && !p.closed,
        ),
      linkOf: (user) => ({ party: user.id }),
      open,
      close,
    };
  } catch (err) {
    await close();
    throw new Error(`relayed consult set-up failed (done: ${steps.join(', ') || 'nothing'})`, {
      cause: err,
    });
  }
}
