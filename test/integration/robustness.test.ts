/** Bad input, worker deaths and shutdown, against the real gateway and real mediasoup workers. */
import { afterEach, describe, expect, it } from 'vitest';
import type { JoinResponse, TransportResponse } from '../../src/protocol/index.js';
import type { User } from '../../src/store/repositories.js';
import { audioRtpParameters, connectClient, type TestClient } from '../support/client.js';
import { joinAdmitted, joinAsHost } from '../support/consult.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

let CONSULT = '';
let gw: TestGateway | undefined;
const clients: TestClient[] = [];

/** A gateway with one consult: a host and one invited specialist. */
async function setup(env: Record<string, string> = {}) {
  const g = await startTestGateway(env);
  const host = await g.user('doctor', 'Dr. Grey');
  const specialist = await g.user('specialist', 'Dr. Shepherd');
  CONSULT = (await g.consult(host, [specialist])).id;
  return { g, host, specialist };
}

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await gw?.stop();
  gw = undefined;
});

async function hostJoins(g: TestGateway, host: User) {
  const joined = await joinAsHost(g, CONSULT, await g.grant(CONSULT, host));
  clients.push(joined.client);
  return joined;
}

async function specialistJoins(g: TestGateway, specialist: User, hostClient: TestClient) {
  const joined = await joinAdmitted(g, CONSULT, await g.grant(CONSULT, specialist), hostClient);
  clients.push(joined.client);
  return joined;
}

// Every client event with payloads that are wrong in shape, type or range.
const badPayloads: Record<string, unknown[]> = {
  join: [null, 42, 'demo', {}, { consultId: '' }, { consultId: 7 }, { consultId: 'x'.repeat(500) }],
  createTransport: [null, {}, { direction: 'sideways' }, { direction: 1 }],
  connectTransport: [
    {},
    { transportId: 'x' },
    { transportId: 'x', dtlsParameters: { fingerprints: [] } },
    {
      transportId: 'x',
      dtlsParameters: { role: 'boss', fingerprints: [{ algorithm: 'sha-256', value: 'AA' }] },
    },
  ],
  produce: [
    {},
    { transportId: 'x', kind: 'smell', rtpParameters: { codecs: [] }, appData: { source: 'mic' } },
    { transportId: 'x', kind: 'audio', rtpParameters: { codecs: [] }, appData: { source: 'mic' } },
    {
      transportId: 'x',
      kind: 'audio',
      rtpParameters: audioRtpParameters(1),
      appData: { source: 'webcam' },
    },
    { transportId: 'x', kind: 'audio', rtpParameters: audioRtpParameters(1) },
  ],
  consume: [{}, { producerId: 'x' }, { producerId: 'x', rtpCapabilities: { codecs: 'all' } }],
  resumeConsumer: [{}, { consumerId: 3 }, 'c'],
  pauseProducer: [{}, { producerId: null }],
  resumeProducer: [{}, { producerId: [] }],
  closeProducer: [{}, { producerId: {} }],
  setPreferredLayers: [
    {},
    { consumerId: 'c' },
    { consumerId: 'c', spatialLayer: 9 },
    { consumerId: 'c', spatialLayer: -1 },
    { consumerId: 'c', spatialLayer: 1.5 },
  ],
  restartIce: [{}, { transportId: 0 }],
  getStats: [42, 'all', []],
  leave: [42, 'now', []],
  admit: [{}, { peerId: 5 }, 'p'],
  deny: [{}, { peerId: 'p', reason: 'x'.repeat(500) }],
  removePeer: [{}, { peerId: [] }],
  endConsult: [7, 'now'],
};

describe('malformed payloads', () => {
  it('every event answers bad_request, changes nothing, and the server keeps serving', async () => {
    const { g, host, specialist } = await setup();
    gw = g;
    const { client } = await hostJoins(gw, host);
    const before = gw.rooms.counts();
    for (const [event, payloads] of Object.entries(badPayloads)) {
      for (const payload of payloads) {
        const res = await client.request(event, payload);
        expect(res, `${event} ${JSON.stringify(payload)}`).toMatchObject({
          ok: false,
          error: { code: 'bad_request', message: expect.any(String) },
        });
      }
    }
    expect(gw.rooms.counts()).toEqual(before);
    // Still serving this client and new ones.
    const send = await client.call<TransportResponse>('createTransport', { direction: 'send' });
    expect(send.id).toBeTruthy();
    const other = await specialistJoins(gw, specialist, client);
    expect(other.join.peers).toHaveLength(1);
  });

  it('requests with valid shape but unknown ids get not_found; requests before join get not_joined', async () => {
    const { g, host } = await setup();
    gw = g;
    const fresh = await connectClient(gw.url, await gw.grant(CONSULT, host));
    clients.push(fresh);
    expect(await fresh.request('createTransport', { direction: 'send' })).toMatchObject({
      ok: false,
      error: { code: 'not_joined' },
    });
    fresh.close();
    const { client } = await hostJoins(gw, host);
    expect(await client.request('resumeConsumer', { consumerId: 'nope' })).toMatchObject({
      ok: false,
      error: { code: 'not_found' },
    });
    expect(await client.request('join', { consultId: CONSULT })).toMatchObject({
      ok: false,
      error: { code: 'conflict' },
    });
  });
});

