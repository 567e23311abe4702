/**
 * One live consult, independent of the transport: who is connected, the lobby policy (who
 * waits, who is admitted or denied), seats and their takeover (a dropped connection or a
 * second tab takes its own seat back, media and all), when the consult goes live, and how
 * everyone leaves when it ends, an invite is revoked or an account loses access. Signalling
 * handlers parse and check permissions, then call one method here.
 */
import { randomUUID } from 'node:crypto';
import { GatewayError } from '../errors.js';
import type { JoinRequest } from '../protocol/requests.js';
import type { JoinResponse, WaitingResponse } from '../protocol/payloads.js';
import type { Consult } from '../store/repositories.js';
import {
  rejoinReasons,
  type EndReason,
  type LeaveReason,
  type RejoinReason,
} from '../protocol/vocabulary.js';
import type { types } from 'mediasoup';
import type { ConsumerAppData, Peer } from '../sfu/Peer.js';
import { toClient } from '../sfu/wire.js';
import { LobbyNotifier } from './LobbyNotifier.js';
import { may } from './permissions.js';
import type { Connection, SessionDeps } from './ports.js';
import { Seats } from './Seats.js';
import { lobbySnapshot, peerInfo, resumedState } from './views.js';

const isRejoinReason = (r: LeaveReason): r is RejoinReason =>
  (rejoinReasons as readonly string[]).includes(r);

export class ConsultSession {
  /** Every connection whose grant is for this consult, joined, waiting or neither. */
  readonly connections = new Set<Connection>();
  readonly #seats: Seats;
  readonly #lobbyNotifier: LobbyNotifier;
  /** Connections whose join is under way (a second join meanwhile is a conflict). */
  readonly #joining = new WeakSet<Connection>();
  /** Seats moved to another node while this one drains: kept until their client lets go. */
  readonly #handedOver = new Set<string>();
  #known: Consult | undefined;

  constructor(
    readonly consultId: string,
    private readonly deps: SessionDeps,
  ) {
    this.#seats = new Seats(consultId, deps.grace);
    this.#lobbyNotifier = new LobbyNotifier(() => this.#sendLobby());
  }

  /** The grace period of seat `peerId` ran out: it is closed here unless taken back; false if not here. */
  graceExpired(peerId: string): boolean {
    const peer = this.deps.rooms.rooms.get(this.consultId)?.peers.get(peerId);
    if (!peer || peer.closed) return false;
    this.#seats.expired(peer);
    return true;
  }

  connected(conn: Connection): void {
    this.connections.add(conn);
    if (conn.admission) this.#known = conn.admission.consult;
  }

  /** The consult as last read for one of its connections (current but for its status). */
  get known(): Consult | undefined {
    return this.#known;
  }

  /** The seat the connection speaks for; `not_joined` when it has none. */
  seatOf(conn: Connection): Peer {
    const peer = conn.peer;
    if (!peer || peer.closed) throw new GatewayError('not_joined', 'join the consult first');
    return peer;
  }

