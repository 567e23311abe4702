/**
 * A consult's roster and producers across the cluster, in Redis: each node writes the seats
 * and producers of its own room for the consult (`telemed:consult:<id>:seats`, `…:producers`,
 * field = peer or producer id, value = JSON naming the node), so a node can tell a joiner who
 * sits elsewhere and find the node a producer lives on. Redis rather than PostgreSQL: these
 * entries change with every produce and pause, are read on every join and remote consume, and
 * lose nothing of the record when Redis is lost (the nodes rewrite them as their rooms change).
 */
import { z } from 'zod';
import type { Logger } from '../logger.js';
import { mediaKindSchema, mediaSourceSchema, roleSchema } from '../protocol/vocabulary.js';
import type { Peer } from '../sfu/Peer.js';
import type { Room } from '../sfu/Room.js';
import type { RoomRegistry } from '../sfu/RoomRegistry.js';
import { assertReady, KEY_PREFIX, type Redis } from './redis.js';
import { CLAIM_SEAT, REMOVE_SEATS, SET_RESUME, WRITE_SEAT } from './seatScripts.js';

export const seatsKey = (consultId: string) => `${KEY_PREFIX}consult:${consultId}:seats`;
export const producersKey = (consultId: string) => `${KEY_PREFIX}consult:${consultId}:producers`;

/** Entries outlive a crashed cluster by at most this long. */
const TTL_SECONDS = 24 * 3600;

const name = z.string().min(1).max(200);
export const seatEntrySchema = z.object({
  node: name,
  userId: name,
  displayName: z.string().max(200),
  alias: z.string().max(200).optional(),
  role: roleSchema,
  /** What the others were last told about this seat's link (absent: connected). */
  connection: z.enum(['connected', 'reconnecting']).optional(),
  /** Bumped each time the seat moves to another node (failover); see seatScripts.ts. */
  epoch: z.number().int().min(0).optional(),
  /** sha256 (hex) of the seat's current resume secret: proves a takeover on another node. */
  resume: z.string().max(128).optional(),
});
export type SeatEntry = z.infer<typeof seatEntrySchema>;

export const producerEntrySchema = z.object({
  node: name,
  peerId: name,
  kind: mediaKindSchema,
  source: mediaSourceSchema,
  paused: z.boolean(),
});
export type ProducerEntry = z.infer<typeof producerEntrySchema>;

export interface ConsultEntries {
  seats: Map<string, SeatEntry>;
  producers: Map<string, ProducerEntry>;
}

/** What a node that took a seat over learned: its new epoch and the old node's producers. */
export interface SeatClaim {
  epoch: number;
  producersGone: string[];
}

/** How long a `produce` answer waits for its producer's entry to be written. */
const LISTED_WAIT_MS = 1000;
const seatRef = (consultId: string, peerId: string) => `${consultId}\n${peerId}`;

export class ConsultDirectory {
  readonly #log: Logger;
  /** Seats this node claimed and is about to seat (consult + peer → epoch). */
  readonly #claimed = new Map<string, number>();
  /** The epoch of each seat this node last wrote (a later update must not move it back). */
  readonly #written = new Map<string, number>();
  /** The resume digest of each seat this node holds, to write again after Redis lost it. */
  readonly #resume = new Map<string, string>();
  /** Writes each tracked room's seats and producers again (by consult). */
  readonly #rewrites = new Map<string, () => void>();
  /** Producer entries being written, by producer id (see `listed`). */
  readonly #producerWrites = new Map<string, Promise<void>>();

