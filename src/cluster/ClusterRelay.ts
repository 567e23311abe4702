/**
 * What one node decides that sockets on every node must obey: a consult closed, its
 * participants changed, an invite revoked, a user's sessions revoked. The node where it
 * happened tells every other listed node over the bus; each parses the note (it comes from
 * another process) and applies it to its own sockets. Also answers "which of these consults do
 * you still carry?", so a node recovering its leftovers ends only those nobody else carries.
 */
import { z } from 'zod';
import type { ConsultSessions } from '../app/ConsultSessions.js';
import type { GracePeriods, SeatRef } from '../app/gracePeriods.js';
import type { RevocationReason, SessionRevocations } from '../auth/SessionRevocations.js';
import type { ConsultService } from '../consults/ConsultService.js';
import type { Logger } from '../logger.js';
import type { EndReason } from '../protocol/vocabulary.js';
import type { Consult } from '../store/repositories.js';
import type { ClusterBus } from './ClusterBus.js';
import type { ConsultDirectory } from './ConsultDirectory.js';
import { SEAT_REMOVE, seatRemoveRequest } from './ClusterPlacement.js';
import type { NodeRegistry } from './NodeRegistry.js';

const id = z.string().min(1).max(200);
const revocationReasons = [
  'disabled',
  'role_changed',
  'logout',
  'refresh_reuse',
  'password_changed',
  'revoked',
] as const satisfies readonly RevocationReason[];

const consultClosed = z.object({ consultId: id, reason: z.string().min(1).max(64) });
const consultUpdated = z.object({ consultId: id });
const inviteRevoked = z.object({ consultId: id, inviteId: id });
const sessionsRevoked = z.object({
  userId: id,
  familyId: id.optional(),
  reason: z.enum(revocationReasons),
});
const seatMoved = z.object({ consultId: id, peerId: id, epoch: z.number().int().min(0) });
const graceExpired = z.object({ consultId: id, seatId: id });
const carriedRequest = z.object({ ids: z.array(id).max(10_000) });
const carriedAnswer = z.object({ carried: z.array(id) });

export interface ClusterRelayDeps {
  nodeId: string;
  bus: ClusterBus;
  registry: NodeRegistry;
  consults: ConsultService;
  sessions: SessionRevocations;
  live: ConsultSessions;
  /** While this node drains: how long a seat that moved away keeps its media here. */
  handoverMs?: () => number | undefined;
  /** The cluster's grace periods (Redis): an expired one is ended by the node holding the seat. */
  grace?: GracePeriods;
  directory?: Pick<ConsultDirectory, 'seatNode' | 'removeDeadSeat'>;
  logger: Logger;
}

export class ClusterRelay {
  /** Set while a revocation from another node is applied here, so it is not sent back. */
  #applying = false;
  readonly #log: Logger;

