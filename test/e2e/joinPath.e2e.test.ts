/**
 * The client's join path: the signalling socket is a WebSocket from the start (no
 * long-polling phase), long-polling still works where WebSockets are blocked, a
 * participant who may not publish opens no send transport, a viewer's consume requests
 * follow its join answer directly (the receive transport comes with it), and the consult page
 * is built only after the first remote frame (its building and drawing do not hold up the
 * consume answers, the consumers' set-up or the frame). A viewer probes the browser's
 * capabilities once (receiving side only), after its socket opened, not in the task that
 * created the socket, and not again when it joins again; and it reads no layout outside the
 * rendering step before its first frame. Joining again (a reload), it knows the router's
 * capabilities: the join itself consumes, and nothing but the transport's connect follows it.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIRST_FRAME_HOOK } from '../../bench/lib/firstFrame.js';
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

/**
 * Records every WebSocket the page opens, and on it the Socket.IO requests sent and the
 * answers received (`__io`, in order); `block` makes each one fail as a blocking proxy would.
 */
const WS_WATCH = (block: boolean) => `(() => {
  const Native = window.WebSocket;
  window.__ws = [];
  window.__io = [];
  window.WebSocket = class extends Native {
    constructor(url, ...rest) {
      window.__ws.push(String(url));
      super(${block ? "'ws://127.0.0.1:9/'" : 'url'}, ...rest);
      this.addEventListener('message', (e) => {
        const ack = /^43(\\d+)/.exec(String(e.data));
        if (ack) window.__io.push({ at: performance.now(), ack: Number(ack[1]) });
      });
    }
    send(data) {
      const req = /^42(\\d+)\\["(\\w+)"/.exec(String(data));
      if (req) window.__io.push({ at: performance.now(), id: Number(req[1]), name: req[2] });
      return super.send(data);
    }
  };
})();`;

/** When the consult page's markup (its connection state) entered the document. */
const BUILT_WATCH = `(() => {
  window.__built = null;
  new MutationObserver((_, obs) => {
    if (!document.querySelector('[data-testid="connection-state"]')) return;
    window.__built = performance.now();
    obs.disconnect();
  }).observe(document, { subtree: true, childList: true });
})();`;

/** When each RTCPeerConnection of the page was created (`__pcs`, performance.now()). */
const PC_WATCH = `(() => {
  const Native = window.RTCPeerConnection;
  window.__pcs = [];
  window.RTCPeerConnection = class extends Native {
    constructor(...args) {
      window.__pcs.push(performance.now());
      super(...args);
    }
  };
})();`;

/**
 * Reads of the stage's layout (`__layoutReads`: the stage or a tile in it; when, and whether
 * inside the rendering step: an animation frame or a ResizeObserver callback). A read outside
 * it forces style and layout.
 */
const LAYOUT_WATCH = `(() => {
  window.__layoutReads = [];
  let inFrame = 0;
  const framed = (cb) => function (...args) {
    inFrame++;
    try { return cb.apply(this, args); } finally { inFrame--; }
  };
  const raf = window.requestAnimationFrame;
  window.requestAnimationFrame = (cb) => raf.call(window, framed(cb));
  const NativeRO = window.ResizeObserver;
  window.ResizeObserver = class extends NativeRO {
    constructor(cb) { super(framed(cb)); }
  };
  const watch = (proto, names) => {
    for (const name of names) {
      const d = Object.getOwnPropertyDescriptor(proto, name);
      if (!d) continue;
      const record = (el) => {
        if (el.closest('#tiles')) window.__layoutReads.push({ at: performance.now(), name, inFrame: inFrame > 0 });
      };
      if (d.get) {
        const get = d.get;
        Object.defineProperty(proto, name, { ...d, get() { record(this); return get.call(this); } });
      } else if (typeof d.value === 'function') {
        const fn = d.value;
        Object.defineProperty(proto, name, { ...d, value: function (...a) { record(this); return fn.apply(this, a); } });
      }
    }
  };
  watch(Element.prototype, ['clientWidth', 'clientHeight', 'getBoundingClientRect', 'scrollHeight', 'scrollTop']);
  watch(HTMLElement.prototype, ['offsetWidth', 'offsetHeight']);
})();`;

type IoRecord = { at: number; id: number; name: string } | { at: number; ack: number };

/** The Socket.IO requests and answers of the page before its first remote video frame. */
async function beforeFirstFrame(page: Page): Promise<IoRecord[]> {
  await expect
    .poll(() => page.evaluate('window.__benchJoin.firstFrame !== null'), { timeout: 20_000 })
    .toBe(true);
  return page.evaluate(() => {
    const w = window as unknown as { __io: IoRecord[]; __benchJoin: { firstFrame: number } };
    return w.__io.filter((r) => r.at <= w.__benchJoin.firstFrame);
  });
}

