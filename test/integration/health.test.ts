/** /healthz, /metrics and the LAN certificate, against a real gateway. */
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { loadTls } from '../../src/http/tls.js';
import { createLogger } from '../../src/logger.js';
import { audioRtpParameters, type TestClient } from '../support/client.js';
import { joinAsHost } from '../support/consult.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

let gw: TestGateway | undefined;
const clients: TestClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await gw?.stop();
  gw = undefined;
});

describe('health and metrics', () => {
  it('report workers with their load, and the consults, peers and media objects (to loopback)', async () => {
    gw = await startTestGateway({ WORKERS: '2' });
    const host = await gw.user('doctor', 'Dr. Grey');
    const consult = await gw.consult(host);
    const doctor = await joinAsHost(gw, consult.id, await gw.grant(consult.id, host));
    clients.push(doctor.client);
    const send = await doctor.client.call<{ id: string }>('createTransport', { direction: 'send' });
    await doctor.client.call('produce', {
      transportId: send.id,
      kind: 'audio',
      rtpParameters: audioRtpParameters(31),
      appData: { source: 'mic' },
    });

    const health = (await (await fetch(`${gw.url}/healthz`)).json()) as any;
    expect(health).toMatchObject({
      status: 'ok',
      workerCount: 2,
      workersAlive: 2,
      consults: 1,
      peers: 1,
      transports: 1,
      producers: 1,
    });
    expect(health.workers).toHaveLength(2);
    expect(health.workers.map((w: any) => w.peers).sort()).toEqual([0, 1]);
    for (const w of health.workers) {
      expect(w).toMatchObject({
        alive: true,
        pid: expect.any(Number),
        cpuSeconds: expect.any(Number),
      });
      expect(w.rssBytes).toBeGreaterThan(1_000_000);
    }

    // The join's record rows are written by a queue (batched after the join's own turn): the
    // gauge shows them until they land, then none.
    const pending = async () =>
      Number(
        /^gateway_record_writes_pending (\S+)$/m.exec(
          await (await fetch(`${gw!.url}/metrics`)).text(),
        )?.[1],
      );
    await expect.poll(pending, { timeout: 10_000 }).toBe(0);
    const res = await fetch(`${gw.url}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/text\/plain/);
    const text = await res.text();
    const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
    expect(value('gateway_consults')).toBe(1);
    expect(value('gateway_peers')).toBe(1);
    expect(value('gateway_transports')).toBe(1);
    expect(value('gateway_producers')).toBe(1);
    expect(value('gateway_consumers')).toBe(0);
    expect(value('gateway_workers_alive')).toBe(2);
    expect(value('gateway_record_writes_pending')).toBe(0);
    expect(text).toMatch(/^gateway_worker_cpu_seconds\{worker="0"\} \S+$/m);
    expect(text).toMatch(/^gateway_worker_rss_bytes\{worker="1"\} \d+$/m);
    expect(text).toMatch(/^gateway_node_process_resident_memory_bytes \d+$/m);
    expect(text).toMatch(/^gateway_node_nodejs_eventloop_lag_p99_seconds \S+$/m);
    // One node: the cluster gauges are declared but have no samples.
    expect(text).toMatch(/^# TYPE gateway_pipe_links gauge$/m);
    expect(text).not.toMatch(/^gateway_(pipe_links|redis_up|node_draining)\b/m);
  });

  it('answers ?scope=cluster on a single node with not_found, and a bad scope with bad_request', async () => {
    gw = await startTestGateway();
    const cluster = await fetch(`${gw.url}/metrics?scope=cluster`);
    expect(cluster.status).toBe(404);
    expect(((await cluster.json()) as any).error).toMatchObject({
      code: 'not_found',
      message: expect.stringContaining('REDIS_URL'),
    });
    for (const query of ['scope=everything', 'scope=node&scope=cluster', 'scope=']) {
      const res = await fetch(`${gw.url}/metrics?${query}`);
      expect(res.status, query).toBe(400);
      expect(((await res.json()) as any).error.code, query).toBe('bad_request');
    }
    expect((await fetch(`${gw.url}/metrics?scope=node`)).status).toBe(200);
  });

  it('refuses POST /drain on a single node (it stops with SIGTERM), and from any web page', async () => {
    gw = await startTestGateway();
    const single = await fetch(`${gw.url}/drain`, { method: 'POST' });
    expect(single.status).toBe(404);
    expect(((await single.json()) as any).error.message).toMatch(/REDIS_URL/);
    const page = await fetch(`${gw.url}/drain`, {
      method: 'POST',
      headers: { origin: gw.url },
    });
    expect(page.status).toBe(403);
    // Still serving.
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
  });
});

describe('who may see health detail and metrics', () => {
  const METRICS_TOKEN = 'metrics-token-0123456789';
  const get = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${gw!.url}${path}`, { headers });

  it('with METRICS_TOKEN: anyone gets a bare status; detail and /metrics need the token', async () => {
    gw = await startTestGateway({ METRICS_TOKEN });
    const bare = await get('/healthz');
    expect(bare.status).toBe(200);
    expect(await bare.json()).toEqual({ status: 'ok' });
    expect(bare.headers.get('cache-control')).toBe('no-store');

    const detail = await get('/healthz', { authorization: `Bearer ${METRICS_TOKEN}` });
    expect(await detail.json()).toMatchObject({ status: 'ok', workerCount: 1, workers: [{}] });
    const metrics = await get('/metrics', { authorization: `Bearer ${METRICS_TOKEN}` });
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toMatch(/^gateway_peers 0$/m);

    // Even on loopback, a configured token is required (also for the cluster's totals).
    expect((await get('/metrics?scope=cluster')).status).toBe(401);
    const anonymous = await get('/metrics');
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as any).error).toMatchObject({
      code: 'unauthorized',
      message: expect.stringContaining('METRICS_TOKEN'),
    });
  });

  it('refuses a wrong, truncated or malformed token on both endpoints', async () => {
    gw = await startTestGateway({ METRICS_TOKEN });
    for (const authorization of [
      'Bearer metrics-token-0123456788',
      `Bearer ${METRICS_TOKEN.slice(0, -1)}`,
      `Bearer ${METRICS_TOKEN}x`,
      METRICS_TOKEN,
      `Basic ${Buffer.from(`x:${METRICS_TOKEN}`).toString('base64')}`,
      'Bearer ',
    ]) {
      for (const path of ['/metrics', '/healthz']) {
        const res = await get(path, { authorization });
        expect(res.status, `${path} with ${authorization}`).toBe(401);
        const text = await res.text();
        expect(text).not.toMatch(/gateway_|workers|pid/);
      }
    }
  });

  it('without a token: detail and /metrics for direct loopback clients only, not through a proxy', async () => {
    gw = await startTestGateway();
    expect(await (await get('/healthz')).json()).toMatchObject({ workerCount: 1 });
    expect((await get('/metrics')).status).toBe(200);

    // A reverse proxy on this machine connects from loopback but forwards outsiders.
    for (const headers of <Record<string, string>[]>[
      { 'x-forwarded-for': '203.0.113.9' },
      { 'x-forwarded-for': '127.0.0.1' },
      { forwarded: 'for=203.0.113.9' },
    ]) {
      const health = await get('/healthz', headers);
      expect(await health.json()).toEqual({ status: 'ok' });
      const metrics = await get('/metrics', headers);
      expect(metrics.status).toBe(401);
      expect(((await metrics.json()) as any).error.message).toMatch(/set METRICS_TOKEN/);
    }
    // A token sent to a gateway that has none is an operator mistake worth saying so.
    const res = await get('/metrics', { authorization: 'Bearer something-long-enough' });
    expect(res.status).toBe(401);
    expect(((await res.json()) as any).error.message).toMatch(/METRICS_TOKEN/);
  });
});

