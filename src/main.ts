/** Start-up: config → worker pool → HTTP(S) + Socket.IO; prints demo links (demo mode); stops cleanly on signals. */
import { ConfigError, loadConfig } from './config.js';
import { seedDemo } from './consults/demo.js';
import { startGateway } from './gateway.js';
import { createLogger } from './logger.js';

async function main(): Promise<void> {
  // Whatever the gateway writes (database, journals, secrets, certificates) is for this account only.
  process.umask(0o077);
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger(config.logLevel);
  let gateway;
  try {
    gateway = await startGateway(config, logger);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const hint =
      e.code === 'EACCES'
        ? ` (port ${config.port} needs root; set PORT=3000, for example)`
        : e.code === 'EADDRINUSE'
          ? ` (something else listens on ${config.host}:${config.port}; set PORT)`
          : e.code === 'ENOENT' && /mediasoup-worker/.test(String(e.message ?? e.path))
            ? ' (the mediasoup worker is not built: run scripts/setup.sh)'
            : '';
    console.error(`gateway failed to start: ${e.message}${hint}`);
    process.exit(1);
  }
  logger.info({ url: gateway.url, workers: config.workers }, 'gateway listening');
  // Signals are handled from here on: one that arrives while the demo is being seeded still
  // stops the gateway cleanly.
  let seeded: Promise<unknown> = Promise.resolve();
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    // SIGTERM drains a cluster node first: it waits (at most DRAIN_TIMEOUT_SECONDS) for its
    // participants to move to other nodes. SIGINT (Ctrl-C) stops at once.
    const drains = Boolean(gateway.cluster) && signal !== 'SIGINT';
    logger.info({ signal }, drains ? 'draining, then shutting down' : 'shutting down');
    const drainMs = drains ? gateway.cluster!.settings.drainTimeoutMs : 0;
    // A signal during the demo seeding (scrypt hashes: seconds on a busy machine) stops once the
    // seeding is done, so no half-written account or consult is left behind.
    void seeded
      .catch(() => undefined)
      .then(() => {
        const force = setTimeout(() => process.exit(1), drainMs + 10_000);
        force.unref();
        return drains ? gateway.shutdown() : gateway.close();
      })
      .then(
        () => process.exit(0),
        (err) => {
          logger.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  gateway.onDrainRequest = () => stop('drain command');
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  console.log(`\nTelemedicine gateway listening on ${gateway.url}`);
  const seeding = seedDemo(gateway, config, gateway.url);
  seeded = seeding;
  const demo = await seeding;
  if (demo.credentials.length) {
    console.log('\nThe database was empty: created one demo account per role (shown only now):');
    for (const c of demo.credentials) {
      console.log(`  ${c.role.padEnd(11)} ${c.email.padEnd(24)} password: ${c.password}`);
    }
    console.log(
      `Log in at ${gateway.url}/login. Create real accounts with: npm run user -- create --email E --name N --role R`,
    );
  }
  if (demo.noAccounts) {
    console.log('\nThere are no accounts yet. Create the first admin (password read from stdin):');
    console.log(
      '  npm run user -- create --email you@hospital.example --name "Your Name" --role admin',
    );
    console.log(`then log in at ${gateway.url}/login.`);
  }
  if (demo.links) {
    console.log(`\nDemo consult "${demo.links.consultId}": open each link in its own browser tab.`);
    console.log(`  Doctor:     ${demo.links.doctor}`);
    console.log(`  Specialist: ${demo.links.specialist}`);
    console.log('  (the specialist waits in the lobby until the doctor admits them)\n');
  }
}

void main();