describe('a media worker that dies', () => {
  it('is replaced, its peers are told to rejoin, and rejoining works', async () => {
    const { g, host, specialist: spec } = await setup();
    gw = g;
    const doctor = await hostJoins(gw, host);
    await doctor.client.call('createTransport', { direction: 'send' });
    const specialist = await specialistJoins(gw, spec, doctor.client);
    const slot = gw.pool.slots[0]!;
    const deadPid = slot.worker.pid;

    const rejoinA = doctor.client.next<{ reason: string }>('rejoinRequired');
    const rejoinB = specialist.client.next<{ reason: string }>('rejoinRequired');
    process.kill(deadPid, 'SIGKILL');
    expect((await rejoinA).reason).toBe('media_server_restarted');
    expect((await rejoinB).reason).toBe('media_server_restarted');

    await waitFor(() => slot.alive && slot.worker.pid !== deadPid);
    const health = (await (await fetch(`${gw.url}/healthz`)).json()) as {
      workers: { pid: number }[];
    };
    expect(health).toMatchObject({ status: 'ok', workersAlive: 1 });
    expect(health.workers[0]!.pid).not.toBe(deadPid);

    // Both rejoin on the same sockets and get media again from the new worker.
    const again = await doctor.client.call<JoinResponse>('join', { consultId: CONSULT });
    expect(again.peers).toEqual([]);
    const send = await doctor.client.call<TransportResponse>('createTransport', {
      direction: 'send',
    });
    await doctor.client.call('produce', {
      transportId: send.id,
      kind: 'audio',
      rtpParameters: audioRtpParameters(77),
      appData: { source: 'mic' },
    });
    // Admission survives the restart: the specialist does not wait in the lobby again.
    const second = await specialist.client.call<JoinResponse>('join', { consultId: CONSULT });
    expect(second.peerId).toBe(specialist.join.peerId);
    expect(second.peers).toHaveLength(1);
    expect(second.peers[0]!.producers).toHaveLength(1);
  });
});

describe('shutdown', () => {
  it('closes with transports open without aborting a worker, and tells peers', async () => {
    const { g, host } = await setup({ WORKERS: '2' });
    gw = g;
    const doctor = await hostJoins(gw, host);
    const send = await doctor.client.call<TransportResponse>('createTransport', {
      direction: 'send',
    });
    await doctor.client.call('createTransport', { direction: 'recv' });
    await doctor.client.call('produce', {
      transportId: send.id,
      kind: 'audio',
      rtpParameters: audioRtpParameters(9),
      appData: { source: 'mic' },
    });
    const deaths: number[] = [];
    gw.pool.on('workerDied', (slot) => deaths.push(slot.index));
    const workers = gw.pool.slots.map((s) => s.worker);
    const told = doctor.client.next<{ reason: string }>('rejoinRequired');

    await gw.close();
    expect((await told).reason).toBe('gateway_shutdown');
    expect(deaths).toEqual([]);
    expect(workers.every((w) => w.closed)).toBe(true);
  });

  it('closing a WebRtcServer with transports still open does not abort the patched worker', async () => {
    const { g, host } = await setup();
    gw = g;
    const doctor = await hostJoins(gw, host);
    await doctor.client.call('createTransport', { direction: 'send' });
    await doctor.client.call('createTransport', { direction: 'recv' });
    const slot = gw.pool.slots[0]!;
    let died = false;
    slot.worker.on('died', () => (died = true));
    slot.webRtcServer.close();
    // The worker must still answer requests afterwards.
    const usage = await slot.worker.getResourceUsage();
    expect(usage.ru_maxrss).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 200));
    expect(died).toBe(false);
    expect(slot.worker.closed).toBe(false);
  });
});

async function waitFor(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}
