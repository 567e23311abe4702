/**
 * Routers kept warm: a consult that empties keeps its router for ROUTER_WARM_SECONDS, so the
 * next join takes it instead of creating one; another consult never gets it, and shutdown
 * closes it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { TestClient } from '../support/client.js';
import { joinAsHost } from '../support/consult.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

let gw: TestGateway | undefined;
const clients: TestClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await gw?.stop();
  gw = undefined;
});

/** The host joins (with a send transport), leaves, and the room is gone; returns its router. */
async function joinAndLeave(g: TestGateway, consultId: string, token: string) {
  const { client } = await joinAsHost(g, consultId, token);
  clients.push(client);
  await client.call('createTransport', { direction: 'send' });
  const router = g.rooms.rooms.get(consultId)!.router;
  await client.call('leave', {});
  await expect.poll(() => g.rooms.rooms.has(consultId)).toBe(false);
  return router;
}

describe('routers of emptied consults', () => {
  it('are kept warm and taken by the next join of the same consult only', async () => {
    gw = await startTestGateway({ ROUTER_WARM_SECONDS: '60' });
    const host = await gw.user('doctor');
    const a = await gw.consult(host);
    const b = await gw.consult(host);

    const first = await joinAndLeave(gw, a.id, await gw.grant(a.id, host));
    expect(first.closed).toBe(false);
    expect(gw.rooms.warmRouters).toBe(1);

    // Another consult creates its own router.
    const other = await joinAndLeave(gw, b.id, await gw.grant(b.id, host));
    expect(other.id).not.toBe(first.id);
    expect(gw.rooms.warmRouters).toBe(2);

    // The same consult gets its warm router back, with working media.
    const { client } = await joinAsHost(gw, a.id, await gw.grant(a.id, host));
    clients.push(client);
    expect(gw.rooms.rooms.get(a.id)!.router).toBe(first);
    expect(gw.rooms.warmRouters).toBe(1);
    await client.call('createTransport', { direction: 'send' });
    await client.call('createTransport', { direction: 'recv' });

    // Shutdown closes the warm one as well as the live one.
    const g = gw;
    gw = undefined;
    await g.stop();
    expect(other.closed).toBe(true);
    expect(first.closed).toBe(true);
  });

  it('are closed at once with ROUTER_WARM_SECONDS=0', async () => {
    gw = await startTestGateway({ ROUTER_WARM_SECONDS: '0' });
    const host = await gw.user('doctor');
    const a = await gw.consult(host);
    const first = await joinAndLeave(gw, a.id, await gw.grant(a.id, host));
    expect(first.closed).toBe(true);
    expect(gw.rooms.warmRouters).toBe(0);
  });

  it('are closed when their time is up', async () => {
    gw = await startTestGateway({ ROUTER_WARM_SECONDS: '1' });
    const host = await gw.user('doctor');
    const a = await gw.consult(host);
    const first = await joinAndLeave(gw, a.id, await gw.grant(a.id, host));
    expect(first.closed).toBe(false);
    await expect.poll(() => first.closed, { timeout: 5000 }).toBe(true);
    expect(gw.rooms.warmRouters).toBe(0);
  });
});
