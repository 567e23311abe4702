/**
 * Operator tool for accounts, so a fresh install gets its first admin without the UI.
 * Usage: npm run user -- create --email E --name N --role admin|doctor|specialist   (password on stdin)
 *        npm run user -- passwd EMAIL   (new password on stdin; ends the user's refresh tokens)
 *        npm run user -- list
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { loadConfig } from '../config.js';
import { GatewayError } from '../errors.js';
import { createServices } from '../gateway.js';
import { passwordSchema, userRoleSchema } from '../http/schemas.js';
import { createLogger } from '../logger.js';
import { runCli } from './run.js';

const USAGE =
  'usage: npm run user -- create --email E --name N --role admin|doctor|specialist   (password read from stdin)\n' +
  '       npm run user -- passwd EMAIL   (new password read from stdin)\n' +
  '       npm run user -- list';

const createArgs = z.object({
  email: z.email({ error: '--email must be an e-mail address' }),
  name: z.string({ error: '--name is required' }).trim().min(1).max(120),
  role: userRoleSchema,
});

/** Reads one line from stdin; on a terminal the typed characters are not echoed. */
async function readPassword(prompt: string): Promise<string> {
  if (process.stdin.isTTY) {
    process.stderr.write(prompt);
    process.stdin.setRawMode(true);
    process.stdin.resume();
    let typed = '';
    return new Promise((resolve) => {
      const onData = (buf: Buffer) => {
        for (const ch of buf.toString('utf8')) {
          if (ch === '\u0003') process.exit(130); // Ctrl-C
          if (ch === '\r' || ch === '\n') {
            process.stdin.setRawMode(false);
            process.stdin.pause();
            process.stdin.off('data', onData);
            process.stderr.write('\n');
            resolve(typed);
            return;
          }
          typed = ch === '\u007f' ? typed.slice(0, -1) : typed + ch;
        }
      };
      process.stdin.on('data', onData);
    });
  }
  const rl = createInterface({ input: process.stdin, terminal: false });
  const line = await new Promise<string>((resolve) => {
    let done = false;
    rl.once('line', (l) => ((done = true), resolve(l)));
    rl.once('close', () => !done && resolve(''));
  });
  rl.close();
  return line.replace(/\r$/, '');
}

/** Reads a password from stdin and applies the policy; exits 2 saying what is wrong. */
async function readNewPassword(prompt: string): Promise<string> {
  const password = passwordSchema.safeParse(await readPassword(prompt));
  if (!password.success) {
    console.error(`password: ${password.error.issues[0]!.message}`);
    process.exit(2);
  }
  return password.data;
}

runCli(USAGE, async () => {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { email: { type: 'string' }, name: { type: 'string' }, role: { type: 'string' } },
  });
  const command = positionals[0];
  if (command !== 'create' && command !== 'list' && command !== 'passwd') {
    console.error(USAGE);
    process.exit(2);
  }
  const config = loadConfig();
  const services = await createServices(config, createLogger('silent'));
  try {
    if (command === 'list') {
      for (const u of (await services.store.users.list({ limit: 1000, offset: 0 })).items) {
        console.log(
          `${u.id}  ${u.role.padEnd(10)} ${u.email.padEnd(30)} ${u.name}${u.disabled ? '  (disabled)' : ''}`,
        );
      }
      return;
    }
    if (command === 'passwd') {
      const parsed = z.email().safeParse(positionals[1]?.trim());
      if (!parsed.success) {
        console.error(`passwd needs the e-mail address of the account\n${USAGE}`);
        process.exit(2);
      }
      const email = parsed.data.toLowerCase();
      const user = await services.store.users.findByEmailWithSecret(email);
      if (!user) throw new GatewayError('not_found', `no account with e-mail ${email}`);
      const password = await readNewPassword('new password: ');
      await services.auth.resetPassword(
        user.id,
        password,
        { id: null, label: 'operator (npm run user)' },
        null,
      );
      console.log(`changed the password of ${user.email}; their sessions were ended`);
      return;
    }
    const args = createArgs.parse(values);
    const password = await readNewPassword('password: ');
    const user = await services.auth.createUser(
      { ...args, password },
      { id: null, label: 'operator (npm run user)' },
      null,
    );
    console.log(`created ${user.role} ${user.email} (id ${user.id})`);
  } finally {
    await services.store.close();
  }
});
