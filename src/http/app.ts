/** The Express app (without listen(), so tests can drive it): health, metrics, the client. */
import fs from 'node:fs';
import path from 'node:path';
import express from 'express';
import type { NextFunction, Request, Response } from 'express';
import type { Registry } from 'prom-client';
import { GatewayError, toGatewayError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { RoomRegistry } from '../sfu/RoomRegistry.js';
import type { WorkerPool } from '../sfu/WorkerPool.js';
import { workerStats } from './workerStats.js';

export interface AppDeps {
  pool: WorkerPool;
  rooms: RoomRegistry;
  metrics: Registry;
  clientDir: string;
  logger: Logger;
}

export function createApp({ pool, rooms, metrics, clientDir, logger }: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '64kb' }));

  app.get('/healthz', async (_req, res) => {
    const workers = await workerStats(pool);
    const alive = workers.filter((w) => w.alive).length;
    res.status(alive > 0 ? 200 : 503).json({
      status: alive === workers.length ? 'ok' : alive > 0 ? 'degraded' : 'down',
      workerCount: workers.length,
      workersAlive: alive,
      workers,
      ...rooms.counts(),
    });
  });

  app.get('/metrics', async (_req, res) => {
    res.type(metrics.contentType).send(await metrics.metrics());
  });

  app.use('/api', (_req, _res, next) => next(new GatewayError('not_found', 'no such API route')));

  const indexHtml = path.join(clientDir, 'index.html');
  if (fs.existsSync(indexHtml)) {
    // Hashed assets may be cached; index.html must not be, so a new build is picked up at once.
    app.use(
      express.static(clientDir, {
        index: 'index.html',
        setHeaders: (res, file) =>
          res.setHeader(
            'Cache-Control',
            file.includes(`${path.sep}assets${path.sep}`)
              ? 'public, max-age=31536000, immutable'
              : 'no-cache',
          ),
      }),
    );
    // Deep links (e.g. /consult?token=...) load the single-page client.
    app.get(/^\/(?!socket\.io\/).*/, (_req, res) => {
      res.setHeader('Cache-Control', 'no-cache');
      res.sendFile(indexHtml);
    });
  } else {
    logger.warn({ clientDir }, 'client build not found; run `npm run build:client`');
    app.get('/', (_req, res) => {
      res
        .status(503)
        .type('text')
        .send('The browser client is not built. Run: npm run build:client');
    });
  }

  app.use((_req, _res, next) => next(new GatewayError('not_found', 'not found')));

  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const parseFailure =
      typeof err === 'object' &&
      err !== null &&
      (err as { type?: string }).type === 'entity.parse.failed';
    const error = parseFailure
      ? new GatewayError('bad_request', 'body is not valid JSON')
      : toGatewayError(err);
    if (error.code === 'internal') logger.error({ err }, 'HTTP request failed');
    res.status(error.status).json({ error: error.toAck() });
  });

  return app;
}
