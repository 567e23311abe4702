/**
 * The consult is checked once per connection; a change to who may be in it ends the
 * connections it no longer admits (there is no re-check on every event to catch it).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { User } from '../../src/store/repositories.js';
import type { WaitingResponse } from '../../src/protocol/index.js';
import { connectClient, type TestClient } from '../support/client.js';
import { startTestGateway, TEST_PASSWORD, type TestGateway } from '../support/gateway.js';
import { apiClient } from '../support/http.js';

let gw: TestGateway;
let doctor: User, specialist: User, colleague: User;
const clients: TestClient[] = [];

beforeEach(async () => {
  gw = await startTestGateway();
  doctor = await gw.user('doctor', 'Dr. Grey');
  specialist = await gw.user('specialist', 'Dr. Shepherd');
  colleague = await gw.user('specialist', 'Dr. Webber');
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await gw.stop();
});

describe('a consult whose participants change', () => {
  it('ends the connection of a waiting specialist taken off it, and only theirs', async () => {
    const api = apiClient(gw.url);
    const token = await api.login(doctor.email, TEST_PASSWORD);
    const consult = (
      await api.post(
        '/consults',
        {
          title: 'Second opinion',
          patientRef: 'MRN-1',
          scheduledStart: new Date(Date.now() + 60_000).toISOString(),
          scheduledEnd: new Date(Date.now() + 3600_000).toISOString(),
          hostId: doctor.id,
          specialistIds: [specialist.id, colleague.id],
        },
        token,
      )
    ).body as { id: string };
    // Before the host joins (a live consult cannot be changed): they wait in the lobby.
    const spec = await connectClient(gw.url, await gw.grant(consult.id, specialist));
    const other = await connectClient(gw.url, await gw.grant(consult.id, colleague));
    clients.push(spec, other);
    const waiting = await spec.call<WaitingResponse>('join', { consultId: consult.id });
    expect(waiting.waiting).toBe(true);

    const ended = spec.next<{ reason: string }>('consultEnded');
    const gone = new Promise((r) => spec.socket.once('disconnect', r));
    const res = await api.patch(
      `/consults/${consult.id}`,
      { specialistIds: [colleague.id] },
      token,
    );
    expect(res.status).toBe(200);
    expect((await ended).reason).toBe('access_revoked');
    await gone;
    // The lobby no longer lists them, and the specialist still on the consult stays connected.
    expect(await other.call<WaitingResponse>('join', { consultId: consult.id })).toMatchObject({
      waiting: true,
    });
    expect(other.socket.connected).toBe(true);
  });
});
