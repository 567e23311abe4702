/** How the app layer's objects are shown to clients (protocol payloads). */
import type { LobbyEntry } from '../consults/Lobby.js';
import {
  LOBBY_LIST_MAX,
  type LobbyEntryInfo,
  type PeerInfo,
  type PersonNames,
  type ProducerInfo,
  type ResumedState,
} from '../protocol/payloads.js';
import type { Role } from '../protocol/vocabulary.js';
import type { Peer } from '../sfu/Peer.js';

/** The chosen name for tiles, with the vouched one beside it. */
export const names = (who: { displayName: string; alias?: string }): PersonNames => ({
  displayName: who.alias ?? who.displayName,
  verifiedName: who.displayName,
});

export const lobbyInfo = (e: LobbyEntry): LobbyEntryInfo => ({
  peerId: e.peerId,
  ...names(e),
  role: e.role as Role,
  since: new Date(e.since).toISOString(),
  ...(e.redeemedAt === undefined ? {} : { redeemedAt: new Date(e.redeemedAt).toISOString() }),
});

/** Who waits, bounded: the first LOBBY_LIST_MAX by waiting time, and how many in all. */
export function lobbySnapshot(all: LobbyEntry[]): { waiting: LobbyEntryInfo[]; total: number } {
  return { waiting: all.slice(0, LOBBY_LIST_MAX).map(lobbyInfo), total: all.length };
}

const producers = (peer: Peer): ProducerInfo[] =>
  [...peer.producers.values()].map((p) => ({
    producerId: p.id,
    kind: p.kind,
    appData: { source: p.appData.source },
    paused: p.paused,
  }));

export const peerInfo = (peer: Peer): PeerInfo => ({
  peerId: peer.id,
  ...names(peer.identity),
  role: peer.identity.role,
  producers: producers(peer),
  connection: peer.connection,
});

/** What a participant taking over its seat still has on the server. */
export const resumedState = (peer: Peer): ResumedState => ({
  transports: [...peer.transports.values()].map(({ transport, direction }) => ({
    id: transport.id,
    direction,
  })),
  producers: producers(peer),
  consumers: [...peer.consumers.values()].map((c) => ({
    consumerId: c.id,
    producerId: c.producerId,
    kind: c.kind,
    paused: c.paused,
    pausedForBandwidth: peer.bandwidth.isVideoPaused(c.id),
  })),
});
