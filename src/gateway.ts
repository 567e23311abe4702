/**
 * Wires the gateway together: store → services → worker pool → rooms → Express + Socket.IO
 * on one HTTP(S) server. Used by main.ts and, in-process, by the integration tests.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { Server as IoServer } from 'socket.io';
import { AuditLog } from './audit/AuditLog.js';
import { AuthService } from './auth/AuthService.js';
import { ClusterNode } from './cluster/ClusterNode.js';
import { ClusterRelay } from './cluster/ClusterRelay.js';
import { RedisGracePeriods } from './cluster/RedisGracePeriods.js';
import { RedisLoginThrottle } from './cluster/RedisLoginThrottle.js';
import { RedisRateLimits } from './cluster/RedisRateLimits.js';
import { RedisLobby } from './cluster/RedisLobby.js';
import type { Config } from './config.js';
import { ConsultService } from './consults/ConsultService.js';
import { Lobby, type LobbyStore } from './consults/Lobby.js';
import { createApp } from './http/app.js';
import { InviteMailer } from './consults/InviteMailer.js';
import { clientAddress, type TrustFn } from './http/clientAddress.js';
import { createMetrics } from './http/metrics.js';
import { loadTls } from './http/tls.js';
import type { Logger } from './logger.js';
import { ConsultRecorder } from './clinicalRecord/ConsultRecorder.js';
import { QualitySampler } from './clinicalRecord/QualitySampler.js';
import { RecordService } from './clinicalRecord/RecordService.js';
import { MediaProbes } from './sfu/MediaProbes.js';
import { RoomRegistry } from './sfu/RoomRegistry.js';
import { WorkerPool } from './sfu/WorkerPool.js';
import { MemoryRateLimits, type RateLimits } from './signalling/rateLimit.js';
import type { SignallingServer } from './signalling/server.js';
import { attachSignalling } from './signalling/server.js';
import { securePrivateFiles } from './store/privateFiles.js';
import type { Store } from './store/repositories.js';
import { openStore } from './store/index.js';

export interface Services {
  store: Store;
  audit: AuditLog;
  auth: AuthService;
  consults: ConsultService;
  records: RecordService;
}

/** The domain services over the configured store (also used by the operator CLIs). */
export async function createServices(config: Config, logger: Logger): Promise<Services> {
  for (const fix of securePrivateFiles(config.dataDir, config.databasePath)) {
    logger.warn(
      fix,
      'others could read a private file or directory: restricted it to this account',
    );
  }
  const store = await openStore(config);
  const audit = new AuditLog(store.audit, logger);
  const auth = new AuthService(store, audit, { secret: config.jwtSecret, ...config.auth });
  const consults = new ConsultService(store, audit, {
    secret: config.jwtSecret,
    lobbyOpenMinutes: config.consults.lobbyOpenMinutes,
    inviteTtlHours: config.consults.inviteTtlHours,
    joinTtlSeconds: config.auth.joinTtlSeconds,
    nodeId: config.nodeId,
  });
  const records = new RecordService(store, audit, config.records);
  try {
    await auth.sessions.ready;
  } catch (err) {
    await store.close();
    throw err;
  }
  return { store, audit, auth, consults, records };
}

export interface Gateway extends Services {
  config: Config;
  recorder: ConsultRecorder;
  sampler: QualitySampler;
  lobby: LobbyStore;
  pool: WorkerPool;
  rooms: RoomRegistry;
  /** The network check's probe transports (closed before the workers). */
  probes: MediaProbes;
  io: SignallingServer;
  /** This node of the cluster (REDIS_URL set); undefined on a single node. */
  cluster: ClusterNode | undefined;
  server: http.Server | https.Server;
  /** The base URL browsers open, e.g. http://localhost:3000. */
  url: string;
  port: number;
  /** Stops accepting, tells peers, closes every room, then every worker and the database. */
  close(): Promise<void>;
  /**
   * How SIGTERM stops the gateway: a cluster node drains (its participants move to other
   * nodes, at most DRAIN_TIMEOUT_SECONDS), then closes; a single node just closes.
   */
  shutdown(): Promise<void>;
  /** Called when an operator asks this node to drain (POST /drain); main.ts stops the process. */
  onDrainRequest: () => void;
}

/** A seat that moved away from a draining node keeps its old media at most this long. */
const HANDOVER_MS = 20_000;

