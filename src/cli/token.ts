/**
 * Operator tool: prints a join token for a consult, signed with the configured JWT_SECRET.
 * Usage: npm run token -- --consult ID --role doctor|specialist|admin|guest --name NAME [--user ID] [--ttl SECONDS]
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { mintJoinToken } from '../auth/tokens.js';
import { ConfigError, loadConfig } from '../config.js';
import { roleSchema } from '../signalling/messages.js';

const argsSchema = z.object({
  consult: z.string({ error: '--consult ID is required' }).min(1).max(128),
  role: roleSchema,
  name: z.string({ error: '--name NAME is required' }).trim().min(1).max(80),
  user: z.string().min(1).max(128).optional(),
  ttl: z.coerce
    .number()
    .int()
    .min(60)
    .max(7 * 24 * 3600)
    .optional(),
});

function main(): void {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        consult: { type: 'string' },
        role: { type: 'string', default: 'doctor' },
        name: { type: 'string' },
        user: { type: 'string' },
        ttl: { type: 'string' },
      },
    }));
  } catch (err) {
    console.error(
      `${(err as Error).message}\nusage: npm run token -- --consult ID --role doctor --name NAME`,
    );
    process.exit(2);
  }
  const args = argsSchema.safeParse(values);
  if (!args.success) {
    for (const issue of args.error.issues)
      console.error(`--${String(issue.path[0])}: ${issue.message}`);
    console.error(
      'usage: npm run token -- --consult ID --role doctor|specialist|admin|guest --name NAME',
    );
    process.exit(2);
  }
  try {
    const config = loadConfig();
    console.log(
      mintJoinToken(config.jwtSecret, {
        consultId: args.data.consult,
        role: args.data.role,
        name: args.data.name,
        userId: args.data.user,
        ttlSeconds: args.data.ttl ?? config.tokenTtlSeconds,
      }),
    );
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
}

main();
