/**
 * The join cycle's cost: a connection's consult and account are read once, at connect, and
 * serve its join and leave; what changes them reaches the connection as events. These tests
 * pin the reads, and that nothing read once outlives the consult or the access it granted.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ConsumeResponse, TransportResponse } from '../../src/protocol/index.js';
import type { Consult, User } from '../../src/store/repositories.js';
import { audioRtpParameters, type TestClient } from '../support/client.js';
import { joinAdmitted, joinAsHost } from '../support/consult.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

let gw: TestGateway;
let host: User;
let specialist: User;
const clients: TestClient[] = [];

beforeEach(async () => {
  gw = await startTestGateway();
  host = await gw.user('doctor', 'Dr. Grey');
  specialist = await gw.user('specialist', 'Dr. Shepherd');
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await gw.stop();
});

/** Counts the store's reads of consults and users from now on. */
function countReads() {
  const reads = { consults: 0, users: 0 };
  const { consults, users } = gw.store;
  const findConsult = consults.findById.bind(consults);
  const findUser = users.findById.bind(users);
  consults.findById = (id) => (reads.consults++, findConsult(id));
  users.findById = (id) => (reads.users++, findUser(id));
  return reads;
}

async function statusOf(id: string, want: Consult['status']): Promise<Consult> {
  // Bounded by the leave's own consequence (the room's close handler), not by a guess.
  for (let i = 0; i < 200; i++) {
    const c = (await gw.store.consults.findById(id))!;
    if (c.status === want) return c;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`consult ${id} never became ${want}`);
}

describe('the join cycle', () => {
  it('reads the consult and the account once, at connect, for connect, join, transport and leave', async () => {
    const consult = await gw.consult(host, [specialist]);
    const first = await joinAsHost(gw, consult.id, await gw.grant(consult.id, host));
    first.client.close();
    const token = await gw.grant(consult.id, host);
    await statusOf(consult.id, 'live');

    const reads = countReads();
    const again = await joinAsHost(gw, consult.id, token);
    clients.push(again.client);
    await again.client.call<TransportResponse>('createTransport', { direction: 'send' });
    await again.client.call('leave', {});
    // The consult's end is an hour ahead: nothing to re-read when the room empties.
    expect(reads).toEqual({ consults: 1, users: 1 });
  });

  it('ends a consult whose scheduled end passed while it ran when its last participant leaves', async () => {
    const soon = await gw.consult(host, [], { scheduledEnd: Date.now() + 500 });
    const later = await gw.consult(host, []);
    const a = await joinAsHost(gw, soon.id, await gw.grant(soon.id, host));
    const b = await joinAsHost(gw, later.id, await gw.grant(later.id, host));
    clients.push(a.client, b.client);
    await statusOf(soon.id, 'live');
    await statusOf(later.id, 'live');
    // What was read at connect said "ends in 500 ms": once that passed, the leave reads again.
    const wait = soon.scheduledEnd - Date.now() + 50;
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    await a.client.call('leave', {});
    await b.client.call('leave', {});
    expect((await statusOf(soon.id, 'ended')).endReason).toBe('everyone_left');
    expect((await gw.store.consults.findById(later.id))!.status).toBe('live');
  });

  it('watches any number of live consults with one socket.io adapter listener per event', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      // More consults than an emitter allows listeners before it warns of a leak.
      for (let i = 0; i < 11; i++) {
        const consult = await gw.consult(host, []);
        const joined = await joinAsHost(gw, consult.id, await gw.grant(consult.id, host));
        clients.push(joined.client);
      }
      const adapter = gw.io.of('/').adapter;
      expect(gw.rooms.rooms.size).toBe(11);
      expect(adapter.listenerCount('join-room')).toBe(1);
      expect(adapter.listenerCount('leave-room')).toBe(1);
      expect(warnings).not.toContain('MaxListenersExceededWarning');
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('an ended consult serves no consume asked for after its end, though checked only at connect', async () => {
    const consult = await gw.consult(host, [specialist]);
    const hostJoined = await joinAsHost(gw, consult.id, await gw.grant(consult.id, host));
    clients.push(hostJoined.client);
    const send = await hostJoined.client.call<TransportResponse>('createTransport', {
      direction: 'send',
    });
    const { producerId } = await hostJoined.client.call<{ producerId: string }>('produce', {
      transportId: send.id,
      kind: 'audio',
      rtpParameters: audioRtpParameters(5151),
      appData: { source: 'mic' },
    });
    const spec = await joinAdmitted(
      gw,
      consult.id,
      await gw.grant(consult.id, specialist),
      hostJoined.client,
    );
    clients.push(spec.client);
    const recv = await spec.client.call<TransportResponse>('createTransport', {
      direction: 'recv',
    });
    const consume = () =>
      spec.client.request<ConsumeResponse>('consume', {
        transportId: recv.id,
        producerId,
        rtpCapabilities: spec.join.routerRtpCapabilities,
      });
    expect((await consume()).ok).toBe(true);

    // Asked the moment the client hears of the end: refused, or the connection is gone first.
    const ended = spec.client.next<{ reason: string }>('consultEnded');
    const gone = new Promise<'disconnected'>((resolve) =>
      spec.client.socket.once('disconnect', () => resolve('disconnected')),
    );
    await gw.consults.end(consult.id, 'ended_by_host', null, null);
    expect((await ended).reason).toBe('ended_by_host');
    const outcome = await Promise.race([consume(), gone]);
    if (outcome !== 'disconnected') expect(outcome).toMatchObject({ ok: false });
    await gone;
    expect(gw.rooms.rooms.get(consult.id)).toBeUndefined();
  });
});