export async function startGateway(config: Config, logger: Logger): Promise<Gateway> {
  const services = await createServices(config, logger);
  let pool: WorkerPool | undefined;
  let cluster: ClusterNode | undefined;
  try {
    pool = await WorkerPool.create({
      count: config.workers,
      listenIp: config.rtc.listenIp,
      announcedIp: config.rtc.announcedIp,
      lanIp: config.rtc.lanIp,
      portBase: config.rtc.portBase,
      logLevel: config.mediasoupLogLevel,
      logger,
      nice: config.workerNice === 0 ? undefined : config.workerNice,
    });
    const rooms = new RoomRegistry(
      pool,
      {
        maxIncomingBitrate: config.rtc.maxIncomingBitrate,
        initialOutgoingBitrate: config.rtc.initialOutgoingBitrate,
        firstFrameLayer: config.rtc.firstFrameLayer,
      },
      logger,
      config.routerWarmSeconds * 1000,
      config.workerMaxConsumers,
    );
    const probes = new MediaProbes(pool, { ttlMs: config.netcheckProbeSeconds * 1000 });
    const denyCooldownMs = config.consults.lobbyDenyCooldownSeconds * 1000;
    // In a cluster the lobby is shared: a guest may wait on one node, the host admit on another.
    const redisLobby = config.cluster ? new RedisLobby(denyCooldownMs) : undefined;
    const lobby: LobbyStore = redisLobby ?? new Lobby(denyCooldownMs);
    const recorder = new ConsultRecorder(services.store, logger);
    services.records.pendingWrites = () => recorder.queue.idle();
    // Consults a previous run left live were interrupted by its stop: close them first (a
    // cluster node does it once it can ask the other nodes which of them they carry on).
    if (!config.cluster) await recorder.recoverInterrupted(services.consults);
    recorder.attach(rooms, services.consults, lobby);
    const sampler = new QualitySampler(
      rooms,
      recorder,
      services.store,
      logger,
      config.records.sampleSeconds * 1000,
    );
    sampler.start();
    await services.records.purgeExpired();
    const retention = setInterval(() => {
      services.records.purgeExpired().catch((err: unknown) => {
        logger.error({ err }, 'retention purge failed; will retry');
      });
    }, 6 * 3600_000);
    retention.unref();
    let url = '';
    let requestDrain = () => false;
    // Per-key limits: in memory on one node; in a cluster, in Redis once the node is connected.
    let rateLimits: RateLimits = new MemoryRateLimits();
    const mailer = new InviteMailer(config.smtp, logger);
    const app = createApp({
      ...services,
      pool,
      rooms,
      probes,
      metrics: createMetrics(
        rooms,
        pool,
        () => recorder.queue.pending,
        () => cluster,
      ),
      jwtSecret: config.jwtSecret,
      corsOrigins: config.corsOrigins,
      metricsToken: config.metricsToken,
      publicUrl: () => config.publicUrl ?? url,
      clientDir: config.clientDir,
      trustProxy: config.trustProxy,
      cluster: () => cluster,
      waitingCount: async (consultId) => (await lobby.list(consultId)).length,
      rateLimits: () => rateLimits,
      requestDrain: () => requestDrain(),
      mailer,
      logger,
    });
    const trust = app.get('trust proxy fn') as TrustFn;
    const tls = await loadTls(config, logger);
    const server = tls ? https.createServer(tls, app) : http.createServer(app);
    const io: SignallingServer = new IoServer(server, {
      serveClient: false,
      maxHttpBufferSize: 256 * 1024,
      pingInterval: 10_000,
      pingTimeout: 10_000,
    });
    if (config.cluster) {
      cluster = await ClusterNode.create({
        settings: config.cluster,
        io,
        rooms,
        workers: config.workers,
        rtc: {
          ip: config.rtc.announcedIp ?? config.rtc.listenIp,
          ports: [config.rtc.portBase, config.rtc.portBase + config.workers - 1],
        },
        logger,
      });
      rateLimits = new RedisRateLimits(cluster.redis, rateLimits, logger);
      services.auth.useLoginThrottle(
        new RedisLoginThrottle(cluster.redis, services.auth.loginLimits, logger),
      );
      redisLobby?.use(cluster.redis);
    }
    const clusterNode = cluster;
    const drainState = clusterNode && {
      draining: () => clusterNode.draining,
      target: async () => (await clusterNode.targets(1))[0],
    };
    // A cluster keeps grace periods in Redis: a seat can be taken back through any node, and
    // is released after its grace period even if the node it dropped from dies meanwhile.
    const gracePeriods = cluster && new RedisGracePeriods(cluster.redis, logger, { leaseMs: 5000 });
    const live = attachSignalling(io, {
      rooms,
      ...(gracePeriods ? { gracePeriods } : {}),
      ...(cluster ? { placement: cluster.placement } : {}),
      ...(drainState ? { drain: drainState } : {}),
      consults: services.consults,
      lobby,
      audit: services.audit,
      recorder,
      sampler,
      sessions: services.auth.sessions,
      jwtSecret: config.jwtSecret,
      reconnectGraceMs: config.reconnectGraceSeconds * 1000,
      limits: config.signalling,
      rateLimits,
      clientAddress: (h) => clientAddress(trust, h.address, h.headers['x-forwarded-for']),
      logger,
    });
    const relay =
      cluster &&
      new ClusterRelay({
        nodeId: cluster.id,
        bus: cluster.bus,
        registry: cluster.registry,
        consults: services.consults,
        sessions: services.auth.sessions,
        live,
        handoverMs: () => (cluster?.draining ? HANDOVER_MS : undefined),
        ...(gracePeriods ? { grace: gracePeriods, directory: cluster.directory } : {}),
        logger,
      });
    if (relay) await recorder.recoverInterrupted(services.consults, (c) => relay.stillCarried(c));

    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const port = (server.address() as AddressInfo).port;
    url = baseUrl(config.host, port, Boolean(tls));
    await cluster?.register(config.publicUrl ?? url);

    const workers = pool;
    const node = cluster;
    let closing: Promise<void> | undefined;
    const close = () =>
      (closing ??= (async () => {
        // Asked while the bus is up: live consults another node carries on are not interrupted.
        const carried = relay
          ? await services.consults
              .liveConsults()
              .then((c) => relay.stillCarried(c))
              .catch((err: unknown) => {
                logger.error({ err }, 'could not ask which consults other nodes carry on');
                return undefined;
              })
          : undefined;
        // Other nodes stop counting on this one before its media goes.
        await node?.leave();
        sampler.stop();
        gracePeriods?.close();
        clearInterval(retention);
        // Transports close before the workers (and their WebRtcServers) do.
        rooms.closeAll('gateway_shutdown');
        probes.close();
        // Live consults end here, as interrupted, with every participation closed now.
        await recorder.recoverInterrupted(
          services.consults,
          carried && (() => Promise.resolve(carried)),
        );
        const unwritten = await recorder.queue.flush();
        if (unwritten)
          logger.error({ unwritten }, 'consult record writes still failing at shutdown');
        await new Promise<void>((resolve) => io.close(() => resolve()));
        node?.disconnect();
        workers.close();
        server.closeAllConnections?.();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        mailer.close();
        await services.store.close();
      })());

    let draining: Promise<void> | undefined;
    /** Moves every participant of this node to other nodes, waiting until they have gone. */
    const drain = () =>
      (draining ??= (async () => {
        if (!node || closing) return;
        const started = Date.now();
        await node.drain();
        const told = await live
          .migrateAll((n) => node.targets(n))
          .catch((err: unknown) => {
            logger.error({ err }, 'could not tell the participants where to go');
            return 0;
          });
        const before = rooms.counts().peers;
        logger.info({ told, peers: before }, 'draining: participants told to move');
        const deadline = started + node.settings.drainTimeoutMs;
        const busy = () => rooms.counts().peers > 0 || live.connectionCount > 0;
        while (told > 0 && busy() && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        const outcome = {
          ms: Date.now() - started,
          moved: before - rooms.counts().peers,
          left: rooms.counts().peers,
        };
        if (busy()) logger.warn(outcome, 'drain timed out; stopping with those left');
        else logger.info(outcome, 'drained');
      })());
    const gateway: Gateway = {
      ...services,
      config,
      recorder,
      sampler,
      lobby,
      pool,
      rooms,
      probes,
      io,
      cluster,
      server,
      url,
      port,
      close,
      shutdown: () => (node ? drain().then(close) : close()),
      onDrainRequest: () => void gateway.shutdown(),
    };
    requestDrain = () => {
      if (!node) return false;
      gateway.onDrainRequest();
      return true;
    };
    return gateway;
  } catch (err) {
    if (cluster) await cluster.leave().finally(() => cluster!.disconnect());
    pool?.close();
    await services.store.close();
    throw err;
  }
}

function baseUrl(host: string, port: number, tls: boolean): string {
  const shown = host === '0.0.0.0' || host === '::' || host === '127.0.0.1' ? 'localhost' : host;
  const defaultPort = tls ? 443 : 80;
  const hostPart = shown.includes(':') ? `[${shown}]` : shown;
  return `${tls ? 'https' : 'http'}://${hostPart}${port === defaultPort ? '' : `:${port}`}`;
}
