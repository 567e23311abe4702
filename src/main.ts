/** Start-up: config → worker pool → HTTP(S) + Socket.IO; prints demo links; stops cleanly on signals. */
import { mintJoinToken } from './auth/tokens.js';
import { ConfigError, loadConfig } from './config.js';
import { startGateway } from './gateway.js';
import { createLogger } from './logger.js';

async function main(): Promise<void> {
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
  console.log(`\nTelemedicine gateway listening on ${gateway.url}`);
  if (config.demoConsultId) {
    const link = (role: 'doctor' | 'specialist', name: string) =>
      `${gateway.url}/?token=${mintJoinToken(config.jwtSecret, {
        consultId: config.demoConsultId!,
        role,
        name,
        ttlSeconds: config.tokenTtlSeconds,
      })}`;
    console.log(`\nDemo consult "${config.demoConsultId}": open each link in its own browser tab.`);
    console.log(`  Doctor:     ${link('doctor', 'Dr. Demo')}`);
    console.log(`  Specialist: ${link('specialist', 'Specialist Demo')}\n`);
  }

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    gateway.close().then(
      () => process.exit(0),
      (err) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

void main();
