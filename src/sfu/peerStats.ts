/** A peer's own transports, producers and consumers with mediasoup's stats (for `getStats`). */
import type { StatsResponse } from '../protocol/payloads.js';
import type { Peer } from './Peer.js';

export async function peerStats(peer: Peer): Promise<StatsResponse> {
  const [transports, producers, consumers] = await Promise.all([
    Promise.all(
      [...peer.transports.values()].map(async ({ transport, direction }) => ({
        id: transport.id,
        direction,
        stats: await transport.getStats(),
      })),
    ),
    Promise.all(
      [...peer.producers.values()].map(async (p) => ({
        id: p.id,
        source: p.appData.source,
        score: p.score,
        stats: await p.getStats(),
      })),
    ),
    Promise.all(
      [...peer.consumers.values()].map(async (c) => ({
        id: c.id,
        producerId: c.producerId,
        kind: c.kind,
        score: c.score,
        currentLayers: c.currentLayers ?? null,
        stats: await c.getStats(),
      })),
    ),
  ]);
  return { transports, producers, consumers };
}
