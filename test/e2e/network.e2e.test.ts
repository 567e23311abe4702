/**
 * Issue 6 in the browser: a doctor and a specialist in a consult through the real gateway,
 * with every media packet crossing the impairment relay (the gateway announces 127.0.0.2,
 * where the relay listens and forwards to the media port on 127.0.0.1). Only the specialist's
 * link is impaired: loss and delay, a 5-second cut, a handover to a new address, a dropped
 * signalling connection. Media must keep flowing or come back, and the doctor must never see
 * the specialist leave. A third participant whose UDP is blocked joins over ICE-TCP.
 *
 * The relay runs on its own thread: on the test's event loop, each of that loop's stalls
 * (up to 790 ms with one core busy) held every packet, the doctor's too, and a browser's
 * client reads such a silence as its own path going quiet.
 */
import type { Page } from 'playwright-core';
import type { types } from 'mediasoup';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TestGateway } from '../support/gateway.js';
import {
  STEP_BOUND_MS,
  FIXTURE_BOUND_MS,
  LAUNCH_BOUND_MS,
  startRelayedConsult,
  type RelayedConsult,
} from '../support/relayedConsult.js';
import type { ThreadedRelay, ThreadScope } from '../support/relay/index.js';
import type { Consult, User } from '../../src/store/repositories.js';
import type { Peer } from '../../src/sfu/Peer.js';
import {
  connectionState,
  mediaCounter,
  pageEvents,
  receivesMedia,
  transportStats,
  waitConnected,
  watchMedia,
} from './helpers.js';
import { sleep, timeUntil } from '../support/wait.js';

let fixture: RelayedConsult<ThreadedRelay>;
let gw: TestGateway;
let relay: ThreadedRelay;
let doctor: User;
let specialist: User;
let consult: Consult;
let doctorPage: Page;
let specialistPage: Page;
/** Every flow of the specialist's browser at the relay: "the specialist's link". */
let specialistLink: ThreadScope;

const room = () => gw.rooms.rooms.get(consult.id);
const peerOf = (user: User): Peer | undefined => fixture.peerOf(user);
const peerIds = () => [...(room()?.peers.keys() ?? [])].sort();

/** Resolves once both counters of the page have risen (media flows now). */
async function flowing(page: Page, timeoutMs = 10_000): Promise<number> {
  const read = mediaCounter(page);
  const before = await read();
  return timeUntil(
    async () => {
      const now = await read();
      return now.audio > before.audio && now.video > before.video;
    },
    timeoutMs,
    'media flowing',
  );
}

/** Watches both pages' incoming media; stop() resolves with each page's figures. */
function watchBoth(intervalMs: number) {
  const doctor = watchMedia(doctorPage, intervalMs);
  const specialist = watchMedia(specialistPage, intervalMs);
  return {
    doctor,
    specialist,
    stop: async () => {
      const [atDoctor, atSpecialist] = await Promise.all([doctor.stop(), specialist.stop()]);
      return { atDoctor, atSpecialist };
    },
  };
}

/** The page's transport states and ICE restarts since `since`, e.g. "+2504 recv disconnected". */
async function timeline(page: Page, since: number): Promise<string> {
  const events = await pageEvents(page);
  return events
    .filter((e) => e.at >= since && (e.type === 'transportState' || e.type === 'iceRestart'))
    .map((e) => `+${e.at - since} ${e.type === 'iceRestart' ? 'ICE restart ' : ''}${e.detail}`)
    .join(', ');
}

/**
 * Records what the gateway's bandwidth adapter decides for each participant's incoming video
 * (for the log, and to check that an outage is not taken for a narrow link); stop() returns it as text.
 */