describe('TLS for the LAN', () => {
  it('generates a self-signed certificate for this machine once, and serves HTTPS with it', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-tls-'));
    const config = loadConfig({ HOST: '0.0.0.0', ANNOUNCED_IP: '192.0.2.10', DATA_DIR: dataDir });
    expect(config.tls).toBe('self-signed');
    const tls = (await loadTls(config, createLogger('silent')))!;
    const cert = new X509Certificate(tls.cert);
    expect(cert.subjectAltName).toContain('DNS:localhost');
    expect(cert.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(cert.subjectAltName).toContain('IP Address:192.0.2.10');
    expect(new Date(cert.validTo).getTime()).toBeGreaterThan(Date.now() + 365 * 24 * 3600_000);
    expect(fs.statSync(path.join(dataDir, 'tls', 'self-signed.key')).mode & 0o077).toBe(0);
    // Kept: the next start reuses it rather than making browsers trust a new one.
    expect((await loadTls(config, createLogger('silent')))!.cert).toBe(tls.cert);

    // A browser-like client that trusts this certificate connects over HTTPS (on loopback).
    const server = https.createServer(tls, (_req, res) => res.end('ok'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as { port: number }).port;
      const body = await new Promise<string>((resolve, reject) => {
        https
          .get(
            { host: '127.0.0.1', port, path: '/', ca: tls.cert, servername: 'localhost' },
            (res) => {
              let data = '';
              res.on('data', (d) => (data += d));
              res.on('end', () => resolve(data));
            },
          )
          .on('error', reject);
      });
      expect(body).toBe('ok');
    } finally {
      server.close();
    }
  });
});
