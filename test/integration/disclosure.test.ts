/**
 * What the HTTP surface gives away: the user list by role, caching of authenticated responses,
 * and client source maps. Real gateway, real HTTP.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { User } from '../../src/store/repositories.js';
import { startTestGateway, TEST_PASSWORD, type TestGateway } from '../support/gateway.js';
import { apiClient } from '../support/http.js';

let gw: TestGateway | undefined;
const dirs: string[] = [];

afterEach(async () => {
  await gw?.stop();
  gw = undefined;
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

async function people(g: TestGateway) {
  const admin = await g.user('admin', 'Ada Admin');
  const doctor = await g.user('doctor', 'Dr. Grey');
  const colleague = await g.user('doctor', 'Dr. Other');
  const specialist = await g.user('specialist', 'Dr. Shepherd');
  const gone = await g.user('specialist', 'Dr. Gone');
  await g.store.users.setDisabled(gone.id, true, Date.now());
  return { admin, doctor, colleague, specialist, gone };
}

describe('user listing', () => {
  it('shows doctors only the enabled doctors and specialists, without e-mails', async () => {
    gw = await startTestGateway();
    const p = await people(gw);
    const api = apiClient(gw.url);
    const token = await api.login(p.doctor.email, TEST_PASSWORD);

    const res = await api.get('/users', token);
    expect(res.status).toBe(200);
    const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);
    expect([...res.body.items].sort(byName)).toEqual(
      [p.colleague, p.doctor, p.specialist]
        .map((u: User) => ({ id: u.id, name: u.name, role: u.role }))
        .sort(byName),
    );
    expect(res.body.total).toBe(3);
    expect(JSON.stringify(res.body)).not.toMatch(/@test\.local|disabled|Ada Admin|Dr\. Gone/);

    // Asking for admins or paging does not get around it.
    const admins = await api.get('/users?role=admin', token);
    expect(admins.body).toMatchObject({ items: [], total: 0 });
    const paged = await api.get('/users?limit=1&offset=2', token);
    expect(paged.body.items).toHaveLength(1);
    expect(paged.body.items[0]).not.toHaveProperty('email');
  });

  it('keeps the full list, e-mails and disabled accounts included, for admins', async () => {
    gw = await startTestGateway();
    const p = await people(gw);
    const api = apiClient(gw.url);
    const token = await api.login(p.admin.email, TEST_PASSWORD);
    const res = await api.get('/users', token);
    expect(res.body.total).toBe(5);
    expect(res.body.items).toContainEqual(
      expect.objectContaining({ id: p.gone.id, email: p.gone.email, disabled: true }),
    );
    expect(res.body.items).toContainEqual(
      expect.objectContaining({ id: p.admin.id, email: p.admin.email, role: 'admin' }),
    );
  });
});

describe('caching', () => {
  it('marks auth, user, consult, record and FHIR responses no-store, errors included', async () => {
    gw = await startTestGateway();
    const p = await people(gw);
    const api = apiClient(gw.url);
    const login = await api.post('/auth/login', { email: p.doctor.email, password: TEST_PASSWORD });
    expect(login.status).toBe(200);
    expect(login.headers.get('cache-control')).toBe('no-store');
    const token = login.body.accessToken as string;
    const consult = await gw.consult(p.doctor, [p.specialist]);
    await gw.consults.end(
      consult.id,
      'ended_by_host',
      { id: p.doctor.id, label: p.doctor.name },
      null,
    );

    const responses = await Promise.all([
      api.post('/auth/refresh', { refreshToken: login.body.refreshToken }),
      api.get('/auth/me', token),
      api.get('/users', token),
      api.get('/consults', token),
      api.get(`/consults/${consult.id}`, token),
      api.get(`/consults/${consult.id}/record`, token),
      api.get(`/consults/${consult.id}/record/fhir`, token),
      api.get('/users'),
      api.post('/auth/login', { email: p.doctor.email, password: 'wrong password' }),
      api.get('/no-such-route', token),
    ]);
    expect(responses.map((r) => r.status)).toEqual([
      200, 200, 200, 200, 200, 200, 200, 401, 401, 404,
    ]);
    for (const r of responses) expect(r.headers.get('cache-control')).toBe('no-store');
  });
});

describe('client source maps', () => {
  it('are not served, even when the build left them next to the bundle', async () => {
    const clientDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-client-'));
    dirs.push(clientDir);
    fs.mkdirSync(path.join(clientDir, 'assets'));
    fs.writeFileSync(path.join(clientDir, 'index.html'), '<!doctype html><title>t</title>');
    fs.writeFileSync(path.join(clientDir, 'assets', 'app.js'), 'console.log(1)\n');
    fs.writeFileSync(path.join(clientDir, 'assets', 'app.js.map'), '{"sources":["secret.ts"]}');
    gw = await startTestGateway({ CLIENT_DIR: clientDir });

    expect((await fetch(`${gw.url}/assets/app.js`)).status).toBe(200);
    const map = await fetch(`${gw.url}/assets/app.js.map`);
    expect(map.status).toBe(404);
    expect(await map.text()).not.toContain('secret.ts');
  });
});
