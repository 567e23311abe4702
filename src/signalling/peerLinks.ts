/**
 * Tells a consult's other participants when someone's connection drops and when it is back
 * (`peerConnection`), so their tiles say "reconnecting" for that person instead of showing a
 * frozen picture as good, and their own clients do not take a remote dropout for their own.
 *
 * A participant is 'reconnecting' while its signalling socket is gone (within the reconnect
 * grace), while its send transport's ICE or DTLS is broken, or while nothing at all arrives
 * on its send transport although it sends media (an uplink cut: media, RTCP and ICE checks
 * all stop). The gateway sees that within `stallMs`; ICE itself would take far longer. It is
 * 'connected' again once its media arrives again (RTP, on whichever send transport it has
 * now), or once it sends nothing.
 */
import type { types } from 'mediasoup';
import type { Peer } from '../sfu/Peer.js';
import type { Room } from '../sfu/Room.js';
import type { PeerConnectionMessage } from '../protocol/index.js';

export interface PeerLinkOptions {
  /** How often each sending peer's transport is read, ms. */
  pollMs: number;
  /** Nothing received from a peer that sends media for this long is a dropped uplink, ms. */
  stallMs: number;
}

export const DEFAULT_PEER_LINKS: Readonly<PeerLinkOptions> = Object.freeze({
  pollMs: 200,
  stallMs: 800,
});

/** The part of a socket.io adapter this needs: its local rooms and their join/leave events. */
export interface RoomAdapter {
  rooms: Map<string, Set<string>>;
  on(event: 'join-room' | 'leave-room', listener: (room: string, id: string) => void): unknown;
}

/** What a socket joining or leaving a peer's own socket.io room means to its consult's watch. */
interface PeerRoomWatch {
  room: Room;
  joined(): void;
  left(): void;
}

/**
 * Per adapter, the watched peer rooms by name, served by one listener per event: a listener
 * per consult would run every consult's watch on every socket's every room change (and warn
 * past ten consults).
 */
const watchedRooms = new WeakMap<RoomAdapter, Map<string, PeerRoomWatch>>();

function peerRoomsOf(adapter: RoomAdapter): Map<string, PeerRoomWatch> {
  let watched = watchedRooms.get(adapter);
  if (!watched) {
    const byName = new Map<string, PeerRoomWatch>();
    adapter.on('join-room', (name) => byName.get(name)?.joined());
    adapter.on('leave-room', (name) => byName.get(name)?.left());
    watchedRooms.set(adapter, byName);
    watched = byName;
  }
  return watched;
}

interface LinkState {
  socketDown: boolean;
  mediaDown: boolean;
  transportId: string | null;
  /** Everything received on the send transport so far (media, RTCP, ICE checks). */
  bytes: number;
  /** RTP received on it so far: once down, only media arriving again is a return. */
  rtpBytes: number;
  grewAt: number;
  /** What the others were told last. */
  told: PeerConnectionMessage['state'];
}

/**
 * Watches every peer of `room` and calls `tell(peer, message)` when its link state changes.
 * `peerRoom` names the socket.io room a peer's own socket is in. Stops when the room closes.
 */