  constructor(
    private readonly redis: Redis,
    readonly nodeId: string,
    rooms: Pick<RoomRegistry, 'on'>,
    logger: Logger,
  ) {
    this.#log = logger.child({ component: 'consult-directory' });
    rooms.on('roomCreated', (room) => this.#track(room));
    // Back after an outage, Redis may have lost everything (a restart without persistence):
    // this node's rooms go back in, so joiners elsewhere see its people and consume from them.
    redis.on('ready', () => this.rewrite());
  }

  /** Writes every seat and producer of this node's rooms again (idempotent; a moved seat stays moved). */
  rewrite(): void {
    for (const rewrite of this.#rewrites.values()) rewrite();
  }

  /**
   * Resolves once the entry of producer `producerId` (of this node) is in Redis, so the answer
   * to its `produce` means any node can find it; at most `LISTED_WAIT_MS` (Redis is down).
   */
  async listed(producerId: string): Promise<void> {
    const writing = this.#producerWrites.get(producerId);
    if (!writing) return;
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => (timer = setTimeout(resolve, LISTED_WAIT_MS)));
    await Promise.race([writing, waited]);
    clearTimeout(timer);
  }

  /** Every seat and producer of the consult, on any node (entries that do not parse are skipped). */
  async entries(consultId: string): Promise<ConsultEntries> {
    assertReady(this.redis);
    const [seats, producers] = await Promise.all([
      this.redis.hGetAll(seatsKey(consultId)),
      this.redis.hGetAll(producersKey(consultId)),
    ]);
    return {
      seats: parseAll(seats, seatEntrySchema),
      producers: parseAll(producers, producerEntrySchema),
    };
  }

  /** The node that holds seat `peerId` of the consult, if any. */
  async seatNode(consultId: string, peerId: string): Promise<string | undefined> {
    assertReady(this.redis);
    const raw = await this.redis.hGet(seatsKey(consultId), peerId);
    return raw ? parseOne(raw, seatEntrySchema)?.node : undefined;
  }

  /** Removes seat `peerId` if node `node` (dead) still holds it; true if it did. */
  async removeDeadSeat(consultId: string, peerId: string, node: string): Promise<boolean> {
    assertReady(this.redis);
    const removed = await this.redis.eval(REMOVE_SEATS, {
      keys: [seatsKey(consultId)],
      arguments: [node, peerId],
    });
    return removed === 1;
  }

  /** The entry of one producer, if any node has it. */
  async producer(consultId: string, producerId: string): Promise<ProducerEntry | undefined> {
    assertReady(this.redis);
    const raw = await this.redis.hGet(producersKey(consultId), producerId);
    return raw ? parseOne(raw, producerEntrySchema) : undefined;
  }

  /**
   * Moves the seat `peerId` from `fromNode` to this node if its resume digest is still `digest`
   * (one atomic compare-and-set); undefined when another claim won or the seat changed.
   */
  async claim(
    consultId: string,
    peerId: string,
    fromNode: string,
    digest: string,
  ): Promise<SeatClaim | undefined> {
    assertReady(this.redis);
    const reply = (await this.redis.eval(CLAIM_SEAT, {
      keys: [seatsKey(consultId), producersKey(consultId)],
      arguments: [peerId, fromNode, digest, this.nodeId, String(TTL_SECONDS)],
    })) as string[] | null;
    if (!reply) return undefined;
    const [epoch, ...producersGone] = reply;
    this.#claimed.set(seatRef(consultId, peerId), Number(epoch));
    return { epoch: Number(epoch), producersGone };
  }

  /** Forgets a claim whose seat was not taken after all (the join failed). */
  unclaim(consultId: string, peerId: string): void {
    this.#claimed.delete(seatRef(consultId, peerId));
  }

  /** Stores the digest of the seat's new resume secret, if this node holds the seat. */
  async setResume(consultId: string, peerId: string, digest: string): Promise<void> {
    this.#resume.set(seatRef(consultId, peerId), digest);
    await this.redis.eval(SET_RESUME, {
      keys: [seatsKey(consultId)],
      arguments: [peerId, this.nodeId, digest],
    });
  }

  /**
   * Mirrors this node's room into the hashes. Listeners are attached when the room is created,
   * before signalling's, so an entry is written (on the same connection) before the broadcast
   * that announces it: whoever reacts to `newProducer` finds the producer.
   */
  #track(room: Room): void {
    const { consultId } = room;
    const seats = new Set<string>();
    const owned = new Map<string, { peer: Peer; paused: boolean }>();
    const writeProducer = (peer: Peer, producerId: string) => {
      const producer = peer.producers.get(producerId);
      if (!producer) return;
      owned.set(producerId, { peer, paused: producer.paused });
      const entry: ProducerEntry = {
        node: this.nodeId,
        peerId: peer.id,
        kind: producer.kind,
        source: producer.appData.source,
        paused: producer.paused,
      };
      const writing = this.#write(producersKey(consultId), producerId, entry);
      this.#producerWrites.set(producerId, writing);
      void writing.then(() => {
        if (this.#producerWrites.get(producerId) === writing)
          this.#producerWrites.delete(producerId);
      });
    };
    const writeSeat = (peer: Peer, epoch?: (ref: string) => number | undefined) => {
      const { userId, displayName, alias, role } = peer.identity;
      const entry: SeatEntry = {
        node: this.nodeId,
        userId,
        displayName,
        ...(alias === undefined ? {} : { alias }),
        role,
        connection: peer.connection,
      };
      const ref = seatRef(consultId, peer.id);
      const resume = this.#resume.get(ref);
      this.#writeSeat(consultId, peer.id, resume ? { ...entry, resume } : entry, epoch?.(ref));
    };
    room.on('peerJoined', (peer) => {
      seats.add(peer.id);
      writeSeat(peer, (ref) => {
        const claimed = this.#claimed.get(ref);
        this.#claimed.delete(ref);
        return claimed;
      });
    });
    room.on('peerConnection', (peer) => {
      // Only over the epoch this node wrote: a seat that moved on stays the other node's.
      const ref = seatRef(consultId, peer.id);
      if (seats.has(peer.id) && this.#written.has(ref))
        writeSeat(peer, () => this.#written.get(ref));
    });
    room.on('newProducer', (peer, producer) => writeProducer(peer, producer.id));
    room.on('producerPaused', (peer, id) => writeProducer(peer, id));
    room.on('producerResumed', (peer, id) => writeProducer(peer, id));
    room.on('producerClosed', (_peer, id) => {
      owned.delete(id);
      this.#remove(producersKey(consultId), [id]);
    });
    room.on('peerLeft', (peer) => {
      seats.delete(peer.id);
      // A leaving peer's producers close with it, without events of their own.
      const gone = [...owned].filter(([, o]) => o.peer === peer).map(([id]) => id);
      for (const id of gone) owned.delete(id);
      this.#remove(producersKey(consultId), gone);
      this.#removeSeats(consultId, [peer.id]);
    });
    const rewrite = () => {
      for (const id of seats) {
        const ref = seatRef(consultId, id);
        const peer = room.peers.get(id);
        // Only seats this node wrote and still holds (one that moved on stays the other node's).
        if (peer && this.#written.has(ref)) writeSeat(peer, () => this.#written.get(ref));
      }
      for (const [id, { peer }] of owned) writeProducer(peer, id);
    };
    this.#rewrites.set(consultId, rewrite);
    room.on('close', () => {
      if (this.#rewrites.get(consultId) === rewrite) this.#rewrites.delete(consultId);
      this.#remove(producersKey(consultId), [...owned.keys()]);
      this.#removeSeats(consultId, [...seats]);
      owned.clear();
      seats.clear();
    });
  }

  /** Writes one entry; resolves when Redis has it (or the write failed, logged). */
  #write(key: string, field: string, value: object): Promise<void> {
    // Two commands, not MULTI: a plain command is queued on the connection at once.
    const failed = (err: unknown) =>
      this.#log.warn({ err, key, field }, 'could not write the directory');
    const written = this.redis
      .hSet(key, field, JSON.stringify(value))
      .then(() => undefined, failed);
    this.redis.expire(key, TTL_SECONDS).catch(failed);
    return written;
  }

  /** Writes a seat unless it has moved to another node meanwhile (then that node's entry stays). */
  #writeSeat(consultId: string, peerId: string, entry: SeatEntry, epoch?: number): void {
    this.redis
      .eval(WRITE_SEAT, {
        keys: [seatsKey(consultId)],
        arguments: [
          peerId,
          JSON.stringify(entry),
          epoch === undefined ? '' : String(epoch),
          String(TTL_SECONDS),
        ],
      })
      .then((written) => {
        const ref = seatRef(consultId, peerId);
        if (written === -1) {
          this.#written.delete(ref);
          this.#log.warn({ consultId, peerId }, 'seat moved to another node');
        } else this.#written.set(ref, Number(written));
      })
      .catch((err: unknown) =>
        this.#log.warn({ err, consultId, peerId }, 'could not write a seat'),
      );
  }

  /** Removes seats this node still holds (a seat taken over elsewhere is that node's now). */
  #removeSeats(consultId: string, peerIds: string[]): void {
    if (peerIds.length === 0) return;
    for (const peerId of peerIds) {
      this.#written.delete(seatRef(consultId, peerId));
      this.#resume.delete(seatRef(consultId, peerId));
    }
    this.redis
      .eval(REMOVE_SEATS, { keys: [seatsKey(consultId)], arguments: [this.nodeId, ...peerIds] })
      .catch((err: unknown) =>
        this.#log.warn({ err, consultId }, 'could not update the directory'),
      );
  }

  #remove(key: string, fields: string[]): void {
    if (fields.length === 0) return;
    this.redis
      .hDel(key, fields)
      .catch((err: unknown) => this.#log.warn({ err, key }, 'could not update the directory'));
  }
}

function parseOne<T>(raw: string, schema: z.ZodType<T>): T | undefined {
  try {
    const parsed = schema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

function parseAll<T>(raw: Record<string, string>, schema: z.ZodType<T>): Map<string, T> {
  const out = new Map<string, T>();
  for (const [field, value] of Object.entries(raw)) {
    const entry = parseOne(value, schema);
    if (entry !== undefined) out.set(field, entry);
  }
  return out;
}
