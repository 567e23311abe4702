/**
 * Operator tool: prints a join grant (Socket.IO token) for an existing consult and one of its
 * participants, signed with the configured JWT_SECRET.
 * Usage: npm run token -- --consult ID (--user EMAIL|ID | --role doctor|specialist [--name NAME])
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { loadConfig } from '../config.js';
import { GatewayError } from '../errors.js';
import { createServices } from '../gateway.js';
import { createLogger } from '../logger.js';
import { runCli } from './run.js';

const USAGE =
  'usage: npm run token -- --consult ID --user EMAIL|ID\n' +
  '       npm run token -- --consult ID --role doctor|specialist [--name NAME]   (the host, or the named specialist)';

const argsSchema = z
  .object({
    consult: z.string({ error: '--consult ID is required' }).min(1).max(128),
    user: z.string().min(1).max(254).optional(),
    role: z.enum(['doctor', 'specialist', 'admin']).optional(),
    name: z.string().trim().min(1).max(120).optional(),
  })
  .refine((a) => a.user || a.role, {
    path: ['user'],
    error: 'give --user, or --role (and --name)',
  });

runCli(USAGE, async () => {
  const { values } = parseArgs({
    options: {
      consult: { type: 'string' },
      user: { type: 'string' },
      role: { type: 'string' },
      name: { type: 'string' },
    },
  });
  const args = argsSchema.parse(values);
  const config = loadConfig();
  const { store, consults } = await createServices(config, createLogger('silent'));
  try {
    const consult = await consults.find(args.consult);
    if (!consult) throw new GatewayError('not_found', `no consult ${args.consult}`);
    let user = args.user;
    if (!user && args.role === 'doctor') user = consult.hostId;
    if (!user && args.role === 'specialist') {
      const specialists = await Promise.all(
        consult.specialistIds.map(async (id) => (await store.users.findById(id))!),
      );
      const match = specialists.find((s) => !args.name || s.name === args.name) ?? specialists[0];
      if (!match)
        throw new GatewayError('not_found', `consult ${consult.id} has no invited specialist`);
      user = match.id;
    }
    if (!user && args.role === 'admin') {
      const admin = (await store.users.list({ role: 'admin', limit: 1, offset: 0 })).items[0];
      if (!admin) throw new GatewayError('not_found', 'there is no admin account');
      user = admin.id;
    }
    console.log((await consults.mintOperatorGrant(consult.id, user!)).token);
  } finally {
    await store.close();
  }
});
