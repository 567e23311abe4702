/** The Express app (without listen(), so tests can drive it): API, health, metrics, the client. */
import fs from 'node:fs';
import path from 'node:path';
import cors from 'cors';
import express from 'express';
import type { NextFunction, Request, Response } from 'express';
import helmet from 'helmet';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import type { AuthService } from '../auth/AuthService.js';
import type { AuditLog } from '../audit/AuditLog.js';
import type { ClusterNode } from '../cluster/ClusterNode.js';
import type { ConsultService } from '../consults/ConsultService.js';
import type { InviteMailer } from '../consults/InviteMailer.js';
import type { RecordService } from '../clinicalRecord/RecordService.js';
import { GatewayError, toGatewayError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { RoomRegistry } from '../sfu/RoomRegistry.js';
import type { WorkerPool } from '../sfu/WorkerPool.js';
import type { Store } from '../store/repositories.js';
import { createClusterMetrics } from './clusterMetrics.js';
import { monitoringAccess, monitoringRefusal } from './monitoring.js';
import { Api } from './route.js';
import { authRoutes } from './routes/auth.js';
import { consultRoutes } from './routes/consults.js';
import { netcheckRoutes } from './routes/netcheck.js';
import { MemoryRateLimits, type RateLimits } from '../signalling/rateLimit.js';
import type { MediaProbes } from '../sfu/MediaProbes.js';
import { recordRoutes } from './routes/records.js';
import { userRoutes } from './routes/users.js';
import { workerStats } from './workerStats.js';

export interface AppDeps {
  pool: WorkerPool;
  /** The network check's probe transports on the media server. */
  probes: MediaProbes;
  rooms: RoomRegistry;
  metrics: Registry;
  store: Store;
  auth: AuthService;
  consults: ConsultService;
  records: RecordService;
  audit: AuditLog;
  jwtSecret: string;
  corsOrigins: string[];
  /** Bearer token for /metrics and the detail of /healthz; unset: direct loopback clients only. */
  metricsToken?: string;
  /** Base URL for links the API hands out (invites). */
  publicUrl: () => string;
  clientDir: string;
  /** Express `trust proxy`: which peers may name the client in X-Forwarded-For (default loopback). */
  trustProxy?: boolean | number | string;
  /** This node of the cluster (its view is part of the /healthz detail); none on one node. */
  cluster?: () => ClusterNode | undefined;
  /** How many wait in a consult's waiting room (the host's dashboard badge; default none). */
  waitingCount?: (consultId: string) => number | Promise<number>;
  /** Where per-key request limits are counted (Redis in a cluster); default: this process. */
  rateLimits?: () => RateLimits;
  /** Cluster only: starts draining this node (`POST /drain`); false on a single node. */
  requestDrain?: () => boolean;
  /** E-mails invite links made at scheduling (optional). */
  mailer?: InviteMailer;
  logger: Logger;
}

export const API_BASE = '/api/v1';

/** /metrics?scope=node (the default: this node) or ?scope=cluster (the registry's totals). */
const metricsQuery = z.object({ scope: z.enum(['node', 'cluster']).optional() });

export function createApp(deps: AppDeps): express.Express {
  const { pool, rooms, metrics, clientDir, logger } = deps;
  const app = express();
  app.disable('x-powered-by');
  // Behind a hospital reverse proxy, req.ip is the client's (X-Forwarded-For from TRUST_PROXY only).
  app.set('trust proxy', deps.trustProxy ?? 'loopback');
  // A page (a navigation) gets a CSP naming the nodes alive now: see ClusterNode.refreshOrigins.
  app.use((req, _res, next) => {
    const cluster = deps.cluster?.();
    const page =
      req.get('sec-fetch-dest') === 'document' || /text\/html/.test(req.get('accept') ?? '');
    if (!cluster || req.method !== 'GET' || !page) return next();
    void cluster.refreshOrigins().then(() => next());
  });
  app.use(
    helmet({
      contentSecurityPolicy: {
        directives: {
          // The client draws quality charts into canvases and plays MediaStreams; no inline scripts.
          'img-src': ["'self'", 'data:', 'blob:'],
          'media-src': ["'self'", 'blob:'],
          // In a cluster the client may move its signalling to another node (failover).
          'connect-src': [
            "'self'",
            (_req, _res) => deps.cluster?.()?.connectSources().join(' ') ?? '',
          ],
        },
      },
    }),
  );

  // Anyone (a load balancer) may ask whether the gateway is up; the detail is for operators.
  app.get('/healthz', async (req, res) => {
    const detail = monitoringAccess(req, deps.metricsToken) === 'granted';
    const workers = await workerStats(pool);
    const alive = workers.filter((w) => w.alive).length;
    const cluster = detail ? deps.cluster?.() : undefined;
    const status = alive === workers.length ? 'ok' : alive > 0 ? 'degraded' : 'down';
    res.setHeader('Cache-Control', 'no-store');
    res.status(alive > 0 ? 200 : 503).json(
      detail
        ? {
            status,
            workerCount: workers.length,
            workersAlive: alive,
            workers,
            ...rooms.counts(),
            ...(cluster ? { cluster: await cluster.health() } : {}),
          }
        : { status },
    );
  });

  // ?scope=cluster: the cluster's totals from the node registry, same access as the node's.
  let clusterMetrics: { node: ClusterNode; registry: Registry } | undefined;
  app.get('/metrics', async (req, res) => {
    if (monitoringAccess(req, deps.metricsToken) !== 'granted')
      throw monitoringRefusal(deps.metricsToken);
    const query = metricsQuery.safeParse(req.query);
    if (!query.success) throw GatewayError.fromZod(query.error, 'query');
    const { scope } = query.data;
    let registry = metrics;
    if (scope === 'cluster') {
      const node = deps.cluster?.();
      if (!node) {
        throw new GatewayError(
          'not_found',
          'this gateway is not a cluster node (REDIS_URL is unset): read /metrics without scope',
        );
      }
      if (clusterMetrics?.node !== node)
        clusterMetrics = { node, registry: createClusterMetrics(node) };
      registry = clusterMetrics.registry;
    }
    res.setHeader('Cache-Control', 'no-store');
    res.type(registry.contentType).send(await registry.metrics());
  });

  // `npm run drain`: the operator's way to empty a cluster node before stopping it (as
  // SIGTERM does). Same access as /metrics; never from a browser page (no Origin allowed),
  // so a page open on the gateway machine cannot make it drain.
  app.post('/drain', (req, res) => {
    if (req.get('origin') !== undefined) {
      throw new GatewayError(
        'forbidden',
        'a node is drained by `npm run drain`, not from a web page',
      );
    }
    if (monitoringAccess(req, deps.metricsToken) !== 'granted')
      throw monitoringRefusal(deps.metricsToken);
    if (!deps.requestDrain?.()) {
      throw new GatewayError(
        'not_found',
        'this gateway is not a cluster node (REDIS_URL is unset): stop it with SIGTERM',
      );
    }
    res.setHeader('Cache-Control', 'no-store');
    res.status(202).json({ draining: true, node: deps.cluster?.()?.id });
  });

  const router = express.Router();
  // Tokens, records, FHIR bundles and user lists must not stay in a browser's or proxy's cache.
  router.use((_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    next();
  });
  router.use(
    cors({
      origin: deps.corsOrigins.length ? deps.corsOrigins : false,
      exposedHeaders: ['Retry-After'],
      maxAge: 600,
    }),
  );
  router.use(express.json({ limit: '64kb' }));
  const api = new Api(router, {
    secret: deps.jwtSecret,
    assertCurrent: (claims) => deps.auth.sessions.assertAccess(claims),
  });
  authRoutes(api, deps.auth);
  userRoutes(api, deps.auth, deps.store);
  consultRoutes(
    api,
    deps.consults,
    async (ids) => {
      const names = new Map<string, string>();
      for (const id of new Set(ids)) {
        const user = await deps.store.users.findById(id);
        if (user) names.set(id, user.name);
      }
      return (id) => names.get(id) ?? id;
    },
    deps.publicUrl,
    deps.waitingCount,
    deps.mailer,
  );
  recordRoutes(api, deps.records, deps.audit, deps.store);
  const memoryLimits = new MemoryRateLimits();
  netcheckRoutes(
    router,
    deps.jwtSecret,
    deps.consults,
    deps.rateLimits ?? (() => memoryLimits),
    deps.probes,
  );
  router.get('/openapi.json', (_req, res) => {
    res.json(api.openApi(API_BASE));
  });
  router.use((_req, _res, next) => next(new GatewayError('not_found', 'no such API route')));
  app.use(API_BASE, router);
  app.use('/api', (_req, _res, next) => next(new GatewayError('not_found', 'no such API route')));

  const indexHtml = path.join(clientDir, 'index.html');
  if (fs.existsSync(indexHtml)) {
    // An old build may still hold source maps: they are never served.
    app.use((req, _res, next) =>
      next(req.path.endsWith('.map') ? new GatewayError('not_found', 'not found') : undefined),
    );
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
    // Deep links (e.g. /admin, /?invite=...) load the single-page client.
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
    const type =
      typeof err === 'object' && err !== null ? (err as { type?: string }).type : undefined;
    const error =
      type === 'entity.parse.failed'
        ? new GatewayError('bad_request', 'body is not valid JSON')
        : type === 'entity.too.large'
          ? new GatewayError('bad_request', 'body is too large (64 kB at most)')
          : toGatewayError(err);
    if (error.code === 'internal') logger.error({ err }, 'HTTP request failed');
    if (error.retryAfter) res.setHeader('Retry-After', String(error.retryAfter));
    res.status(error.status).json({ error: error.toAck() });
  });

  return app;
}