function adapterDecisions(since: number) {
  const log: string[] = [];
  const offs = [doctor, specialist].map((user) => {
    const adapter = peerOf(user)!.bandwidth;
    const who = user === doctor ? 'to doctor' : 'to specialist';
    const at = () => `+${Date.now() - since} ${who}`;
    const onLayers = (e: { maxLayers: unknown }) =>
      log.push(`${at()} layers ${JSON.stringify(e.maxLayers)}`);
    const onPaused = () => log.push(`${at()} paused`);
    const onResumed = () => log.push(`${at()} resumed`);
    adapter.on('layersChanged', onLayers);
    adapter.on('videoPaused', onPaused);
    adapter.on('videoResumed', onResumed);
    return () => {
      adapter.off('layersChanged', onLayers);
      adapter.off('videoPaused', onPaused);
      adapter.off('videoResumed', onResumed);
    };
  });
  return {
    stop: () => {
      for (const off of offs) off();
      return log.join(', ') || 'nothing';
    },
  };
}

const restarts = (page: Page) =>
  page.evaluate(
    () => (globalThis as unknown as { __consult: { iceRestarts: number } }).__consult.iceRestarts,
  );

/**
 * Watches which protocol both pages' transports use, every 250 ms from now: after an outage
 * a browser may have settled on ICE-TCP, and the client restarts ICE to come back to UDP.
 */
function watchUdp(since: number) {
  const offUdp: string[] = [];
  let onUdpAt: number | null = null;
  let stopped = false;
  const read = async () => {
    const [atDoctor, atSpecialist] = await Promise.all([
      transportStats(doctorPage),
      transportStats(specialistPage),
    ]);
    const all = [
      ...atDoctor.map((t) => `doctor ${t.direction} ${t.selected?.localProtocol ?? 'none'}`),
      ...atSpecialist.map(
        (t) => `specialist ${t.direction} ${t.selected?.localProtocol ?? 'none'}`,
      ),
    ];
    const now = Date.now();
    if (all.length === 4 && all.every((p) => p.endsWith(' udp'))) {
      onUdpAt ??= now;
      return;
    }
    onUdpAt = null;
    const line = all.filter((p) => !p.endsWith(' udp')).join(', ');
    if (offUdp.at(-1)?.endsWith(line) !== true) offUdp.push(`+${now - since} ${line}`);
  };
  const loop = (async () => {
    while (!stopped) {
      await read().catch(() => undefined);
      await sleep(250);
    }
  })();
  return {
    /** Waits (up to `timeoutMs` after `since`) until all four transports are on UDP; ms after `since`. */
    async backAt(timeoutMs: number): Promise<{ ms: number; offUdp: string[] }> {
      let found: number | null = null;
      try {
        await timeUntil(
          () => (found = onUdpAt) !== null,
          Math.max(0, since + timeoutMs - Date.now()),
          'all transports on UDP',
        );
      } catch (err) {
        throw new Error(`${(err as Error).message}; off UDP: ${offUdp.join('; ')}`);
      } finally {
        stopped = true;
        await loop;
      }
      return { ms: found! - since, offUdp };
    },
  };
}

/** Neither page saw a participant leave, and the server still has the same two peers. */
async function nobodyLeft(ids: string[]): Promise<void> {
  expect(peerIds()).toEqual(ids);
  expect(gw.rooms.counts().peers).toBe(2);
  for (const page of [doctorPage, specialistPage]) {
    expect((await pageEvents(page)).filter((e) => e.type === 'peerRemoved')).toEqual([]);
  }
}

beforeAll(
  async () => {
    fixture = await startRelayedConsult({
      env: { RECONNECT_GRACE_SECONDS: '30' },
      names: { doctor: 'Dr. Grey', specialist: 'Dr. Shepherd' },
      relayThread: true,
    });
    ({ gw, relay, doctor, specialist, consult, doctorPage, specialistPage } = fixture);
    specialistLink = fixture.linkOf(specialist);
    for (const page of [doctorPage, specialistPage]) {
      await timeUntil(() => receivesMedia(page), STEP_BOUND_MS, 'media flowing');
    }
    // The set-up's own bounds, plus starting two browsers and the gateway.
  },
  FIXTURE_BOUND_MS + 2 * STEP_BOUND_MS + 30_000,
);

