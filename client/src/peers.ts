/** What this client knows about the other participants and their producers. */
import type { MediaKind, MediaSource, PeerInfo, Role } from '../../src/protocol';
import { personLabel } from './format';
import type { RemotePeerView } from './types';

interface ProducerModel {
  kind: MediaKind;
  source: MediaSource;
  paused: boolean;
}

interface PeerModel {
  peerId: string;
  displayName: string;
  role: Role;
  producers: Map<string, ProducerModel>;
  connection: RemotePeerView['connection'];
}

export type PeerUpdate = Omit<PeerInfo, 'producers' | 'connection'> &
  Partial<Pick<PeerInfo, 'producers' | 'connection'>>;

/** Every mutator returns the peer's new view (null when nothing changed) for the caller to emit. */
export class PeerDirectory {
  private readonly peers = new Map<string, PeerModel>();

  has(peerId: string): boolean {
    return this.peers.has(peerId);
  }

  ids(): string[] {
    return [...this.peers.keys()];
  }

  upsert(info: PeerUpdate): RemotePeerView {
    const peer = this.ensure(info.peerId);
    peer.displayName = personLabel(info);
    peer.role = info.role;
    if (info.connection) peer.connection = info.connection;
    for (const p of info.producers ?? []) {
      peer.producers.set(p.producerId, {
        kind: p.kind,
        source: p.appData.source,
        paused: p.paused,
      });
    }
    return view(peer);
  }

  addProducer(
    peerId: string,
    producerId: string,
    kind: MediaKind,
    source: MediaSource,
  ): RemotePeerView {
    const peer = this.ensure(peerId);
    peer.producers.set(producerId, { kind, source, paused: false });
    return view(peer);
  }

  removeProducer(peerId: string, producerId: string): RemotePeerView | null {
    const peer = this.peers.get(peerId);
    return peer?.producers.delete(producerId) ? view(peer) : null;
  }

  setPaused(peerId: string, producerId: string, paused: boolean): RemotePeerView | null {
    const peer = this.peers.get(peerId);
    const producer = peer?.producers.get(producerId);
    if (!peer || !producer || producer.paused === paused) return null;
    producer.paused = paused;
    return view(peer);
  }

  /** The server's word on a peer's link (null when nothing changed or the peer is unknown). */
  setConnection(peerId: string, connection: RemotePeerView['connection']): RemotePeerView | null {
    const peer = this.peers.get(peerId);
    if (!peer || peer.connection === connection) return null;
    peer.connection = connection;
    return view(peer);
  }

  /** Whether the server says this peer's link is down now. */
  reconnecting(peerId: string): boolean {
    return this.peers.get(peerId)?.connection === 'reconnecting';
  }

  delete(peerId: string): boolean {
    return this.peers.delete(peerId);
  }

  /** A peer heard of only through its producers gets a placeholder until peerJoined names it. */
  private ensure(peerId: string): PeerModel {
    let peer = this.peers.get(peerId);
    if (!peer) {
      peer = {
        peerId,
        displayName: 'Participant',
        role: 'guest',
        producers: new Map(),
        connection: 'connected',
      };
      this.peers.set(peerId, peer);
    }
    return peer;
  }
}

function view(peer: PeerModel): RemotePeerView {
  const on = (source: MediaSource): boolean =>
    [...peer.producers.values()].some((p) => p.source === source && !p.paused);
  return {
    peerId: peer.peerId,
    displayName: peer.displayName,
    role: peer.role,
    micOn: on('mic'),
    cameraOn: on('camera'),
    screenOn: on('screen'),
    connection: peer.connection,
  };
}