export function watchPeerLinks(
  room: Room,
  adapter: RoomAdapter,
  peerRoom: (peerId: string) => string,
  tell: (peer: Peer, message: PeerConnectionMessage) => void,
  options: PeerLinkOptions = DEFAULT_PEER_LINKS,
): void {
  const states = new Map<string, LinkState>();
  const stateOf = (peer: Peer): LinkState => {
    let s = states.get(peer.id);
    if (!s) {
      s = {
        socketDown: false,
        mediaDown: false,
        transportId: null,
        bytes: 0,
        rtpBytes: 0,
        grewAt: Date.now(),
        told: 'connected',
      };
      states.set(peer.id, s);
    }
    return s;
  };
  const update = (peer: Peer) => {
    const s = states.get(peer.id);
    if (!s || peer.closed || room.closed) return;
    const state = s.socketDown || s.mediaDown ? 'reconnecting' : 'connected';
    if (state === s.told) return;
    s.told = state;
    peer.connection = state;
    room.connectionChanged(peer);
    tell(peer, { peerId: peer.id, state });
  };
  // A socket leaves its peer's room when it drops (and joins it when one attaches again).
  const watched = peerRoomsOf(adapter);
  const names = new Set<string>();
  const watch = (peer: Peer) => {
    const name = peerRoom(peer.id);
    names.add(name);
    watched.set(name, {
      room,
      left: () =>
        // A peer that is leaving for good closes in the same turn: that is `peerLeft`, not a drop.
        setImmediate(() => {
          if (peer.closed || (adapter.rooms.get(name)?.size ?? 0) > 0) return;
          stateOf(peer).socketDown = true;
          update(peer);
        }),
      joined: () => {
        stateOf(peer).socketDown = false;
        update(peer);
      },
    });
  };
  const unwatch = (name: string) => {
    names.delete(name);
    if (watched.get(name)?.room === room) watched.delete(name);
  };
  for (const peer of room.peers.values()) watch(peer);
  room.on('peerJoined', watch);

  let polling = false;
  const poll = async () => {
    if (polling || room.closed) return;
    polling = true;
    try {
      const peers = [...room.peers.values()].filter((p) => !p.closed);
      // Nobody to tell: nothing to watch.
      if (peers.length < 2) return;
      await Promise.all(peers.map((peer) => readUplink(peer, stateOf(peer))));
      for (const peer of peers) update(peer);
    } finally {
      polling = false;
    }
  };
  const readUplink = async (peer: Peer, s: LinkState) => {
    const transport = sendTransport(peer);
    const now = Date.now();
    const sending = [...peer.producers.values()].some((p) => !p.closed && !p.paused);
    const fresh = s.transportId !== (transport?.id ?? null);
    if (fresh) {
      // Another transport (the client re-created it): its counters start again.
      s.transportId = transport?.id ?? null;
      s.bytes = 0;
      s.rtpBytes = 0;
    }
    if (!transport || !sending) {
      // Nothing it sends: its uplink cannot be judged (its socket still can).
      s.grewAt = now;
      s.mediaDown = false;
      return;
    }
    const broken =
      transport.iceState === 'disconnected' ||
      transport.dtlsState === 'failed' ||
      transport.dtlsState === 'closed';
    const [stats] = await transport.getStats().catch(() => []);
    const bytes = stats?.bytesReceived ?? 0;
    const rtpBytes = stats?.rtpBytesReceived ?? 0;
    if (s.mediaDown) {
      // Back only on evidence: media arriving again. ICE checks, DTLS or a new transport
      // that is still connecting are no picture yet; saying "connected" on them would make
      // the others expect media that does not come, and take the silence for their own.
      if (rtpBytes > s.rtpBytes && !broken) {
        s.grewAt = now;
        s.mediaDown = false;
      }
    } else {
      // Until DTLS is up the transport is still connecting: that is no drop.
      if (fresh || bytes > s.bytes || transport.dtlsState !== 'connected') s.grewAt = now;
      s.mediaDown = broken || now - s.grewAt >= options.stallMs;
    }
    s.bytes = bytes;
    s.rtpBytes = rtpBytes;
  };
  const timer = setInterval(() => void poll().catch(() => undefined), options.pollMs);
  timer.unref();
  room.on('peerLeft', (peer) => {
    states.delete(peer.id);
    unwatch(peerRoom(peer.id));
  });
  room.on('close', () => {
    clearInterval(timer);
    for (const name of [...names]) unwatch(name);
    states.clear();
  });
}

function sendTransport(peer: Peer): types.WebRtcTransport | undefined {
  for (const { transport, direction } of peer.transports.values()) {
    if (direction === 'send' && !transport.closed) return transport;
  }
  return undefined;
}