afterEach(({ task }) => {
  if (task.result?.state === 'fail' && relay) {
    console.log(`relay seed ${relay.seed} (replay with RELAY_SEED=${relay.seed})`);
  }
});

afterAll(async () => {
  await fixture?.close();
});

describe('a consult over an impaired network', () => {
  it('3 % loss and 80 ms delay on one link: audio never stops for 1 s and video keeps decoding', async () => {
    // How fast each page decodes on the clean link first: a busy machine decodes fewer
    // frames, and the impaired link is judged against what this machine does now.
    const clean = watchBoth(250);
    await sleep(5000);
    const { atDoctor: cleanDoctor, atSpecialist: cleanSpecialist } = await clean.stop();
    const since = Date.now();
    const before = relay.stats(specialistLink);
    relay.set({ both: { loss: 0.03, delayMs: 80 } }, specialistLink);
    await sleep(1000); // let the delay line fill
    const watches = watchBoth(250);
    await sleep(10_000);
    const { atDoctor, atSpecialist } = await watches.stop();
    const after = relay.stats(specialistLink);
    relay.reset(specialistLink);
    const stats = {
      up: {
        droppedLoss: after.up.droppedLoss - before.up.droppedLoss,
        packets: after.up.packets - before.up.packets,
      },
      down: {
        droppedLoss: after.down.droppedLoss - before.down.droppedLoss,
        packets: after.down.packets - before.down.packets,
      },
    };
    const layers = [...(peerOf(doctor)?.consumers.values() ?? [])]
      .filter((c) => c.kind === 'video')
      .map((c) => (c.currentLayers as types.ConsumerLayers | undefined)?.spatialLayer);
    console.log(
      `3 % loss + 80 ms: doctor got ${atDoctor.audio} audio packets (longest gap ${atDoctor.audioGapMs} ms)` +
        ` and ${atDoctor.video} frames (longest gap ${atDoctor.videoGapMs} ms, layer ${layers.join()});` +
        ` specialist got ${atSpecialist.audio} audio packets (longest gap ${atSpecialist.audioGapMs} ms)` +
        ` and ${atSpecialist.video} frames (longest gap ${atSpecialist.videoGapMs} ms);` +
        ` on the clean link, in 5 s: doctor ${cleanDoctor.video} frames, specialist ${cleanSpecialist.video};` +
        ` relay dropped ${stats.up.droppedLoss}/${stats.up.packets} up, ${stats.down.droppedLoss}/${stats.down.packets} down;` +
        ` specialist: ${(await timeline(specialistPage, since)) || 'no ICE events'}`,
    );
    expect(stats.up.droppedLoss + stats.down.droppedLoss).toBeGreaterThan(0);
    for (const [got, clean] of [
      [atDoctor, cleanDoctor],
      [atSpecialist, cleanSpecialist],
    ] as const) {
      expect(got.audio).toBeGreaterThan(300); // ~50 packets/s for 10 s
      expect(got.audioGapMs).toBeLessThan(1000);
      // Video keeps decoding: no freeze a viewer would call one (mediasoup itself takes 1.5 s
      // to notice a silent stream), and over 10 s at least a third of the clean link's frame
      // rate (a starved browser decodes fewer frames under loss, a frozen one next to none).
      expect(got.videoGapMs).toBeLessThan(1500);
      expect(got.video).toBeGreaterThanOrEqual((2 * clean.video) / 3);
      expect(got.video).toBeGreaterThan(10);
    }
  }, 55_000);

  it('the protocol\'s bandwidth events: "Poor connection — video paused" on the tile, then gone; the layer badge', async () => {
    // The gateway's own events, sent as its bandwidth adapter would (the adapter's decisions
    // themselves are tested in test/integration/bandwidth.test.ts).
    const spec = peerOf(specialist)!;
    const video = [...spec.consumers.values()].find((c) => c.kind === 'video')!;
    const toSpecialist = gw.io.to(`peer:${spec.id}`);
    const tile = specialistPage.getByTestId('remote-tile');
    const paused = tile.getByTestId('video-paused');
    const layer = tile.getByTestId('video-layer');
    expect(await paused.isVisible()).toBe(false);

    toSpecialist.emit('layersChanged', { consumerId: video.id, spatialLayer: 0, temporalLayer: 2 });
    await expect.poll(() => layer.textContent()).toBe('Low');
    toSpecialist.emit('videoPaused', { consumerId: video.id, reason: 'bandwidth' });
    await expect.poll(() => paused.isVisible()).toBe(true);
    expect(await paused.textContent()).toContain('Poor connection — video paused');
    expect(await layer.isVisible()).toBe(false);
    expect(await tile.getAttribute('data-video')).toBe('paused');
    toSpecialist.emit('videoResumed', { consumerId: video.id });
    toSpecialist.emit('layersChanged', { consumerId: video.id, spatialLayer: 2, temporalLayer: 2 });
    await expect.poll(() => paused.isVisible()).toBe(false);
    await expect.poll(() => layer.textContent()).toBe('HD');
    expect(await tile.getAttribute('data-video')).toBe('on');
  }, 20_000);

  it('a handover (the gateway sees the specialist arrive from a new address): audio back within 1 s, media flows again and nobody leaves', async () => {
    const ids = peerIds();
    await Promise.all([flowing(doctorPage), flowing(specialistPage)]);
    const restartsBefore = await restarts(specialistPage);
    const watches = watchBoth(100);
    await sleep(1000);
    // When the gateway switches each of the specialist's transports to the new address.
    const switched: string[] = [];
    const server = [...peerOf(specialist)!.transports.values()];
    const onSwitch = (direction: string) => () =>
      switched.push(`${direction} +${Date.now() - movedAt}`);
    const listeners = server.map(({ transport, direction }) => {
      const listener = onSwitch(direction);
      transport.on('iceselectedtuplechange', listener);
      return () => transport.off('iceselectedtuplechange', listener);
    });
    const movedAt = Date.now();
    const udp = watchUdp(movedAt);
    const decisions = adapterDecisions(movedAt);
    const moved = await relay.handover(specialistLink);
    expect(moved.length).toBeGreaterThan(0);
    await sleep(8000);
    const { atDoctor, atSpecialist } = await watches.stop();
    for (const off of listeners) off();
    const restartsDuring = (await restarts(specialistPage)) - restartsBefore;
    console.log(
      `gateway switched to the new address: ${switched.join(', ')} ms; handover of ${moved.length} flows (${moved.map((m) => `${m.from}→${m.to}`).join(', ')}):` +
        ` longest gaps: doctor audio ${atDoctor.audioGapMs} / video ${atDoctor.videoGapMs} ms,` +
        ` specialist audio ${atSpecialist.audioGapMs} / video ${atSpecialist.videoGapMs} ms;` +
        ` ICE restarts by the specialist: ${restartsDuring}; specialist: ${await timeline(specialistPage, movedAt)};` +
        ` the gateway's bandwidth adapter: ${decisions.stop()}`,
    );
    // Video may still be held back by the gateway's bandwidth adapter after the outage.
    const [toDoctor, toSpecialist] = await Promise.all([
      flowing(doctorPage, 10_000),
      flowing(specialistPage, 10_000),
    ]);
    console.log(
      `handover: media flowing on both pages ${Math.max(toDoctor, toSpecialist)} ms after the 8 s watch`,
    );
    // Issue 10: a handover's audio gap under 1 s. The specialist's client restarts ICE once its
    // own path falls quiet (~250 ms), so the gap is that plus one restart: measured 377–514 ms
    // in fresh clones, quiet and with one core busy (sampled every 100 ms by the page itself, so
    // a stall of the test process's event loop no longer counts as silence: it once read 1028 ms).
    for (const got of [atDoctor, atSpecialist]) expect(got.audioGapMs).toBeLessThan(1000);
    await nobodyLeft(ids);
    // UDP works throughout: both browsers are on it again within 10 s of the move.
    const back = await udp.backAt(10_000);
    console.log(
      `handover: all transports on UDP ${back.ms} ms after the move; off UDP: ${back.offUdp.join('; ') || 'never'}`,
    );
    expect(back.ms).toBeLessThan(10_000);
  }, 45_000);

  it('a 5-second cut of one link: media flows again and nobody leaves', async () => {
    const ids = peerIds();
    await Promise.all([flowing(doctorPage), flowing(specialistPage)]);
    const restartsBefore = await restarts(specialistPage);
    const watches = watchBoth(100);
    const cutAt = Date.now();
    const decisions = adapterDecisions(cutAt);
    await relay.cut(5000, specialistLink);
    const cutEnded = Date.now();
    const udp = watchUdp(cutEnded);
    const [toDoctor, toSpecialist] = await Promise.all([
      flowing(doctorPage, 10_000).catch((err: Error) => {
        throw new Error(`doctor: ${err.message}; adapter: ${decisions.stop()}`);
      }),
      flowing(specialistPage, 10_000).catch((err: Error) => {
        throw new Error(`specialist: ${err.message}; adapter: ${decisions.stop()}`);
      }),
    ]);
    await sleep(1000);
    const { atDoctor, atSpecialist } = await watches.stop();
    const doctorBack = watches.doctor.resumedAfter(cutEnded);
    const specialistBack = watches.specialist.resumedAfter(cutEnded);
    const restartsDuring = (await restarts(specialistPage)) - restartsBefore;
    const decided = decisions.stop();
    console.log(
      `5 s cut: after the cut, the doctor got audio in ${doctorBack.audio} ms and video in ${doctorBack.video} ms,` +
        ` the specialist audio in ${specialistBack.audio} ms and video in ${specialistBack.video} ms` +
        ` (flowing on both pages within ${Math.max(toDoctor, toSpecialist)} ms);` +
        ` longest gaps: doctor audio ${atDoctor.audioGapMs} / video ${atDoctor.videoGapMs} ms,` +
        ` specialist audio ${atSpecialist.audioGapMs} / video ${atSpecialist.videoGapMs} ms;` +
        ` ICE restarts by the specialist: ${restartsDuring}; specialist (from the cut): ${await timeline(specialistPage, cutAt)};` +
        ` the gateway's bandwidth adapter: ${decided}`,
    );
    for (const back of [doctorBack, specialistBack]) {
      expect(back.audio).not.toBeNull();
      expect(back.video).not.toBeNull();
      expect(Math.max(back.audio!, back.video!)).toBeLessThan(10_000);
    }
    // A cut is not a narrow link: nobody's video is paused for "poor connection" after it.
    expect(decided).not.toContain('paused');
    await nobodyLeft(ids);
    // The specialist was told: 'reconnecting' while media was stuck, then 'connected'.
    const states = (await pageEvents(specialistPage)).filter(
      (e) => e.type === 'state' && e.at >= cutAt,
    );
    console.log(
      `5 s cut: specialist's state: ${states.map((e) => `+${e.at - cutAt} ${e.detail}`).join(', ')}`,
    );
    expect(states.map((e) => e.detail)).toContain('reconnecting');
    expect(states[0]!.at - cutAt).toBeLessThan(2000);
    await expect.poll(() => connectionState(specialistPage), { timeout: 5000 }).toBe('connected');
    // UDP works again after the cut: both browsers are on it within 10 s of its end.
    const back = await udp.backAt(10_000);
    console.log(
      `5 s cut: all transports on UDP ${back.ms} ms after the cut ended; off UDP: ${back.offUdp.join('; ') || 'never'}`,
    );
    expect(back.ms).toBeLessThan(10_000);
  }, 45_000);

  it('a dropped signalling connection: same peer, no leave for the other side, media flowing', async () => {
    const ids = peerIds();
    const peerId = await specialistPage.evaluate(
      () => (globalThis as unknown as { __consult: { peerId: string } }).__consult.peerId,
    );
    // Start from a settled link (the previous test cut it): both transports connected and
    // media flowing, so what follows measures the socket drop alone.
    await expect
      .poll(
        async () => (await transportStats(specialistPage)).map((t) => t.connectionState).join(),
        { timeout: 15_000, interval: 200 },
      )
      .toBe('connected,connected');
    await Promise.all([flowing(doctorPage, 10_000), flowing(specialistPage, 10_000)]);
    const transportsBefore = (await transportStats(specialistPage)).map((t) => t.transportId);
    const watch = watchMedia(doctorPage, 100);
    const dropped = Date.now();
    await specialistPage.evaluate(() =>
      (
        globalThis as unknown as { __consult: { dropSignalling(): void } }
      ).__consult.dropSignalling(),
    );
    await expect
      .poll(() => connectionState(specialistPage), { timeout: 2000, interval: 50 })
      .toBe('reconnecting');
    const backMs = await timeUntil(
      async () => (await connectionState(specialistPage)) === 'connected',
      15_000,
      'connected again',
    );
    const atDoctor = await watch.stop();
    console.log(
      `socket drop: reconnected and resumed ${backMs} ms after the drop (${Date.now() - dropped} ms);` +
        ` the doctor's longest media gap meanwhile: audio ${atDoctor.audioGapMs} / video ${atDoctor.videoGapMs} ms`,
    );
    expect(
      await specialistPage.evaluate(
        () => (globalThis as unknown as { __consult: { peerId: string } }).__consult.peerId,
      ),
    ).toBe(peerId);
    // The media was kept: same transports, and it never stopped.
    expect((await transportStats(specialistPage)).map((t) => t.transportId)).toEqual(
      transportsBefore,
    );
    expect(atDoctor.audioGapMs).toBeLessThan(1000);
    await Promise.all([flowing(doctorPage, 5000), flowing(specialistPage, 5000)]);
    await nobodyLeft(ids);
  }, 45_000);

  it('offline for 2 s, then back online: both transports restart ICE, without rejoining, and media flows', async () => {
    // (In this Chromium, setOffline fires offline/online but leaves the open websocket and
    // WebRTC alone: what it tests is the client's reaction to coming back online.)
    const ids = peerIds();
    const transportsBefore = (await transportStats(specialistPage)).map((t) => t.transportId);
    const restartsBefore = await restarts(specialistPage);
    const context = specialistPage.context();
    await context.setOffline(true);
    await sleep(2000);
    const online = Date.now();
    await context.setOffline(false);
    const restartMs = await timeUntil(
      async () => (await restarts(specialistPage)) - restartsBefore >= 2,
      5000,
      'ICE restarted on both transports',
    );
    const [toDoctor, toSpecialist] = await Promise.all([
      flowing(doctorPage, 10_000),
      flowing(specialistPage, 10_000),
    ]);
    console.log(
      `back online: ICE restarted ${restartMs} ms later, media flowing ${Math.max(toDoctor, toSpecialist)} ms after that;` +
        ` specialist: ${await timeline(specialistPage, online)}`,
    );
    expect((await transportStats(specialistPage)).map((t) => t.transportId)).toEqual(
      transportsBefore,
    );
    expect(await connectionState(specialistPage)).toBe('connected');
    await nobodyLeft(ids);
  }, 30_000);

  it(
    'with UDP blocked, a third participant joins over ICE-TCP and media flows both ways',
    async () => {
      const admin = await gw.user('admin', 'Ada Admin');
      const tcpOnly = fixture.linkOf(admin);
      relay.set({ blockUdp: true }, tcpOnly);
      const started = Date.now();
      const page = await fixture.open(admin);
      await waitConnected(page, 20_000);
      const joinMs = Date.now() - started;
      await expect.poll(() => receivesMedia(page), { timeout: 15_000, interval: 250 }).toBe(true);
      const mediaMs = Date.now() - started;
      // Receiving media proves the receive transport; the send transport may still be
      // finishing its ICE-TCP checks: wait until both have a selected candidate pair.
      await expect
        .poll(async () => (await transportStats(page)).filter((t) => t.selected).length, {
          timeout: 15_000,
          interval: 250,
        })
        .toBe(2);
      const transports = await transportStats(page);
      console.log(
        `UDP blocked: connected ${joinMs} ms and receiving media ${mediaMs} ms after opening the page;` +
          ` selected pairs: ${transports.map((t) => `${t.direction} ${t.selected?.localProtocol}/${t.selected?.remoteProtocol}`).join(', ')}`,
      );
      expect(transports).toHaveLength(2);
      for (const t of transports) {
        expect(t.selected).toMatchObject({ localProtocol: 'tcp', remoteProtocol: 'tcp' });
      }
      const server = peerOf(admin)!;
      await expect
        .poll(
          () =>
            [...server.transports.values()].every(({ transport }) => transport.iceSelectedTuple),
          {
            timeout: 5_000,
          },
        )
        .toBe(true);
      for (const { transport } of server.transports.values()) {
        expect(transport.iceSelectedTuple?.protocol).toBe('tcp');
      }
      // The others receive the TCP participant's media too.
      await expect
        .poll(
          async () => {
            const stats = (await doctorPage.evaluate(() =>
              (
                globalThis as unknown as { __consult: { getRemoteStats(): Promise<unknown> } }
              ).__consult.getRemoteStats(),
            )) as { peerId: string; kind: string; framesDecoded?: number }[];
            return stats.some(
              (s) => s.peerId === server.id && s.kind === 'video' && (s.framesDecoded ?? 0) > 0,
            );
          },
          { timeout: 15_000, interval: 250 },
        )
        .toBe(true);
      expect(relay.stats(tcpOnly).up.droppedBlocked).toBeGreaterThan(0);
      relay.reset(tcpOnly);
      // Its own waits (20 + 15 + 15 + 5 + 15 s) and starting a third browser.
    },
    LAUNCH_BOUND_MS + 70_000,
  );

  it(
    'when the gateway no longer has the seat (grace period over), the client rebuilds its media on reconnecting',
    async () => {
      const transportsBefore = (await transportStats(specialistPage)).map((t) => t.transportId);
      const started = Date.now();
      await specialistPage.evaluate(() =>
        (
          globalThis as unknown as { __consult: { dropSignalling(): void } }
        ).__consult.dropSignalling(),
      );
      // What the grace timer does when the socket does not come back in time.
      peerOf(specialist)!.close('disconnected');
      await expect
        .poll(async () => (await transportStats(specialistPage)).map((t) => t.transportId), {
          timeout: 15_000,
          interval: 100,
        })
        .not.toEqual(transportsBefore);
      await expect
        .poll(() => connectionState(specialistPage), { timeout: 15_000, interval: 100 })
        .toBe('connected');
      const [toDoctor, toSpecialist] = await Promise.all([
        flowing(doctorPage, 15_000),
        flowing(specialistPage, 15_000),
      ]);
      console.log(
        `seat gone: rebuilt and media flowing ${Date.now() - started} ms after the drop` +
          ` (last counters rose ${Math.max(toDoctor, toSpecialist)} ms after connected)`,
      );
      expect(peerOf(specialist)).toBeDefined();
      // Its own waits: 15 s for new transports, 15 s to connect, 15 s for media.
    },
    3 * STEP_BOUND_MS + 10_000,
  );
});
