/**
 * The one place that knows the gateway's join rules. Today: a participant is a user in the
 * gateway's store, the consult is in the store with its host and specialists, and the join
 * token is an HS256 grant signed with the gateway's secret. Bench participants hold the
 * `admit` grant so nobody waits in the lobby (a human's wait there is not a latency of ours).
 * When the rules change, adapt this file only.
 */
import { randomUUID } from 'node:crypto';
import { mintJoinToken } from '../../src/auth/tokens.js';
import type { Gateway } from '../../src/gateway.js';
import { scheduledConsult } from '../../test/support/consultRow.js';

export const BENCH_SECRET = 'bench-secret-0123456789abcdef';

export interface Participant {
  userId: string;
  consultId: string;
  token: string;
}

async function createUser(
  gw: Gateway,
  role: 'doctor' | 'specialist',
  name: string,
): Promise<string> {
  const now = Date.now();
  const id = randomUUID();
  await gw.store.users.create({
    id,
    email: `${id}@bench.local`,
    name,
    role,
    disabled: false,
    createdAt: now,
    updatedAt: now,
    // Never used to log in: bench participants join with grants only.
    passwordHash: 'bench-no-login',
  });
  return id;
}

/**
 * Registers a consult with one publishing host and `specialists` participants (publishing
 * unless receiveOnly); returns the host first, then the specialists.
 */
export async function benchConsult(
  gw: Gateway,
  consultId: string,
  specialists: number,
  opts: { receiveOnly?: boolean } = {},
): Promise<Participant[]> {
  const now = Date.now();
  const hostId = await createUser(gw, 'doctor', `bench host ${consultId}`);
  const specialistIds: string[] = [];
  for (let i = 0; i < specialists; i++)
    specialistIds.push(await createUser(gw, 'specialist', `bench specialist ${i + 1}`));
  await gw.store.consults.insert(
    scheduledConsult(consultId, hostId, {
      title: 'Benchmark consult',
      patientRef: 'BENCH',
      scheduledEnd: now + 6 * 3600_000,
      specialistIds,
    }),
  );
  const token = (userId: string, role: 'doctor' | 'specialist', publish: boolean) =>
    mintJoinToken(BENCH_SECRET, {
      consultId,
      userId,
      role,
      name: role === 'doctor' ? 'Bench Host' : 'Bench Specialist',
      ttlSeconds: 6 * 3600,
      grants: { publish, subscribe: true, admit: true, end: role === 'doctor' },
    });
  return [
    { userId: hostId, consultId, token: token(hostId, 'doctor', true) },
    ...specialistIds.map((userId) => ({
      userId,
      consultId,
      token: token(userId, 'specialist', !opts.receiveOnly),
    })),
  ];
}
