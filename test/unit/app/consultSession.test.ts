/** The consult session's policy (lobby, seats, going live, ending), on fakes for room and store. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConsultSession } from '../../../src/app/ConsultSession.js';
import type { JoinResponse, WaitingResponse } from '../../../src/protocol/payloads.js';
import { CONSULT, FakeConnection, claims, fakeDeps } from './fakes.js';

const join = { consultId: CONSULT };

function setUp(opts: Parameters<typeof fakeDeps>[0] = {}) {
  const fakes = fakeDeps(opts);
  const session = new ConsultSession(CONSULT, fakes.deps);
  const connect = (c: ReturnType<typeof claims>) => {
    const conn = new FakeConnection(c);
    session.connected(conn);
    return conn;
  };
  return { ...fakes, session, connect };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('ConsultSession: the lobby', () => {
  it('keeps a participant without the admit grant waiting until the host admits them', async () => {
    const { session, connect } = setUp();
    const host = connect(claims('doc', 'doctor', { host: true }));
    await session.join(host, join);
    const spec = connect(claims('spec', 'specialist'));
    const waiting = (await session.join(spec, join)) as WaitingResponse;
    expect(waiting.waiting).toBe(true);
    expect(
      host
        .got('lobbyChanged')
        .at(-1)
        ?.waiting.map((w) => w.peerId),
    ).toEqual([waiting.peerId]);

    await session.admit(host, waiting.peerId);
    expect(spec.got('admitted')).toHaveLength(1);
    const seated = (await session.join(spec, join)) as JoinResponse;
    expect(seated.peerId).toBe(waiting.peerId);
    expect(seated.lobby).toBeUndefined();
    expect(seated.peers.map((p) => p.peerId)).toEqual([(await hostSeat(session, host)).id]);
  });

  it("shows a denied participant the host's words, ends them and refuses a guest for the cooldown", async () => {
    const { session, connect } = setUp({ denyCooldownMs: 60_000 });
    const host = connect(claims('doc', 'doctor', { host: true }));
    await session.join(host, join);
    const guest = connect(claims('g1', 'guest', { inviteId: 'inv' }));
    const { peerId } = (await session.join(guest, join)) as WaitingResponse;
    await session.deny(host, peerId, 'wrong patient');
    expect(guest.got('denied')).toEqual([{ reason: 'wrong patient' }]);
    expect(guest.closed).toBe(true);
    const again = connect(claims('g1', 'guest', { inviteId: 'inv' }));
    await expect(session.join(again, join)).rejects.toMatchObject({ code: 'denied_recently' });
    await expect(session.admit(host, peerId)).rejects.toMatchObject({ code: 'not_found' });
  });

  it('keeps one waiting entry per person: a second connection takes it over and ends the first', async () => {
    const { session, connect, deps } = setUp();
    const first = connect(claims('spec', 'specialist'));
    const a = (await session.join(first, join)) as WaitingResponse;
    const second = connect(claims('spec', 'specialist'));
    const b = (await session.join(second, join)) as WaitingResponse;
    expect(b.peerId).toBe(a.peerId);
    expect(first.got('consultEnded')).toEqual([{ reason: 'joined_from_another_connection' }]);
    expect(first.closed).toBe(true);
    expect(deps.lobby.list(CONSULT)).toHaveLength(1);
  });
});

async function hostSeat(session: ConsultSession, host: FakeConnection) {
  return session.seatOf(host);
}

describe('ConsultSession: seats', () => {
  it('an account joining again takes over its seat once: same peer, media kept, the old connection ended', async () => {
    const { session, connect, room } = setUp();
    const tab1 = connect(claims('doc', 'doctor', { host: true }));
    const first = (await session.join(tab1, join)) as JoinResponse;
    const tab2 = connect(claims('doc', 'doctor', { host: true }));
    const second = (await session.join(tab2, join)) as JoinResponse;
    expect(second.peerId).toBe(first.peerId);
    expect(second.resumed).toBeDefined();
    expect(room.joins).toBe(1);
    expect(room.peers.size).toBe(1);
    expect(tab1.got('consultEnded')).toEqual([{ reason: 'joined_from_another_connection' }]);
    expect(tab1.closed).toBe(true);
    expect(tab1.peer).toBeUndefined();
    expect(tab2.peer?.id).toBe(first.peerId);
  });

  it("a guest takes its seat back only with the seat's resume secret", async () => {
    const { session, connect, deps } = setUp();
    const host = connect(claims('doc', 'doctor', { host: true }));
    await session.join(host, join);
    const guest = connect(claims('g1', 'guest', { inviteId: 'inv' }));
    const { peerId } = (await session.join(guest, join)) as WaitingResponse;
    await session.admit(host, peerId);
    const seated = (await session.join(guest, join)) as JoinResponse;

    const stranger = connect(claims('g1', 'guest', { inviteId: 'inv' }));
    await expect(session.join(stranger, join)).rejects.toMatchObject({ code: 'seat_taken' });
    await expect(
      session.join(stranger, { ...join, resumeSecret: 'x'.repeat(43) }),
    ).rejects.toMatchObject({ code: 'seat_taken' });
    expect(guest.closed).toBe(false);

    const back = connect(claims('g1', 'guest', { inviteId: 'inv' }));
    const resumed = (await session.join(back, {
      ...join,
      resumeSecret: seated.resumeSecret,
    })) as JoinResponse;
    expect(resumed.peerId).toBe(seated.peerId);
    expect(guest.closed).toBe(true);
    // The secret is single-use: the new holder got a new one.
    expect(resumed.resumeSecret).not.toBe(seated.resumeSecret);
    expect(deps.lobby.list(CONSULT)).toHaveLength(0);
  });

  it('refuses a second join on the same connection, and another consult', async () => {
    const { session, connect } = setUp();
    const host = connect(claims('doc', 'doctor', { host: true }));
    const both = Promise.allSettled([session.join(host, join), session.join(host, join)]);
    const [a, b] = await both;
    expect(a.status).toBe('fulfilled');
    expect(b).toMatchObject({ status: 'rejected', reason: { code: 'conflict' } });
    await expect(session.join(host, { consultId: 'other' })).rejects.toMatchObject({
      code: 'forbidden',
    });
  });

  it('keeps a dropped seat for the grace period, then closes it', async () => {
    vi.useFakeTimers();
    const { session, connect, room } = setUp({ graceMs: 30_000 });
    const host = connect(claims('doc', 'doctor', { host: true }));
    const { peerId } = (await session.join(host, join)) as JoinResponse;
    await session.disconnected(host);
    vi.advanceTimersByTime(29_000);
    expect(room.peers.has(peerId)).toBe(true);
    const back = connect(claims('doc', 'doctor', { host: true }));
    expect(((await session.join(back, join)) as JoinResponse).peerId).toBe(peerId);
    vi.advanceTimersByTime(5_000);
    expect(room.peers.has(peerId)).toBe(true);
    await session.disconnected(back);
    vi.advanceTimersByTime(30_000);
    expect(room.peers.has(peerId)).toBe(false);
  });
});

describe('ConsultSession: live and ended', () => {
  it('goes live when its host joins, not when an admin does', async () => {
    const { session, connect, calls } = setUp({ hostId: 'doc' });
    await session.join(connect(claims('root', 'admin', { host: true })), join);
    expect(calls.markLive).toBe(0);
    await session.join(connect(claims('doc', 'doctor', { host: true })), join);
    expect(calls.markLive).toBe(1);
  });

  it("removing a participant sends removed_by_host with the host's words apart", async () => {
    const { session, connect } = setUp();
    const host = connect(claims('doc', 'doctor', { host: true }));
    await session.join(host, join);
    const spec = connect(claims('spec', 'specialist'));
    const { peerId } = (await session.join(spec, join)) as WaitingResponse;
    await session.admit(host, peerId);
    await session.join(spec, join);
    await session.remove(host, peerId, 'wrong room');
    expect(spec.got('consultEnded')).toEqual([
      { reason: 'removed_by_host', message: 'wrong room' },
    ]);
    expect(spec.closed).toBe(true);
    await expect(session.remove(host, session.seatOf(host).id)).rejects.toMatchObject({
      code: 'bad_request',
    });
    // Removed means no longer admitted: they wait again.
    const again = connect(claims('spec', 'specialist'));
    expect(await session.join(again, join)).toMatchObject({ waiting: true });
  });

  it('removing a guest seated on a dead node revokes their admission: no takeover with the resume secret', async () => {
    const { session, connect, deps, calls } = setUp();
    const told: string[] = [];
    let claims_ = 0;
    const host = connect(claims('doc', 'doctor', { host: true }));
    await session.join(host, join);
    const guest = connect(claims('g1', 'guest', { inviteId: 'inv' }));
    const { peerId } = (await session.join(guest, join)) as WaitingResponse;
    await session.admit(host, peerId);
    // The guest took its seat on another node, which then died (its seat awaits a takeover).
    deps.placement = {
      ...deps.placement,
      remoteSeat: async (_c, id) => (id === peerId ? { userId: 'g1' } : undefined),
      removeElsewhere: async () => 'dead',
      claimSeat: async () => {
        claims_++;
        return { peerId, fromNode: 'dead-node', producersGone: [] };
      },
    };
    deps.otherNodes = {
      send: () => undefined,
      close: () => undefined,
      lobbyChanged: () => undefined,
      producerClosed: () => undefined,
      peerLeft: (_c, id) => told.push(id),
    };
    await expect(session.remove(host, 'someone-else')).rejects.toMatchObject({ code: 'not_found' });
    await session.remove(host, peerId, 'wrong patient');
    expect(told).toEqual([peerId]);
    expect(calls.audit.at(-1)).toBe('consult.remove');
    const back = connect(claims('g1', 'guest', { inviteId: 'inv' }));
    expect(await session.join(back, { ...join, resumeSecret: 'the-seat-secret' })).toMatchObject({
      waiting: true,
    });
    expect(claims_).toBe(0);
  });

  it('ending tells everyone, waiting or seated, closes the room, and a second end is a conflict', async () => {
    const { session, connect, room, calls } = setUp();
    const host = connect(claims('doc', 'doctor', { host: true }));
    await session.join(host, join);
    const waiter = connect(claims('spec', 'specialist'));
    await session.join(waiter, join);
    await session.end(host);
    expect(calls.end).toEqual(['ended_by_host']);
    await session.ended('ended_by_host');
    for (const c of [host, waiter]) {
      expect(c.got('consultEnded')).toEqual([{ reason: 'ended_by_host' }]);
      expect(c.closed).toBe(true);
    }
    expect(room.closedWith).toBe('consult_ended');
    await expect(session.end(host)).rejects.toMatchObject({ code: 'conflict' });
  });

  it('a revoked login ends only its own connections; a revoked user loses every seat', async () => {
    const { session, connect, room } = setUp();
    const laptop = connect(claims('doc', 'doctor', { host: true, sid: 'a' }));
    await session.join(laptop, join);
    const other = connect(claims('doc', 'doctor', { host: true, sid: 'b' }));
    session.accessRevoked('doc', 'b');
    expect(other.got('consultEnded')).toEqual([{ reason: 'access_revoked' }]);
    expect(laptop.closed).toBe(false);
    session.accessRevoked('doc');
    expect(laptop.got('consultEnded')).toEqual([{ reason: 'access_revoked' }]);
    expect(room.peers.size).toBe(0);
  });
});
