/**
 * Placement in a cluster: the one place that answers "which node hosts this participant, this
 * producer" (the consult directory in Redis, filtered by the registry's live nodes), and that
 * consumes a producer of another node through the pipe bridge onto this node's router.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { types } from 'mediasoup';
import { z } from 'zod';
import { consumeLocal } from '../app/LocalPlacement.js';
import type { MediaPlacement, MovedSeat, RemoteRemoval } from '../app/ports.js';
import { names } from '../app/views.js';
import { GatewayError } from '../errors.js';
import type { PeerInfo } from '../protocol/payloads.js';
import type { ConsumerAppData, Peer, ProducerAppData } from '../sfu/Peer.js';
import type { Room } from '../sfu/Room.js';
import type { ConsultDirectory, ConsultEntries } from './ConsultDirectory.js';
import type { ClusterBus } from './ClusterBus.js';
import type { NodeRegistry, NodeStatus } from './NodeRegistry.js';
import type { PipeBridge } from './PipeBridge.js';

export class ClusterPlacement implements MediaPlacement {
  constructor(
    private readonly directory: ConsultDirectory,
    private readonly registry: Pick<NodeRegistry, 'list'>,
    private readonly bridge: Pick<PipeBridge, 'consume' | 'prepare' | 'pipedFrom'>,
    private readonly bus?: Pick<ClusterBus, 'notify' | 'request'>,
  ) {}

  get nodeId(): string {
    return this.directory.nodeId;
  }

  /** Reads of a consult's entries and the node list under way: a read asked meanwhile shares it. */
  readonly #reading = new Map<string, Promise<[ConsultEntries, NodeStatus[]]>>();

  /** The consult's entries and the registry's nodes, read now (or by a read under way). */
  #read(consultId: string): Promise<[ConsultEntries, NodeStatus[]]> {
    let reading = this.#reading.get(consultId);
    if (!reading) {
      reading = Promise.all([this.directory.entries(consultId), this.registry.list()]).finally(() =>
        this.#reading.delete(consultId),
      );
      this.#reading.set(consultId, reading);
    }
    return reading;
  }

  /** The consult's entries on other nodes that the registry shows alive (not dead, not gone). */
  async #elsewhere(consultId: string): Promise<ConsultEntries> {
    const [entries, nodes] = await this.#read(consultId);
    const alive = new Set(nodes.filter((n) => n.alive).map((n) => n.id));
    const keep = (node: string) => node !== this.nodeId && alive.has(node);
    return {
      seats: new Map([...entries.seats].filter(([, s]) => keep(s.node))),
      producers: new Map([...entries.producers].filter(([, p]) => keep(p.node))),
    };
  }

  prepare(consultId: string): void {
    this.#elsewhere(consultId).then(
      ({ producers }) => this.#prepare(consultId, producers),
      () => undefined, // the join's own reads report an outage
    );
  }

  /** Pipes `producers` here early (each once: a pipe already made or under way is reused). */
  #prepare(consultId: string, producers: ConsultEntries['producers']): void {
    const byNode = new Map<string, string[]>();
    for (const [id, p] of producers) byNode.set(p.node, [...(byNode.get(p.node) ?? []), id]);
    for (const [node, ids] of byNode) this.bridge.prepare(consultId, node, ids);
  }

  async remotePeers(consultId: string): Promise<PeerInfo[]> {
    const { seats, producers } = await this.#elsewhere(consultId);
    // The joiner consumes these next: their pipes are negotiated while it sets up transports.
    this.#prepare(consultId, producers);
    return [...seats].map(([peerId, seat]) => ({
      peerId,
      ...names(seat),
      role: seat.role,
      connection: seat.connection ?? 'connected',
      producers: [...producers]
        .filter(([, p]) => p.peerId === peerId && p.node === seat.node)
        .map(([producerId, p]) => ({
          producerId,
          kind: p.kind,
          appData: { source: p.source },
          paused: p.paused,
        })),
    }));
  }

  async seatElsewhere(consultId: string, userId: string): Promise<string | undefined> {
    const { seats } = await this.#elsewhere(consultId);
    for (const [peerId, seat] of seats) if (seat.userId === userId) return peerId;
    return undefined;
  }

  async seatsElsewhere(consultId: string): Promise<number> {
    return (await this.#elsewhere(consultId)).seats.size;
  }

  /**
   * The seat moves here when the resume secret proves it, whether its node is dead (failover)
   * or not (a network split: the proven client wins): an atomic claim on the seat's entry.
   */
  async claimSeat(
    consultId: string,
    userId: string,
    resumeSecret: string | undefined,
  ): Promise<MovedSeat | undefined> {
    if (!resumeSecret) return undefined;
    const [{ seats }, nodes] = await this.#read(consultId);
    const found = [...seats].find(([, s]) => s.userId === userId && s.node !== this.nodeId);
    if (!found) return undefined;
    const [peerId, seat] = found;
    const digest = digestOf(resumeSecret);
    if (!seat.resume || !sameDigest(seat.resume, digest)) return undefined;
    const claim = await this.directory.claim(consultId, peerId, seat.node, digest);
    if (!claim) {
      throw new GatewayError(
        'seat_taken',
        'another connection has just taken this seat over: close the other window, or try again in a minute',
      );
    }
    // If the old node is alive (a network split), it drops its copy of the seat.
    this.bus
      ?.notify(seat.node, 'seat.moved', { consultId, peerId, epoch: claim.epoch })
      .catch(() => undefined);
    // A draining node hands the seat over: it keeps the old media until the client lets go.
    const from = nodes.find((n) => n.id === seat.node);
    const handover = Boolean(from?.alive && from.state === 'draining');
    return { peerId, fromNode: seat.node, producersGone: claim.producersGone, handover };
  }

  listed(producerId: string): Promise<void> {
    return this.directory.listed(producerId);
  }

  async entryPoints(): Promise<string[]> {
    const up = (await this.registry.list()).filter((n) => n.alive && n.state === 'up');
    up.sort((x, y) => Number(y.id === this.nodeId) - Number(x.id === this.nodeId));
    return up.map((n) => n.url);
  }

  unclaimSeat(consultId: string, peerId: string): void {
    this.directory.unclaim(consultId, peerId);
  }

  async seatSecret(consultId: string, peerId: string, resumeSecret: string): Promise<void> {
    await this.directory.setResume(consultId, peerId, digestOf(resumeSecret));
  }

  async remoteSeat(consultId: string, peerId: string): Promise<{ userId: string } | undefined> {
    const seat = (await this.directory.entries(consultId)).seats.get(peerId);
    return seat && seat.node !== this.nodeId ? { userId: seat.userId } : undefined;
  }

  /**
   * Asks the node holding the seat to close it; a seat that moved meanwhile (failover, drain)
   * is followed to its new node, a few times at most.
   */
  async removeElsewhere(
    consultId: string,
    peerId: string,
    message?: string,
  ): Promise<RemoteRemoval> {
    if (!this.bus) throw new GatewayError('unavailable', 'this node has no cluster bus');
    for (let attempt = 0; attempt < REMOVE_ATTEMPTS; attempt++) {
      const node = await this.directory.seatNode(consultId, peerId);
      if (!node) return 'gone';
      if (node === this.nodeId) return 'here';
      const alive = (await this.registry.list()).some((n) => n.id === node && n.alive);
      if (!alive) {
        if (await this.directory.removeDeadSeat(consultId, peerId, node)) return 'dead';
        continue; // taken over by a live node meanwhile
      }
      const answer = await this.bus
        .request(
          node,
          SEAT_REMOVE,
          { consultId, peerId, ...(message === undefined ? {} : { message }) },
          seatRemoveAnswer,
          REMOVE_TIMEOUT_MS,
        )
        .catch((err: unknown) => {
          throw new GatewayError(
            'unavailable',
            `the server holding that participant did not answer (${(err as Error).message}): they cannot join again, and their seat closes once that server is declared down`,
          );
        });
      if (answer.removed) return 'removed';
      // Not there any more: it left, or moved to another node between the read and the request.
    }
    const node = await this.directory.seatNode(consultId, peerId);
    if (!node) return 'gone';
    if (node === this.nodeId) return 'here';
    throw new GatewayError(
      'conflict',
      'that participant is moving between servers: they cannot join again; remove them again in a moment',
    );
  }

  /**
   * A producer of this node's room is consumed directly; one of another node is piped here
   * (once per node, released with its last consumer here) and consumed from the pipe.
   */
  async consume(
    room: Room,
    peer: Peer,
    producerId: string,
    rtpCapabilities: types.RtpCapabilities,
  ): Promise<types.Consumer<ConsumerAppData>> {
    if ([...room.peers.values()].some((p) => p.producers.has(producerId))) {
      return consumeLocal(room, peer, producerId, rtpCapabilities);
    }
    // Piped here already (ahead of this join, or for someone else here): no directory read.
    const entry =
      this.bridge.pipedFrom(room.consultId, producerId) ??
      (await this.directory.producer(room.consultId, producerId));
    if (!entry || entry.node === this.nodeId) {
      throw new GatewayError('not_found', `no producer ${producerId} in this consult`);
    }
    if (entry.peerId === peer.id) {
      throw new GatewayError('bad_request', 'cannot consume your own producer');
    }
    return this.bridge.consume(room.consultId, entry.node, producerId, (piped) =>
      peer.consume(piped as types.Producer<ProducerAppData>, rtpCapabilities),
    );
  }
}

/** The bus request that asks a node to close one of its seats as removed by the host. */
export const SEAT_REMOVE = 'seat.remove';
export const seatRemoveRequest = z.object({
  consultId: z.string().min(1).max(200),
  peerId: z.string().min(1).max(200),
  message: z.string().min(1).max(200).optional(),
});
const seatRemoveAnswer = z.object({ removed: z.boolean() });
const REMOVE_ATTEMPTS = 3;
const REMOVE_TIMEOUT_MS = 3000;

const digestOf = (secret: string) => createHash('sha256').update(secret).digest('hex');

function sameDigest(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