  /**
   * Joins: hosts (and those admitted earlier) take a seat; others wait in the lobby. The same
   * person's seat is taken over, exactly once, here: an account's own connections may replace
   * each other; a guest must show the seat's resume secret.
   */
  async join(conn: Connection, req: JoinRequest): Promise<JoinResponse | WaitingResponse> {
    const { claims } = conn;
    if (req.consultId !== this.consultId) {
      throw new GatewayError('forbidden', 'this grant does not admit you to that consult');
    }
    if (this.#joining.has(conn) || (conn.peer && !conn.peer.closed)) {
      throw new GatewayError('conflict', 'already joined; leave first');
    }
    if (this.deps.drain?.draining()) await this.#refuseDraining(conn);
    this.#joining.add(conn);
    try {
      return await this.#onePersonAtATime(claims.sub, async () => {
        // The record names people by what the gateway vouches for; a chosen name is an alias.
        const vouched =
          conn.admission?.vouchedName ?? (await this.deps.consults.vouchedName(claims));
        const alias =
          req.displayName !== undefined && req.displayName !== vouched
            ? req.displayName
            : undefined;
        const host = may(claims.grants, 'skipLobby');
        const admittedAs = await this.deps.lobby.admittedPeerId(this.consultId, claims.sub);
        if (!host && !admittedAs) return await this.#wait(conn, vouched, alias);
        return await this.#takeSeat(conn, req, vouched, alias, host, admittedAs);
      });
    } finally {
      this.#joining.delete(conn);
    }
  }

  /** The last join of each person here, to run the next one after it. */
  readonly #personJoins = new Map<string, Promise<void>>();

  /**
   * Runs `join` once every earlier join of the same person here has settled. Two connections
   * of one person (two tabs, or a retry racing its original) would otherwise both pass the
   * seat check before either took the seat, and both be seated with the same peer id, neither
   * ended. One after the other, the later one takes the seat over (an account) or is refused
   * (a guest without the seat's current secret), as for any second connection.
   */
  async #onePersonAtATime<T>(userId: string, join: () => Promise<T>): Promise<T> {
    const run = (this.#personJoins.get(userId) ?? Promise.resolve()).then(join);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.#personJoins.set(userId, settled);
    void settled.then(() => {
      if (this.#personJoins.get(userId) === settled) this.#personJoins.delete(userId);
    });
    return run;
  }

  /** This node is draining: the client is told where to go (`migrate`), the join refused. */
  async #refuseDraining(conn: Connection): Promise<never> {
    const url = await this.deps.drain?.target().catch(() => undefined);
    if (url) conn.send('migrate', { url, reason: 'drain' });
    throw new GatewayError(
      'node_draining',
      `this server is shutting down for a restart: join through ${url ?? 'another server of the cluster'}`,
    );
  }

  async #wait(conn: Connection, vouched: string, alias?: string): Promise<WaitingResponse> {
    const { claims } = conn;
    // Kept here: a newer connection of the same person may take the entry over meanwhile.
    let peerId = conn.waitingPeerId;
    if (!peerId) {
      const wait = await this.deps.lobby.deniedFor(this.consultId, claims.sub);
      if (wait > 0) {
        const minutes = Math.ceil(wait / 60_000);
        throw new GatewayError(
          'denied_recently',
          `the host did not admit you a moment ago; you can ask to join again in ${minutes} minute${minutes === 1 ? '' : 's'}`,
        );
      }
      const { entry, replaced } = await this.deps.lobby.add(this.consultId, {
        peerId: randomUUID(),
        userId: claims.sub,
        displayName: vouched,
        ...(alias === undefined ? {} : { alias }),
        role: claims.role,
        socketId: conn.id,
        since: Date.now(),
        ...(claims.redeemedAt === undefined ? {} : { redeemedAt: claims.redeemedAt }),
      });
      // One waiting entry per identity: this connection takes it over from the earlier one.
      const previous = replaced && this.#connection(replaced.socketId);
      if (previous && previous !== conn) this.#endReplaced(previous);
      else if (replaced && !previous && this.deps.otherNodes) {
        // It waited through another node: that connection is ended there.
        this.deps.otherNodes.send(replaced.socketId, 'consultEnded', {
          reason: 'joined_from_another_connection',
        });
        this.deps.otherNodes.close(replaced.socketId);
      }
      peerId = entry.peerId;
      conn.waitingPeerId = peerId;
      if (!replaced) await this.#audit(conn, 'consult.lobby_wait', { peerId });
      this.#lobbyChanged();
    }
    return { waiting: true, peerId };
  }

  async #takeSeat(
    conn: Connection,
    req: JoinRequest,
    vouched: string,
    alias: string | undefined,
    host: boolean,
    admittedAs: string | undefined,
  ): Promise<JoinResponse> {
    const { claims } = conn;
    const room = await this.deps.rooms.getOrCreate(this.consultId);
    // The pipes from other nodes are negotiated while the seat is taken, not after the answer.
    this.deps.placement.prepare?.(this.consultId);
    const seat = [...room.peers.values()].find(
      (p) => p.identity.userId === claims.sub && !p.closed,
    );
    if (seat && claims.inviteId !== undefined && !this.#seats.proves(seat.id, req.resumeSecret)) {
      throw new GatewayError(
        'seat_taken',
        'you are already in this consult in another window (or your connection there is still being restored): close it, or try again in a minute',
      );
    }
    // A seat on another node moves here only with its resume secret (failover, a split).
    const moved = seat
      ? undefined
      : await this.deps.placement.claimSeat?.(this.consultId, claims.sub, req.resumeSecret);
    if (!seat && !moved && (await this.deps.placement.seatElsewhere(this.consultId, claims.sub))) {
      throw new GatewayError(
        'seat_taken',
        'you are already in this consult through another server (another window, or a connection still being restored): close it, or try again in a minute',
      );
    }
    let peer: Peer;
    if (seat) {
      const previous = this.#seats.holderOf(seat.id);
      if (previous && previous !== conn) this.#endReplaced(previous);
      peer = seat;
    } else {
      try {
        peer = room.join(
          {
            userId: claims.sub,
            displayName: vouched,
            ...(alias === undefined ? {} : { alias }),
            role: claims.role,
            client: {
              userAgent: conn.userAgent,
              networkType: req.networkType,
              ...(req.precheck ? { precheck: req.precheck } : {}),
            },
            ...(moved
              ? { movedFrom: moved.fromNode, movedBy: moved.handover ? 'drain' : 'failover' }
              : {}),
          },
          moved?.peerId ?? conn.waitingPeerId ?? admittedAs,
        );
      } catch (err) {
        if (moved) this.deps.placement.unclaimSeat?.(this.consultId, moved.peerId);
        throw err;
      }
      this.#wire(peer);
      // The old node's producers are gone; the client produces again here. (A draining
      // node keeps them until the client lets go, then announces their end itself.)
      for (const id of moved?.handover ? [] : (moved?.producersGone ?? [])) {
        this.deps.otherNodes?.producerClosed(this.consultId, peer.id, id);
      }
    }
    this.#seats.hold(peer, conn);
    conn.waitingPeerId = undefined;
    conn.peer = peer;
    conn.bindSeat(peer);
    // The consult goes live when its host (not an observing admin) is in; a live one stays
    // live (or ends, and ending it ends this connection).
    const consult = host
      ? (conn.admission?.consult ?? (await this.deps.consults.find(this.consultId)))
      : undefined;
    if (consult?.hostId === claims.sub && consult.status !== 'live') {
      const live = await this.deps.consults.markLive(this.consultId);
      if (live && conn.admission) conn.admission = { ...conn.admission, consult: live };
    }
    const resumeSecret = this.#seats.issueSecret(peer.id);
    // Independent reads and writes (the record, Redis, the chat): together, not one after
    // another, since a failover's media waits for this answer.
    const [, waiting, nodes, , remotePeers, chat] = await Promise.all([
      this.#audit(conn, seat || moved ? 'consult.resume' : 'consult.join', {
        peerId: peer.id,
        role: claims.role,
        ...(moved ? { fromNode: moved.fromNode } : {}),
      }),
      host ? this.deps.lobby.list(this.consultId) : undefined,
      this.deps.placement.entryPoints?.().catch(() => undefined),
      this.deps.placement
        .seatSecret?.(this.consultId, peer.id, resumeSecret)
        .catch((err: unknown) =>
          this.deps.logger.warn(
            { err },
            'could not share the resume secret: no takeover elsewhere',
          ),
        ),
      this.deps.placement.remotePeers(this.consultId),
      this.deps.chat.onJoin(this.consultId),
    ]);
    const lobby = waiting ? lobbySnapshot(waiting) : undefined;
    return {
      peerId: peer.id,
      resumeSecret,
      routerRtpCapabilities: toClient.rtpCapabilities(room.router.rtpCapabilities),
      peers: [...[...room.peers.values()].filter((p) => p !== peer).map(peerInfo), ...remotePeers],
      ...chat,
      ...(lobby ? { lobby: lobby.waiting, lobbyTotal: lobby.total } : {}),
      ...(seat || moved ? { resumed: resumedState(peer) } : {}),
      ...(nodes?.length ? { nodes } : {}),
    };
  }

  /** Resolves once every node can find producer `producerId` of this node (see MediaPlacement). */
  async listed(producerId: string): Promise<void> {
    await this.deps.placement.listed?.(producerId);
  }

  /** Consumes another participant's producer, on this node or piped from the node it lives on. */
  async consume(
    conn: Connection,
    producerId: string,
    rtpCapabilities: types.RtpCapabilities,
  ): Promise<types.Consumer<ConsumerAppData>> {
    const peer = this.seatOf(conn);
    const room = this.deps.rooms.rooms.get(this.consultId);
    if (!room || room.closed) throw new GatewayError('not_joined', 'join the consult first');
    return this.deps.placement.consume(room, peer, producerId, rtpCapabilities);
  }

  /** Leaves the lobby, or the seat. */
  async leave(conn: Connection): Promise<void> {
    if (conn.waitingPeerId) {
      await this.#withdraw(conn, conn.waitingPeerId);
      return;
    }
    this.seatOf(conn).close('left');
  }

  /** The host lets someone in: they are told to join again (on whatever node they wait). */
  async admit(host: Connection, peerId: string): Promise<void> {
    const entry = await this.deps.lobby.admit(this.consultId, peerId);
    if (!entry) throw new GatewayError('not_found', `nobody waits in the lobby as ${peerId}`);
    const target = this.#connection(entry.socketId);
    if (target) target.send('admitted', {});
    else this.deps.otherNodes?.send(entry.socketId, 'admitted', {});
    await this.#audit(
      host,
      'consult.admit',
      { peerId, displayName: entry.displayName },
      { type: 'participant', id: entry.userId },
    );
    this.#lobbyChanged();
  }

  /** The host refuses someone waiting; `message` is shown to them. */
  async deny(host: Connection, peerId: string, message?: string): Promise<void> {
    const why = message ?? 'the host did not admit you';
    const entry = await this.deps.lobby.deny(this.consultId, peerId, why);
    if (!entry) throw new GatewayError('not_found', `nobody waits in the lobby as ${peerId}`);
    const target = this.#connection(entry.socketId);
    if (target) {
      target.waitingPeerId = undefined;
      target.send('denied', { reason: why });
      target.close();
    } else if (this.deps.otherNodes) {
      this.deps.otherNodes.send(entry.socketId, 'denied', { reason: why });
      this.deps.otherNodes.close(entry.socketId);
    }
    await this.#audit(
      host,
      'consult.deny',
      { peerId, displayName: entry.displayName },
      { type: 'participant', id: entry.userId },
    );
    this.#lobbyChanged();
  }

  /**
   * The host removes a participant, on this node or (cluster) another; `message` (their own
   * words) is shown to them. Their admission goes first, so no node lets them back in.
   */
  async remove(host: Connection, peerId: string, message?: string): Promise<void> {
    if (peerId === this.seatOf(host).id) {
      throw new GatewayError('bad_request', 'use leave to leave yourself');
    }
    let userId = this.#localSeat(peerId)?.identity.userId;
    userId ??= (await this.deps.placement.remoteSeat?.(this.consultId, peerId))?.userId;
    if (!userId) throw new GatewayError('not_found', `no participant ${peerId} in this consult`);
    await this.deps.lobby.revokeAdmission(this.consultId, userId);
    if (!this.removeSeat(peerId, message)) {
      const outcome = await this.deps.placement.removeElsewhere?.(this.consultId, peerId, message);
      if (outcome === 'here') this.removeSeat(peerId, message);
      else if (outcome === 'dead') this.deps.otherNodes?.peerLeft(this.consultId, peerId);
    }
    await this.#audit(host, 'consult.remove', { peerId }, { type: 'participant', id: userId });
  }

  /**
   * Closes seat `peerId` here as removed by the host: its holder is told (`message` shown) and
   * disconnected, everyone sees `peerLeft`. False when this node does not hold it.
   */
  removeSeat(peerId: string, message?: string): boolean {
    const target = this.#localSeat(peerId);
    if (!target) return false;
    const holder = this.#seats.holderOf(peerId);
    holder?.send('consultEnded', {
      reason: 'removed_by_host',
      ...(message === undefined ? {} : { message }),
    });
    target.close('removed');
    holder?.close();
    return true;
  }

  #localSeat(peerId: string): Peer | undefined {
    const peer = this.deps.rooms.rooms.get(this.consultId)?.peers.get(peerId);
    return peer && !peer.closed ? peer : undefined;
  }

  /** The host ends the consult for everyone (`ended` follows from the consult service). */
  async end(host: Connection): Promise<void> {
    const { claims } = host;
    const ended = await this.deps.consults.end(
      this.consultId,
      'ended_by_host',
      { id: claims.sub, label: claims.name },
      host.ip,
    );
    if (!ended) throw new GatewayError('conflict', 'this consult has already ended');
  }

  /** The connection dropped: out of the lobby; its seat waits the grace period for it. */
  async disconnected(conn: Connection): Promise<void> {
    this.connections.delete(conn);
    if (conn.waitingPeerId) await this.#withdraw(conn, conn.waitingPeerId);
    const peer = conn.peer;
    if (!peer || peer.closed) return;
    // Its client moved to another node (drain) and now lets go of the old media.
    if (this.#handedOver.has(peer.id) && this.#seats.holderOf(peer.id) === conn) {
      peer.close('moved');
      return;
    }
    this.#seats.release(peer, conn, this.deps.graceMs);
  }

  /**
   * Another node took this seat over with its resume secret (this node was cut off, not
   * dead): the connection here is ended and the seat closed without `peerLeft`. With
   * `handoverMs` (this node drains) the seat's media stays until its client disconnects from
   * here, having built its media on the new node (make-before-break), or that long at most.
   */
  seatMovedAway(peerId: string, handoverMs?: number): void {
    const peer = this.deps.rooms.rooms.get(this.consultId)?.peers.get(peerId);
    if (!peer || peer.closed) return;
    const holder = this.#seats.holderOf(peerId);
    if (handoverMs !== undefined && holder) {
      this.#handedOver.add(peerId);
      const timer = setTimeout(() => this.seatMovedAway(peerId), handoverMs);
      timer.unref();
      peer.once('close', () => clearTimeout(timer));
      return;
    }
    if (holder) this.#endReplaced(holder);
    peer.close('moved');
  }

  /** Draining: tells each connection here which node to move to; answers how many were told. */
  migrate(urls: () => string | undefined): number {
    let told = 0;
    for (const conn of this.connections) {
      const url = urls();
      if (!url) break;
      conn.send('migrate', { url, reason: 'drain' });
      told++;
    }
    return told;
  }

  /** The consult ended or was cancelled: everyone is told why and let go. */
  async ended(reason: EndReason): Promise<void> {
    const everyone = [...this.connections];
    for (const conn of everyone) conn.send('consultEnded', { reason });
    this.deps.rooms.rooms.get(this.consultId)?.close('consult_ended');
    await this.deps.lobby.clear(this.consultId);
    this.deps.chat.forget(this.consultId);
    this.#lobbyNotifier.stop();
    for (const conn of everyone) {
      conn.waitingPeerId = undefined;
      conn.close();
    }
  }

  /** Everyone who came with this invite is out. */
  async inviteRevoked(inviteId: string): Promise<void> {
    for (const conn of [...this.connections]) {
      if (conn.claims.inviteId !== inviteId) continue;
      conn.send('consultEnded', { reason: 'invite_revoked' });
      await this.deps.lobby.revokeAdmission(this.consultId, conn.claims.sub);
      conn.close();
    }
  }

  /**
   * A user's sessions (or one login of theirs) were revoked: their connections are told and
   * closed, their seats closed with no grace.
   */
  accessRevoked(userId: string, familyId?: string): void {
    for (const conn of [...this.connections]) {
      const c = conn.claims;
      if (c.inviteId || c.sub !== userId) continue;
      if (familyId !== undefined && c.sid !== familyId) continue;
      conn.send('consultEnded', { reason: 'access_revoked' });
      conn.peer?.close('access_revoked');
      conn.close();
    }
    // Seats of the user kept for a dropped connection's grace period go too.
    if (familyId !== undefined) return;
    const room = this.deps.rooms.rooms.get(this.consultId);
    for (const peer of [...(room?.peers.values() ?? [])]) {
      if (peer.identity.userId === userId) peer.close('access_revoked');
    }
  }

  /** The consult's participants changed: connections no longer allowed in are ended. */
  async reauthorize(): Promise<void> {
    this.#known = undefined;
    for (const conn of [...this.connections]) {
      try {
        const consult = await this.deps.consults.authorizeJoin(conn.claims);
        if (conn.admission) conn.admission = { ...conn.admission, consult };
        this.#known = consult;
      } catch {
        conn.send('consultEnded', { reason: 'access_revoked' });
        conn.peer?.close('access_revoked');
        conn.close();
      }
    }
  }

  #connection(id: string): Connection | undefined {
    for (const conn of this.connections) if (conn.id === id) return conn;
    return undefined;
  }

  /** Takes the connection's entry out of the lobby. */
  async #withdraw(conn: Connection, peerId: string): Promise<void> {
    // In a cluster a connection on another node may have taken the entry over meanwhile.
    const taken =
      this.deps.otherNodes &&
      (await this.deps.lobby.list(this.consultId)).find((e) => e.peerId === peerId)?.socketId !==
        conn.id;
    if (!taken) await this.deps.lobby.withdraw(this.consultId, peerId);
    conn.waitingPeerId = undefined;
    if (!taken) this.#lobbyChanged();
  }

  /** Ends a connection that another connection of the same person replaced. */
  #endReplaced(conn: Connection): void {
    conn.waitingPeerId = undefined;
    conn.peer = undefined;
    conn.bindSeat(undefined);
    conn.send('consultEnded', { reason: 'joined_from_another_connection' });
    conn.close();
  }

  /** Seat events go to whichever connection holds the seat at the time. */
  #wire(peer: Peer): void {
    const holder = () => this.#seats.holderOf(peer.id);
    peer.on('consumerClosed', (consumerId) => holder()?.send('consumerClosed', { consumerId }));
    // The server's bandwidth adaptation, told to the receiver it adapts for.
    peer.bandwidth.on('videoPaused', ({ consumerId }) =>
      holder()?.send('videoPaused', { consumerId, reason: 'bandwidth' }),
    );
    peer.bandwidth.on('videoResumed', ({ consumerId }) =>
      holder()?.send('videoResumed', { consumerId }),
    );
    peer.bandwidth.on('forwardedLayers', ({ consumerId, spatialLayer, temporalLayer }) =>
      holder()?.send('layersChanged', { consumerId, spatialLayer, temporalLayer }),
    );
    peer.once('close', (reason) => {
      const owner = holder();
      this.#seats.forget(peer.id);
      this.#handedOver.delete(peer.id);
      if (owner) {
        owner.peer = undefined;
        owner.bindSeat(undefined);
        if (isRejoinReason(reason)) owner.send('rejoinRequired', { reason });
      }
      if (reason === 'left' || reason === 'disconnected') {
        const actor =
          owner ?? [...this.connections].find((c) => c.claims.sub === peer.identity.userId);
        this.#auditAs(
          actor?.claims ?? { sub: peer.identity.userId, name: peer.identity.displayName },
          actor?.ip ?? null,
          'consult.leave',
          { peerId: peer.id, reason },
        ).catch((err: unknown) => this.deps.logger.error({ err }, 'could not audit a leave'));
      }
    });
  }

  /** Another node changed the consult's lobby: this node's hosts are told. */
  lobbyChangedElsewhere(): void {
    this.#lobbyNotifier.changed();
  }

  #lobbyChanged(): void {
    this.#lobbyNotifier.changed();
    this.deps.otherNodes?.lobbyChanged(this.consultId);
  }

  #sendLobby(): void {
    void (async () => {
      const snapshot = lobbySnapshot(await this.deps.lobby.list(this.consultId));
      for (const conn of this.connections) {
        if (conn.peer && !conn.peer.closed && may(conn.claims.grants, 'seeLobby')) {
          conn.send('lobbyChanged', snapshot);
        }
      }
    })().catch((err: unknown) => this.deps.logger.warn({ err }, 'could not send the lobby'));
  }

  #audit(
    conn: Connection,
    action: string,
    details: Record<string, unknown>,
    object: { type: string; id: string } = { type: 'consult', id: this.consultId },
  ): Promise<unknown> {
    return this.#auditAs(conn.claims, conn.ip, action, details, object);
  }

  async #auditAs(
    who: { sub: string; name: string },
    ip: string | null,
    action: string,
    details: Record<string, unknown>,
    object: { type: string; id: string } = { type: 'consult', id: this.consultId },
  ): Promise<unknown> {
    return this.deps.audit.record({
      action,
      actor: { id: who.sub, label: who.name },
      ip,
      object,
      details: { consultId: this.consultId, ...details },
    });
  }
}
