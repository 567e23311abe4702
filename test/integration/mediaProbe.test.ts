/**
 * Issue 11 item 3: the network check's media probe over the real gateway. It is a transport on
 * the consults' own WebRtcServer (same candidates, UDP and TCP), only for a join grant of a
 * joinable consult, one open per participant and a few a minute, closed after a bounded time
 * whatever the client does, and never the cause of a worker abort at shutdown. The burst
 * itself (a browser's data channel) is measured in test/e2e/precall.e2e.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { MediaProbeOffer, TransportResponse } from '../../src/protocol/index.js';
import { PROBES_OPEN_MAX, PROBES_PER_MINUTE } from '../../src/sfu/MediaProbes.js';
import type { Consult, User } from '../../src/store/repositories.js';
import { joinAsHost } from '../support/consult.js';
import { TEST_PASSWORD, startTestGateway, type TestGateway } from '../support/gateway.js';
import { apiClient } from '../support/http.js';

let gw: TestGateway;
let host: User;
let specialist: User;
let consult: Consult;

async function start(env: Record<string, string> = {}): Promise<void> {
  gw = await startTestGateway(env);
  host = await gw.user('doctor', 'Dr. Grey');
  specialist = await gw.user('specialist', 'Dr. Shepherd');
  consult = await gw.consult(host, [specialist]);
}

afterEach(async () => {
  await gw.stop();
});

const post = (path: string, token: string | undefined, body?: unknown) =>
  fetch(`${gw.url}/api/v1/netcheck/media${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body ?? {}),
  });

const DTLS = {
  role: 'client',
  fingerprints: [{ algorithm: 'sha-256', value: Array(32).fill('AB').join(':') }],
};

describe('the media probe', () => {
  it('offers a transport on the same media ports and candidates as a consult, with a data channel', async () => {
    await start();
    const grant = await gw.grant(consult.id, specialist);
    const res = await post('', grant);
    expect(res.status).toBe(200);
    const offer = (await res.json()) as MediaProbeOffer;
    expect(offer.transport.sctpParameters.MIS).toBeGreaterThan(0);
    expect(offer.routerRtpCapabilities.codecs?.length).toBeGreaterThan(0);
    const port = gw.config.rtc.portBase;
    expect(offer.ports).toEqual({ first: port, last: port });
    expect(gw.probes.open).toBe(1);

    // A consult's own send transport offers exactly the same addresses.
    const joined = await joinAsHost(gw, consult.id, await gw.grant(consult.id, host));
    try {
      const send = await joined.client.call<TransportResponse>('createTransport', {
        direction: 'send',
      });
      const where = (cs: { protocol: string; port: number; ip?: string; address?: string }[]) =>
        cs.map((c) => `${c.protocol} ${c.ip ?? c.address}:${c.port}`);
      expect(where(offer.transport.iceCandidates)).toEqual(where(send.iceCandidates));
      expect(new Set(offer.transport.iceCandidates.map((c) => c.protocol))).toEqual(
        new Set(['udp', 'tcp']),
      );
    } finally {
      joined.client.close();
    }

    // The DTLS answer and the data channel are accepted; the count ends the probe.
    const id = offer.probeId;
    expect((await post(`/${id}/connect`, grant, { dtlsParameters: DTLS })).status).toBe(200);
    const data = await post(`/${id}/data`, grant, { sctpStreamParameters: { streamId: 0 } });
    expect(data.status).toBe(200);
    expect(await data.json()).toMatchObject({ dataProducerId: expect.any(String) });
    // One data channel per probe.
    expect(
      (await post(`/${id}/data`, grant, { sctpStreamParameters: { streamId: 1 } })).status,
    ).toBe(409);
    const result = await post(`/${id}/result`, grant);
    expect(result.status).toBe(200);
    // Nothing reached the media port (no browser here): no path, no figure.
    expect(await result.json()).toEqual({ path: null, bytes: 0, upKbps: null });
    expect(gw.probes.open).toBe(0);
    expect((await post(`/${id}/result`, grant)).status).toBe(404);
  });

  it("refuses strangers, access tokens, ended consults, someone else's probe and bad bodies", async () => {
    await start();
    expect((await post('', undefined)).status).toBe(401);
    expect((await post('', 'not.a.jwt')).status).toBe(401);
    const access = await apiClient(gw.url).login(host.email, TEST_PASSWORD);
    expect((await post('', access)).status).toBe(401);

    const mine = await gw.grant(consult.id, specialist);
    const theirs = await gw.grant(consult.id, host);
    const offer = (await (await post('', mine)).json()) as MediaProbeOffer;
    const id = offer.probeId;
    // Someone else's probe id is unknown to them, whatever they ask.
    expect((await post(`/${id}/connect`, theirs, { dtlsParameters: DTLS })).status).toBe(404);
    expect(
      (await post(`/${id}/data`, theirs, { sctpStreamParameters: { streamId: 0 } })).status,
    ).toBe(404);
    expect((await post(`/${id}/result`, theirs)).status).toBe(404);
    expect((await post('/no-such-probe/result', mine)).status).toBe(404);
    // Bad bodies are 400, and leave the probe usable.
    expect(
      (await post(`/${id}/connect`, mine, { dtlsParameters: { fingerprints: [] } })).status,
    ).toBe(400);
    expect(
      (await post(`/${id}/data`, mine, { sctpStreamParameters: { streamId: 70000 } })).status,
    ).toBe(400);
    expect(gw.probes.open).toBe(1);

    await gw.consults.end(consult.id, 'ended_by_host', { id: host.id }, null);
    expect((await post('', mine)).status).toBe(403);
    expect((await post(`/${id}/result`, mine)).status).toBe(403);
  });

  it('keeps one open probe per participant, a few a minute, and a node-wide cap', async () => {
    await start();
    const grant = await gw.grant(consult.id, specialist);
    // A flood of concurrent creations leaves at most one probe open for this participant.
    const flood = await Promise.all(
      Array.from({ length: PROBES_PER_MINUTE + 4 }, () => post('', grant)),
    );
    const statuses = flood.map((r) => r.status);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(1);
    expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(PROBES_PER_MINUTE);
    expect(statuses.every((s) => [200, 409, 429].includes(s))).toBe(true);
    expect(gw.probes.open).toBe(1);
    // The minute's starts are spent, whether they succeeded or were refused as concurrent.
    for (let i = 0; i < PROBES_PER_MINUTE; i++) await post('', grant);
    const refused = await post('', grant);
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe(
      'too_many_requests',
    );
    expect(gw.probes.open).toBe(1);

    // Many participants at once: never more than the node's cap.
    const admins = await Promise.all(
      Array.from({ length: PROBES_OPEN_MAX }, (_, i) => gw.user('admin', `Admin ${i}`)),
    );
    const grants = await Promise.all(admins.map((a) => gw.grant(consult.id, a)));
    const many = await Promise.all(grants.map((g) => post('', g)));
    expect(many.filter((r) => r.status === 503).length).toBeGreaterThanOrEqual(1);
    expect(gw.probes.open).toBe(PROBES_OPEN_MAX);
  });

  it('closes a probe its client abandoned after NETCHECK_PROBE_SECONDS, and shuts down cleanly with probes open', async () => {
    await start({ NETCHECK_PROBE_SECONDS: '1' });
    const grant = await gw.grant(consult.id, specialist);
    const offer = (await (await post('', grant)).json()) as MediaProbeOffer;
    expect(offer.expiresInMs).toBe(1000);
    expect((await post(`/${offer.probeId}/connect`, grant, { dtlsParameters: DTLS })).status).toBe(
      200,
    );
    await expect.poll(() => gw.probes.open, { timeout: 5000, interval: 100 }).toBe(0);
    expect((await post(`/${offer.probeId}/result`, grant)).status).toBe(404);

    // At shutdown the probes close first (transports, never the WebRtcServer): the worker stays
    // up and keeps serving until the pool closes it.
    await post('', await gw.grant(consult.id, host));
    expect(gw.probes.open).toBe(1);
    gw.probes.close();
    await expect.poll(() => gw.probes.open, { timeout: 2000, interval: 50 }).toBe(0);
    const slot = gw.pool.slots[0]!;
    expect(slot.alive).toBe(true);
    const router = await slot.worker.createRouter({ mediaCodecs: [] });
    const t = await router.createWebRtcTransport({ webRtcServer: slot.webRtcServer });
    expect(t.iceCandidates.length).toBeGreaterThan(0);
    router.close();
    expect((await post('', await gw.grant(consult.id, specialist))).status).toBe(503);
  });
});