async function openViewer(user: User, blockWebSocket: boolean): Promise<Page> {
  const { page } = await openPage(browsers, user.name);
  await page.addInitScript({ content: WS_WATCH(blockWebSocket) });
  await page.addInitScript({ content: FIRST_FRAME_HOOK });
  await page.addInitScript({ content: BUILT_WATCH });
  await page.addInitScript({ content: PC_WATCH });
  await page.addInitScript({ content: LAYOUT_WATCH });
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

    // Join, then at once a consume per producer (no createTransport round trip in between),
    // then the transport's connect and the resumes: three rounds before the first frame.
    const io = await beforeFirstFrame(viewer);
    const sent = io.filter((r) => 'name' in r);
    expect(sent.map((r) => r.name)).not.toContain('createTransport');
    expect(sent[0]!.name).toBe('join');
    const joinAck = io.findIndex((r) => 'ack' in r && r.ack === sent[0]!.id);
    const consumes = io.flatMap((r, i) => ('name' in r && r.name === 'consume' ? [i] : []));
    expect(consumes.length).toBe(2); // the host's camera and microphone
    // Nothing else was sent or answered between the join answer and the consume requests.
    expect(io.slice(joinAck + 1, Math.max(...consumes) + 1).every((r) => 'name' in r)).toBe(true);
    expect(new Set(sent.slice(1).map((r) => r.name))).toEqual(
      new Set(['consume', 'connectTransport', 'resumeConsumer']),
    );
    // The page was built after the first frame (played until then by the join's preview),
    // so after the camera's resume, which that frame needed: the build does not hold it up.
    // The microphone's may go after the frame (audio waits for no key frame; on a busy
    // machine its consumer is made later), and is sent all the same.
    const built = (await viewer.evaluate('window.__built')) as number;
    const firstFrame = (await viewer.evaluate('window.__benchJoin.firstFrame')) as number;
    const resumes = sent.filter((r) => r.name === 'resumeConsumer').map((r) => r.at);
    expect(resumes.length).toBeGreaterThanOrEqual(1);
    expect(built).toBeGreaterThan(Math.max(...resumes));
    expect(built).toBeGreaterThanOrEqual(firstFrame);
    const allSent = (await viewer.evaluate('window.__io')) as IoRecord[];
    expect(allSent.filter((r) => 'name' in r && r.name === 'resumeConsumer')).toHaveLength(2);
    // Two peer connections before the first frame: one capability probe (receiving side
    // only: a viewer never sends) and the receive transport's; the probe after the socket's
    // open was handled, so it did not hold up the handshake.
    const pcs = (await viewer.evaluate(
      '(() => { const s = window.__benchJoin; return { pcs: window.__pcs.filter((t) => t <= s.firstFrame), open: s.socketOpen }; })()',
    )) as { pcs: number[]; open: number };
    expect(pcs.pcs.length).toBe(2);
    expect(pcs.pcs[0]).toBeGreaterThanOrEqual(pcs.open);
    // The stage read no layout outside the rendering step before the first frame (it takes its
    // size from its ResizeObserver): it did not force the page's first style and layout.
    const forced = await viewer.evaluate(
      '(() => window.__layoutReads.filter((r) => !r.inFrame && r.at <= window.__benchJoin.firstFrame))()',
    );
    expect(forced).toEqual([]);

    expect((await transportStats(viewer)).map((t) => t.direction)).toEqual(['recv']);
    const room = gw.rooms.rooms.get(consult.id)!;
    const onServer = [...room.peers.values()].find((p) => p.identity.userId === viewers[0]!.id);
    expect([...onServer!.transports.values()].map((t) => t.direction)).toEqual(['recv']);
    // The host, who publishes, has both.
    expect((await transportStats(host)).map((t) => t.direction).sort()).toEqual(['recv', 'send']);

    // A second join (a reload) loads its Device from the capabilities kept in the browser:
    // its only peer connection before the first frame is the receive transport's. It loads
    // it before the join, with the router's capabilities of the last join, so the join
    // answer brings the consumers, resumed: only the transport's connect follows.
    await viewer.reload();
    await waitConnected(viewer);
    const rejoin = (await beforeFirstFrame(viewer)).filter((r) => 'name' in r);
    expect(rejoin.map((r) => r.name)).toEqual(['join', 'connectTransport']);
    const again = (await viewer.evaluate(
      'window.__pcs.filter((t) => t <= window.__benchJoin.firstFrame).length',
    )) as number;
    expect(again).toBe(1);
    await expect.poll(() => receivesMedia(viewer), { timeout: 20_000 }).toBe(true);
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
