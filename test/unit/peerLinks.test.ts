/**
 * The uplink half of `peerConnection` (src/signalling/peerLinks.ts) against a scripted send
 * transport and a fake clock: when a sender's uplink is judged down, and what brings it back.
 * A peer that was 'reconnecting' is 'connected' again only when its media arrives again (or
 * it sends nothing): ICE checks, DTLS, or a re-created transport still connecting are not a
 * picture, and telling the others "connected" on them makes their clients expect media that
 * does not come. Real workers and sockets: test/integration/peerLinks.test.ts; real browsers:
 * test/e2e/dropout.e2e.test.ts.
 */
import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { PeerConnectionMessage } from '../../src/protocol/index.js';
import type { Room } from '../../src/sfu/Room.js';
import { DEFAULT_PEER_LINKS, watchPeerLinks } from '../../src/signalling/peerLinks.js';

/** A send transport whose counters and states the test scripts. */
class ScriptedTransport {
  closed = false;
  iceState = 'completed';
  dtlsState = 'connected';
  /** Everything received (media, RTCP, ICE checks) and the RTP part of it. */
  bytes = 0;
  rtpBytes = 0;

  constructor(readonly id: string) {}

  getStats() {
    return Promise.resolve([{ bytesReceived: this.bytes, rtpBytesReceived: this.rtpBytes }]);
  }
}

interface FakePeer {
  id: string;
  closed: boolean;
  connection: string;
  producers: Map<string, { closed: boolean; paused: boolean }>;
  transports: Map<string, { transport: ScriptedTransport; direction: 'send' | 'recv' }>;
}

function fakePeer(id: string, send?: ScriptedTransport): FakePeer {
  const peer: FakePeer = {
    id,
    closed: false,
    connection: 'connected',
    producers: new Map(),
    transports: new Map(),
  };
  if (send) useTransport(peer, send);
  return peer;
}

/** The peer sends one live producer on `send` (its earlier transport closed). */
function useTransport(peer: FakePeer, send: ScriptedTransport): void {
  for (const { transport } of peer.transports.values()) transport.closed = true;
  peer.transports.set(send.id, { transport: send, direction: 'send' });
  peer.producers.set(`producer-${send.id}`, { closed: false, paused: false });
}

const { pollMs, stallMs } = DEFAULT_PEER_LINKS;
let told: { state: PeerConnectionMessage['state']; at: number }[];
let room: EventEmitter & { closed: boolean; peers: Map<string, FakePeer> };
let started: number;

/** A room of two: the doctor (sending, healthy) and the specialist on `send`. */
function consult(send: ScriptedTransport) {
  room = Object.assign(new EventEmitter(), {
    closed: false,
    peers: new Map<string, FakePeer>(),
    connectionChanged: () => undefined,
  });
  const doctor = fakePeer('doctor', new ScriptedTransport('doctor-send'));
  const specialist = fakePeer('specialist', send);
  for (const p of [doctor, specialist]) room.peers.set(p.id, p);
  const adapter = { rooms: new Map<string, Set<string>>(), on: () => undefined };
  watchPeerLinks(
    room as unknown as Room,
    adapter,
    (id) => `peer:${id}`,
    (_peer, m) => {
      if (m.peerId === 'specialist') told.push({ state: m.state, at: Date.now() - started });
    },
  );
  // The doctor's media keeps arriving all along.
  const doctorSend = doctor.transports.get('doctor-send')!.transport;
  setInterval(() => {
    doctorSend.bytes += 1200;
    doctorSend.rtpBytes += 1100;
  }, 20);
  return specialist;
}

/** `t` receives media (RTP with its RTCP) every 20 ms while `up()` says so. */
function media(t: () => ScriptedTransport, up: () => boolean): void {
  setInterval(() => {
    if (!up()) return;
    t().bytes += 1200;
    t().rtpBytes += 1100;
  }, 20);
}

/**
 * The specialist sends on `first` for 3 s, then its uplink is cut for 2 s (the others are
 * told 'reconnecting'); `setUp()` brings its media back, on whichever transport `current()` is.
 */
async function droppedUplink(first: ScriptedTransport, current: () => ScriptedTransport) {
  const specialist = consult(first);
  let up = true;
  media(current, () => up);
  await vi.advanceTimersByTimeAsync(3000);
  up = false;
  await vi.advanceTimersByTimeAsync(2000);
  expect(told.map((t) => t.state)).toEqual(['reconnecting']);
  return { specialist, setUp: () => (up = true) };
}

beforeEach(() => {
  vi.useFakeTimers();
  told = [];
  started = Date.now();
});

afterEach(() => {
  room?.emit('close');
  vi.useRealTimers();
});

describe("a sender's uplink", () => {
  it('cut: "reconnecting" within stallMs and a poll', async () => {
    const send = new ScriptedTransport('s1');
    consult(send);
    let up = true;
    media(
      () => send,
      () => up,
    );
    await vi.advanceTimersByTimeAsync(3000);
    expect(told).toEqual([]);
    const cutAt = Date.now() - started;
    up = false;
    await vi.advanceTimersByTimeAsync(stallMs + 2 * pollMs);
    expect(told.map((t) => t.state)).toEqual(['reconnecting']);
    expect(told[0]!.at - cutAt).toBeLessThanOrEqual(stallMs + 2 * pollMs);
  });

  it('stays "reconnecting" while only ICE checks and a re-created transport arrive, and is "connected" once media does', async () => {
    let send = new ScriptedTransport('s1');
    const { specialist, setUp } = await droppedUplink(send, () => send);

    // The client restarts ICE: its checks reach the gateway, no media yet.
    const checks = setInterval(() => (send.bytes += 100), 100);
    await vi.advanceTimersByTimeAsync(2000);
    // It gives up and re-creates its send transport: DTLS still connecting, then connected.
    clearInterval(checks);
    send = new ScriptedTransport('s2');
    send.dtlsState = 'connecting';
    useTransport(specialist, send);
    await vi.advanceTimersByTimeAsync(1000);
    send.dtlsState = 'connected';
    send.bytes += 3000; // the DTLS handshake and RTCP
    await vi.advanceTimersByTimeAsync(1000);
    expect(told.map((t) => t.state)).toEqual(['reconnecting']);

    // Media arrives on the new transport.
    const backAt = Date.now() - started;
    setUp();
    await vi.advanceTimersByTimeAsync(3 * pollMs);
    expect(told.map((t) => t.state)).toEqual(['reconnecting', 'connected']);
    expect(told[1]!.at - backAt).toBeLessThanOrEqual(2 * pollMs);
    // And it keeps flowing: no drop on the new transport's counters.
    await vi.advanceTimersByTimeAsync(3000);
    expect(told).toHaveLength(2);
  });

  it('a sender that stops sending is "connected": there is nothing of it to wait for', async () => {
    const send = new ScriptedTransport('s1');
    const { specialist } = await droppedUplink(send, () => send);
    for (const p of specialist.producers.values()) p.paused = true;
    await vi.advanceTimersByTimeAsync(3 * pollMs);
    expect(told.map((t) => t.state)).toEqual(['reconnecting', 'connected']);
  });
});
