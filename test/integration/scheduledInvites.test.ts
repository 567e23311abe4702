/**
 * Issue 11 item 7: guests entered when scheduling get their invite links with the consult;
 * with SMTP_URL set they are also e-mailed (a local SMTP sink receives them), and e-mail is
 * never required: without it, or with the mail server down, scheduling works and says so.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SMTPServer } from 'smtp-server';
import { TEST_PASSWORD, startTestGateway, type TestGateway } from '../support/gateway.js';
import { apiClient } from '../support/http.js';

interface Mail {
  to: string[];
  body: string;
}

let gw: TestGateway | undefined;
let sink: SMTPServer | undefined;

afterEach(async () => {
  await gw?.stop();
  gw = undefined;
  if (sink) await new Promise<void>((resolve) => sink!.close(() => resolve()));
  sink = undefined;
});

/** A local SMTP server that keeps every message it is given. */
async function smtpSink(): Promise<{ url: string; mails: Mail[] }> {
  const mails: Mail[] = [];
  sink = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        mails.push({
          to: session.envelope.rcptTo.map((r) => r.address),
          body: Buffer.concat(chunks).toString('utf8'),
        });
        callback();
      });
    },
  });
  sink.listen(0, '127.0.0.1');
  await once(sink.server, 'listening');
  const { port } = sink.server.address() as AddressInfo;
  return { url: `smtp://127.0.0.1:${port}`, mails };
}

async function schedule(g: TestGateway, guests: { name: string; email?: string }[]) {
  const doctor = await g.user('doctor', 'Dr. Grey');
  const api = apiClient(g.url);
  const token = await api.login(doctor.email, TEST_PASSWORD);
  const res = await api.post(
    '/consults',
    {
      title: 'Follow-up',
      patientRef: 'MRN-1',
      scheduledStart: new Date(Date.now() + 60_000).toISOString(),
      scheduledEnd: new Date(Date.now() + 3 * 24 * 3600_000).toISOString(),
      hostId: doctor.id,
      specialistIds: [],
      guests,
    },
    token,
  );
  return { api, res };
}

describe('invite links from scheduling', () => {
  it('makes a working link per guest and e-mails those with an address', async () => {
    const { url, mails } = await smtpSink();
    gw = await startTestGateway({ SMTP_URL: url, SMTP_FROM: 'Clinic <clinic@test.local>' });
    const { api, res } = await schedule(gw, [
      { name: 'Pat Guest', email: 'pat@example.org' },
      { name: 'Sam NoMail' },
    ]);
    expect(res.status).toBe(201);
    const invites = res.body.invites as {
      name: string;
      url: string;
      token: string;
      emailed: string;
      guestId: string;
    }[];
    expect(invites.map((i) => [i.name, i.emailed])).toEqual([
      ['Pat Guest', 'sent'],
      ['Sam NoMail', 'no_address'],
    ]);
    expect(invites.map((i) => i.guestId)).toEqual(res.body.guests.map((g: { id: string }) => g.id));
    expect(mails).toHaveLength(1);
    expect(mails[0]!.to).toEqual(['pat@example.org']);
    // Quoted-printable may wrap long lines: compare without soft breaks.
    expect(mails[0]!.body.replace(/=\r?\n/g, '')).toContain(invites[0]!.token);
    expect(mails[0]!.body).toContain('From: Clinic <clinic@test.local>');

    // Each link is a real invite for that guest, valid until after the consult (three days out).
    for (const invite of invites) {
      expect(invite.url).toBe(`${gw.url}/?invite=${invite.token}`);
      const redeemed = await api.post('/invites/redeem', { token: invite.token });
      expect(redeemed.status).toBe(200);
      expect(redeemed.body.token).toEqual(expect.any(String));
    }
    const stored = await gw.store.invites.listByConsult(res.body.id as string);
    expect(stored.map((i) => i.guestName).sort()).toEqual(['Pat Guest', 'Sam NoMail']);
    for (const i of stored) expect(i.expiresAt).toBeGreaterThan(Date.now() + 3 * 24 * 3600_000);
  });

  it('works without e-mail, and when the mail server is down says the link was not sent', async () => {
    gw = await startTestGateway();
    const plain = await schedule(gw, [{ name: 'Pat Guest', email: 'pat@example.org' }]);
    expect(plain.res.status).toBe(201);
    expect(plain.res.body.invites[0].emailed).toBe('not_configured');
    await gw.stop();

    // A port nobody listens on.
    const { url } = await smtpSink();
    await new Promise<void>((resolve) => sink!.close(() => resolve()));
    sink = undefined;
    gw = await startTestGateway({ SMTP_URL: url });
    const down = await schedule(gw, [{ name: 'Pat Guest', email: 'pat@example.org' }]);
    expect(down.res.status).toBe(201);
    expect(down.res.body.invites[0].emailed).toBe('failed');
    expect(down.res.body.invites[0].url).toMatch(/\?invite=/);
  });

  it('refuses an SMTP_URL that is not smtp:// at start-up', async () => {
    await expect(startTestGateway({ SMTP_URL: 'http://mail.example.org' })).rejects.toThrow(
      /SMTP_URL/,
    );
  });
});