  constructor(private readonly deps: ClusterRelayDeps) {
    const { bus, consults, sessions, live } = deps;
    this.#log = deps.logger.child({ component: 'cluster-relay' });

    bus.handle('consult.closed', consultClosed, (p) =>
      live.ended(p.consultId, p.reason as EndReason),
    );
    bus.handle('consult.updated', consultUpdated, (p) => live.participantsChanged(p.consultId));
    bus.handle('invite.revoked', inviteRevoked, (p) => live.inviteRevoked(p.consultId, p.inviteId));
    bus.handle('sessions.revoked', sessionsRevoked, (p) => {
      // Through this node's own revocations: its caches forget the user or learn the ended
      // login (so new tokens of it are refused here too), and its sockets close.
      this.#applying = true;
      try {
        if (p.familyId !== undefined) sessions.familyRevoked(p.userId, p.familyId, p.reason);
        else sessions.userRevoked(p.userId, p.reason);
      } finally {
        this.#applying = false;
      }
    });
    // Another node took one of this node's seats over with its resume secret.
    bus.handle('seat.moved', seatMoved, (p) =>
      live.find(p.consultId)?.seatMovedAway(p.peerId, deps.handoverMs?.()),
    );
    // A host on another node removes a participant seated here (their admission is revoked
    // there); only a seat of the consult named is looked for.
    bus.handle(SEAT_REMOVE, seatRemoveRequest, (p) => ({
      removed: live.find(p.consultId)?.removeSeat(p.peerId, p.message) ?? false,
    }));
    bus.handle('grace.expired', graceExpired, (p) => {
      live.graceExpired(p.consultId, p.seatId);
    });
    deps.grace?.onExpired((seat) => this.#graceExpired(seat));
    bus.handle('consults.carried', carriedRequest, (p) => ({
      carried: p.ids.filter((consultId) => live.carries(consultId)),
    }));

    consults.on('consultClosed', (c) =>
      this.#tell('consult.closed', { consultId: c.id, reason: c.endReason ?? c.status }),
    );
    consults.on('consultUpdated', (c) => this.#tell('consult.updated', { consultId: c.id }));
    consults.on('inviteRevoked', (invite) =>
      this.#tell('invite.revoked', { consultId: invite.consultId, inviteId: invite.id }),
    );
    sessions.on('sessionsRevoked', (r) => {
      if (!this.#applying) this.#tell('sessions.revoked', r);
    });
  }

  /**
   * A seat's grace period ran out (this node claimed it in Redis): the node holding the seat
   * closes it (peerLeft from there); a seat whose node died meanwhile is removed here and
   * everyone told. A throw leaves it to be claimed again after its lease.
   */
  async #graceExpired(seat: SeatRef): Promise<void> {
    const { live, directory, registry, bus, nodeId } = this.deps;
    if (live.graceExpired(seat.consultId, seat.seatId) || !directory) return;
    const node = await directory.seatNode(seat.consultId, seat.seatId);
    if (!node || node === nodeId) return; // taken back and gone, or closed here already
    if ((await registry.list()).some((n) => n.id === node && n.alive)) {
      await bus.request(node, 'grace.expired', seat, z.unknown(), 2000);
      return;
    }
    if (await directory.removeDeadSeat(seat.consultId, seat.seatId, node)) {
      this.#log.info({ ...seat, node }, 'seat of a dead node released after its grace period');
      live.seatLeftElsewhere(seat.consultId, seat.seatId);
    }
  }

  /** Sends a note to every other listed node (at most once: lost while Redis is down). */
  #tell(type: string, payload: unknown): void {
    void (async () => {
      const nodes = await this.deps.registry.list();
      await Promise.all(
        nodes
          .filter((n) => n.id !== this.deps.nodeId)
          .map((n) => this.deps.bus.notify(n.id, type, payload)),
      );
    })().catch((err: Error) =>
      this.#log.error({ type, err: err.message }, 'could not tell the other nodes'),
    );
  }

  /**
   * Of this node's live consults, those to leave live: another live node carries them (they
   * are handed over to it, so it recovers them if it stops) or may (it did not answer in time).
   */
  async stillCarried(live: Consult[], timeoutMs = 2000): Promise<Set<string>> {
    const ids = live.map((c) => c.id);
    const keep = new Set<string>();
    let others;
    try {
      others = (await this.deps.registry.list()).filter(
        (n) => n.alive && n.id !== this.deps.nodeId,
      );
    } catch (err) {
      this.#log.error(
        { err: (err as Error).message, consults: ids },
        'cannot read the node list: left every live consult of this node live',
      );
      return new Set(ids);
    }
    const answers = await Promise.all(
      others.map((n) =>
        this.deps.bus
          .request(n.id, 'consults.carried', { ids }, carriedAnswer, timeoutMs)
          .then((a) => ({ node: n.id, carried: a.carried }))
          .catch(() => ({ node: n.id, carried: undefined })),
      ),
    );
    const silent = answers.filter((a) => a.carried === undefined).map((a) => a.node);
    for (const a of answers) {
      for (const consultId of a.carried ?? []) {
        if (keep.has(consultId) || !ids.includes(consultId)) continue;
        keep.add(consultId);
        await this.deps.consults.handOver(consultId, a.node);
        this.#log.info({ consultId, to: a.node }, 'live consult carried on by another node');
      }
    }
    if (silent.length) {
      const unsure = ids.filter((consultId) => !keep.has(consultId));
      for (const consultId of unsure) keep.add(consultId);
      if (unsure.length)
        this.#log.warn(
          { nodes: silent, consults: unsure },
          'nodes did not say whether they carry these consults: left them live',
        );
    }
    return keep;
  }
}
