/**
 * Writes the consult record while the consult happens: participations (every join and leave),
 * the media timeline, lobby events, start and end, and chat. Every write goes through the
 * WriteQueue (retried, ordered); chat is written before it is acknowledged.
 */
import { randomUUID } from 'node:crypto';
import type { ConsultService } from '../consults/ConsultService.js';
import type { LobbyEntry, LobbyStore } from '../consults/Lobby.js';
import { GatewayError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Peer } from '../sfu/Peer.js';
import type { Room } from '../sfu/Room.js';
import type { RoomRegistry } from '../sfu/RoomRegistry.js';
import type {
  ChatMessage,
  Consult,
  ConsultEvent,
  Participation,
  Repositories,
  Store,
} from '../store/repositories.js';
import { WriteQueue } from './WriteQueue.js';

export class ConsultRecorder {
  /** Open participations by peer id. */
  readonly #open = new Map<string, Participation>();
  readonly queue: WriteQueue<Repositories>;

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    // The writes waiting at a time share one transaction: one fsync, not one per row.
    this.queue = new WriteQueue<Repositories>(logger, undefined, {
      alone: store,
      together: (fn) => store.transaction(fn),
    });
  }

  /** Subscribes to the live rooms, the lobby and the consult lifecycle. */
  attach(rooms: RoomRegistry, consults: ConsultService, lobby: LobbyStore): void {
    rooms.on('roomCreated', (room) => this.#watchRoom(room));
    consults.on('consultLive', (c) =>
      this.#event({
        consultId: c.id,
        type: 'consult.started',
        participantId: c.hostId,
        displayName: null,
        details: null,
      }),
    );
    consults.on('consultClosed', (c) => {
      // recoverInterrupted() already wrote consult.interrupted at the right time.
      if (c.endReason === 'interrupted') return;
      this.#event({
        consultId: c.id,
        at: c.endedAt ?? this.now(),
        type: c.status === 'cancelled' ? 'consult.cancelled' : 'consult.ended',
        participantId: null,
        displayName: null,
        details: { reason: c.endReason },
      });
    });
    const lobbyEvent = (type: string) => (consultId: string, e: LobbyEntry, reason?: string) =>
      this.#event({
        consultId,
        type,
        participantId: e.userId,
        displayName: e.displayName,
        details: { peerId: e.peerId, role: e.role, ...(reason ? { reason } : {}) },
      });
    lobby.on('waiting', lobbyEvent('lobby.waiting'));
    lobby.on('admitted', lobbyEvent('lobby.admitted'));
    lobby.on('denied', lobbyEvent('lobby.denied'));
    lobby.on('withdrew', lobbyEvent('lobby.withdrew'));
  }

  #event(e: Omit<ConsultEvent, 'at'> & { at?: number }): void {
    const event: ConsultEvent = { ...e, at: e.at ?? this.now() };
    this.queue.write(event.type, (db) => db.records.appendEvent(event));
  }

  #watchRoom(room: Room): void {
    const consultId = room.consultId;
    const who = (peer: Peer) => ({
      participantId: peer.identity.userId,
      displayName: peer.identity.displayName,
    });
    room.on('peerJoined', (peer) => this.#joined(consultId, peer));
    room.on('peerLeft', (peer, reason) => {
      this.#left(peer, reason);
      if (reason === 'removed') {
        this.#event({
          consultId,
          type: 'lobby.removed',
          ...who(peer),
          details: { peerId: peer.id },
        });
      }
    });
    room.on('newProducer', (peer, producer) =>
      this.#event({
        consultId,
        type: 'media.started',
        ...who(peer),
        details: { source: producer.appData.source, kind: producer.kind, producerId: producer.id },
      }),
    );
    for (const [event, type] of [
      ['producerPaused', 'media.paused'],
      ['producerResumed', 'media.resumed'],
      ['producerClosed', 'media.stopped'],
    ] as const) {
      room.on(event, (peer, producerId) => {
        const source =
          peer.producers.get(producerId)?.appData.source ?? this.#sources.get(producerId);
        if (type === 'media.stopped') this.#sources.delete(producerId);
        this.#event({ consultId, type, ...who(peer), details: { producerId, source } });
      });
    }
    room.on('newProducer', (_peer, producer) =>
      this.#sources.set(producer.id, producer.appData.source),
    );
    // A closing room closes its peers without a peerLeft each: close what is still open.
    room.on('close', (reason) => {
      for (const peer of [...this.#open.values()].filter((p) => p.consultId === consultId)) {
        this.#leftById(peer.peerId, reason);
      }
    });
  }

  /** Remembers each producer's source so `media.stopped` can name it after the producer is gone. */
  readonly #sources = new Map<string, string>();

  #joined(consultId: string, peer: Peer): void {
    // A participant taking over its own seat (same peer id) keeps one continuous participation.
    if (this.#open.has(peer.id)) return;
    const at = this.now();
    const p: Participation = {
      id: randomUUID(),
      consultId,
      participantId: peer.identity.userId,
      peerId: peer.id,
      displayName: peer.identity.displayName,
      alias: peer.identity.alias ?? null,
      role: peer.identity.role,
      userAgent: peer.identity.client?.userAgent ?? null,
      networkType: peer.identity.client?.networkType ?? null,
      joinedAt: at,
      lastSeenAt: at,
      leftAt: null,
      leaveReason: null,
    };
    this.#open.set(peer.id, p);
    if (peer.identity.movedBy === 'failover') {
      // Its node was lost: the stay it recorded there is still open. Close it where that node
      // last saw it, so the record shows the outage, not two overlapping stays. (A draining
      // node closes its own, as 'moved', once the client has let go.)
      this.queue.write('participation.lost', (db) =>
        db.records.closeSeatParticipations(consultId, peer.id, at, 'node_lost'),
      );
    }
    this.queue.write('participation.open', (db) => db.records.openParticipation(p));
    this.#event({
      consultId,
      at,
      type: 'participant.joined',
      participantId: p.participantId,
      displayName: p.displayName,
      details: {
        peerId: peer.id,
        role: p.role,
        networkType: p.networkType,
        ...(peer.identity.movedFrom === undefined
          ? {}
          : { movedFrom: peer.identity.movedFrom, movedBy: peer.identity.movedBy }),
        // Kept on the join event (no column of its own): what the pre-call check found.
        ...(peer.identity.client?.precheck ? { precheck: peer.identity.client.precheck } : {}),
      },
    });
  }

  #left(peer: Peer, reason: string): void {
    this.#leftById(peer.id, reason);
  }

  #leftById(peerId: string, reason: string): void {
    const p = this.#open.get(peerId);
    if (!p) return;
    this.#open.delete(peerId);
    const at = this.now();
    this.queue.write('participation.close', (db) =>
      db.records.closeParticipation(p.id, at, reason),
    );
    this.#event({
      consultId: p.consultId,
      at,
      type: 'participant.left',
      participantId: p.participantId,
      displayName: p.displayName,
      details: { peerId, reason },
    });
  }

  /** The participation ids currently open (for the quality sampler's heartbeat). */
  openParticipation(peerId: string): Participation | undefined {
    return this.#open.get(peerId);
  }

  /** Notes that the open participations were still there at `at` (their last-seen time). */
  heartbeat(at: number): void {
    const ids = [...this.#open.values()].map((p) => p.id);
    if (ids.length)
      this.queue.write('participation.heartbeat', (db) => db.records.touchParticipations(ids, at));
  }

  /**
   * Stores a chat message before it is acknowledged or relayed; a failed write is an error
   * the sender sees (and may retry), not a message that silently vanished. Refused (conflict)
   * when the consult already holds `maxPerConsult` messages.
   */
  async chat(
    consultId: string,
    sender: { id: string; name: string; role: string },
    text: string,
    maxPerConsult = Infinity,
  ): Promise<ChatMessage> {
    const message: ChatMessage = {
      id: randomUUID(),
      consultId,
      at: this.now(),
      senderId: sender.id,
      senderName: sender.name,
      senderRole: sender.role,
      text,
    };
    let stored: boolean;
    try {
      stored = await this.store.records.appendChat(message, maxPerConsult);
    } catch (err) {
      this.logger.error({ err, consultId }, 'chat message could not be stored');
      throw new GatewayError('unavailable', 'the message could not be saved; please send it again');
    }
    if (!stored) {
      throw new GatewayError(
        'conflict',
        `this consult's chat is full (${maxPerConsult} messages); no more can be added`,
      );
    }
    return message;
  }

  /** A page of the consult's chat before a message or time (the latest when `before` is unset). */
  async chatPage(
    consultId: string,
    before: { id: string } | { at: number } | undefined,
    limit: number,
  ): Promise<{ messages: ChatMessage[]; hasMore: boolean }> {
    const page = await this.store.records.chatPage(consultId, before, limit);
    if (!page.anchorFound) {
      throw new GatewayError('not_found', 'no such chat message in this consult');
    }
    return { messages: page.messages, hasMore: page.hasMore };
  }

  chatCount(consultId: string): Promise<number> {
    return this.store.records.chatCount(consultId);
  }

  /**
   * Consults a stopped gateway left live: close their open participations at the last time
   * anyone was seen and end them as `interrupted` then. In a cluster, `keep` names those
   * another node still carries (or may: it did not answer), which are left live.
   */
  async recoverInterrupted(
    consults: ConsultService,
    keep?: (live: Consult[]) => Promise<Set<string>>,
  ): Promise<string[]> {
    const recovered: string[] = [];
    const live = await consults.liveConsults();
    const kept = keep && live.length ? await keep(live) : new Set<string>();
    for (const c of live) {
      if (kept.has(c.id)) continue;
      const lastSeen = (await this.store.records.lastActivity(c.id)) ?? c.startedAt ?? this.now();
      // Only database statements: PostgreSQL may abort it as a deadlock with the last leaves'
      // writes (seen once at a test gateway's stop); then it is run again.
      await retryOnDeadlock(() =>
        this.store.transaction(async (tx) => {
          await tx.records.closeOpenParticipations(c.id, 'interrupted');
          await tx.records.appendEvent({
            consultId: c.id,
            at: lastSeen,
            type: 'consult.interrupted',
            participantId: null,
            displayName: null,
            details: { detectedAt: this.now() },
          });
        }),
      );
      await consults.interrupt(c.id, lastSeen);
      recovered.push(c.id);
    }
    if (recovered.length)
      this.logger.warn(
        { consults: recovered },
        'closed consults left live by a stopped gateway as interrupted',
      );
    return recovered;
  }
}

/** Runs `fn` again (3 times in all) when PostgreSQL aborts it as a deadlock (SQLSTATE 40P01). */
async function retryOnDeadlock<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= 3 || (err as { code?: unknown }).code !== '40P01') throw err;
    }
  }
}
