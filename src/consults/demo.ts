/**
 * Demo mode only (a loopback HOST, or DEMO=1): on an empty database, one account per role
 * (credentials printed once); and, on every start, a joinable demo consult with ready-to-open
 * doctor and specialist links. Outside demo mode nothing is created.
 */
import { randomBytes } from 'node:crypto';
import type { Config } from '../config.js';
import { GatewayError } from '../errors.js';
import type { Services } from '../gateway.js';
import type { Consult, User, UserRole } from '../store/repositories.js';
import { isUniqueViolation } from '../store/sql/executor.js';

export const DEMO_ACCOUNTS: { role: UserRole; email: string; name: string }[] = [
  { role: 'admin', email: 'admin@demo.local', name: 'Demo Admin' },
  { role: 'doctor', email: 'doctor@demo.local', name: 'Dr. Demo Doctor' },
  { role: 'specialist', email: 'specialist@demo.local', name: 'Demo Specialist' },
];

export interface DemoInfo {
  /** Only on the first start (empty database): the generated passwords. */
  credentials: { role: UserRole; email: string; password: string }[];
  links: { doctor: string; specialist: string; consultId: string } | null;
  /** Not in demo mode and the database has no account yet: the operator must create an admin. */
  noAccounts: boolean;
}

export async function seedDemo(
  services: Services,
  config: Config,
  baseUrl: string,
): Promise<DemoInfo> {
  const { store, auth, consults } = services;
  const credentials: DemoInfo['credentials'] = [];
  if (!config.demo)
    return { credentials, links: null, noAccounts: (await store.users.count()) === 0 };
  if ((await store.users.count()) === 0) {
    for (const account of DEMO_ACCOUNTS) {
      const password = randomBytes(9).toString('base64url');
      try {
        await auth.createUser({ ...account, password }, { id: null, label: 'first start' }, null);
      } catch (err) {
        // Another node starting on the same empty database created it first; it prints its own.
        if (err instanceof GatewayError && err.code === 'conflict') continue;
        throw err;
      }
      credentials.push({ role: account.role, email: account.email, password });
    }
  }
  if (!config.demoConsultId) return { credentials, links: null, noAccounts: false };
  const doctor = await store.users.findByEmailWithSecret('doctor@demo.local');
  const specialist = await store.users.findByEmailWithSecret('specialist@demo.local');
  if (!doctor || !specialist || doctor.disabled || specialist.disabled)
    return { credentials, links: null, noAccounts: false };

  const consult = await currentDemoConsult(services, config.demoConsultId, doctor, specialist);
  return {
    credentials,
    noAccounts: false,
    links: {
      consultId: consult.id,
      doctor: `${baseUrl}/?token=${(await consults.mintOperatorGrant(consult.id, doctor.id)).token}`,
      specialist: `${baseUrl}/?token=${(await consults.mintOperatorGrant(consult.id, specialist.id)).token}`,
    },
  };
}

/** The demo consult if it is still joinable and not past its end; otherwise a fresh one. */
async function currentDemoConsult(
  services: Services,
  baseId: string,
  doctor: User,
  specialist: User,
): Promise<Consult> {
  const now = Date.now();
  const existing = await services.consults.find(baseId);
  const usable = (c: Consult | undefined) =>
    c && ['scheduled', 'open', 'live'].includes(c.status) && c.scheduledEnd > now + 30 * 60_000;
  if (existing && usable(existing)) return existing;
  const id = existing
    ? `${baseId}-${new Date(now).toISOString().replace(/\D/g, '').slice(0, 14)}`
    : baseId;
  const insert = services.store.consults.insert({
    id,
    title: 'Demo consult',
    patientRef: 'DEMO-0001',
    scheduledStart: now - 60_000,
    scheduledEnd: now + 8 * 3600_000,
    hostId: doctor.id,
    specialistIds: [specialist.id],
    guests: [],
    status: 'scheduled',
    createdBy: doctor.id,
    createdAt: now,
    updatedAt: now,
    startedAt: null,
    endedAt: null,
    endReason: null,
  });
  // Nodes starting together on one database race to create it; the loser uses the winner's.
  await insert.catch((err: unknown) => {
    if (!isUniqueViolation(err)) throw err;
  });
  return (await services.consults.find(id))!;
}
