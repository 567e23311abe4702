/**
 * Wires the gateway together: worker pool → rooms → Express + Socket.IO on one HTTP(S)
 * server. Used by main.ts and, in-process, by the integration tests.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { Server as IoServer } from 'socket.io';
import type { Config } from './config.js';
import { createApp } from './http/app.js';
import { createMetrics } from './http/metrics.js';
import { loadTls } from './http/tls.js';
import type { Logger } from './logger.js';
import { RoomRegistry } from './sfu/RoomRegistry.js';
import { WorkerPool } from './sfu/WorkerPool.js';
import type { SignallingServer } from './signalling/server.js';
import { attachSignalling } from './signalling/server.js';

export interface Gateway {
  config: Config;
  pool: WorkerPool;
  rooms: RoomRegistry;
  io: SignallingServer;
  server: http.Server | https.Server;
  /** The base URL browsers open, e.g. http://localhost:3000. */
  url: string;
  port: number;
  /** Stops accepting, tells peers, closes every room, then every worker. */
  close(): Promise<void>;
}

export async function startGateway(config: Config, logger: Logger): Promise<Gateway> {
  const pool = await WorkerPool.create({
    count: config.workers,
    listenIp: config.rtc.listenIp,
    announcedIp: config.rtc.announcedIp,
    portBase: config.rtc.portBase,
    logLevel: config.mediasoupLogLevel,
    logger,
  });
  try {
    const rooms = new RoomRegistry(
      pool,
      {
        maxIncomingBitrate: config.rtc.maxIncomingBitrate,
        initialOutgoingBitrate: config.rtc.initialOutgoingBitrate,
      },
      logger,
    );
    const app = createApp({
      pool,
      rooms,
      metrics: createMetrics(rooms, pool),
      clientDir: config.clientDir,
      logger,
    });
    const tls = await loadTls(config, logger);
    const server = tls ? https.createServer(tls, app) : http.createServer(app);
    const io: SignallingServer = new IoServer(server, {
      serveClient: false,
      maxHttpBufferSize: 256 * 1024,
      pingInterval: 10_000,
      pingTimeout: 10_000,
    });
    attachSignalling(io, rooms, config.jwtSecret, logger);

    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const port = (server.address() as AddressInfo).port;
    const shownHost = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
    const hostForUrl = shownHost === '127.0.0.1' ? 'localhost' : shownHost;
    const scheme = tls ? 'https' : 'http';
    const defaultPort = tls ? 443 : 80;
    const url = `${scheme}://${hostForUrl.includes(':') ? `[${hostForUrl}]` : hostForUrl}${port === defaultPort ? '' : `:${port}`}`;

    let closing: Promise<void> | undefined;
    const close = () =>
      (closing ??= (async () => {
        // Transports close before the workers (and their WebRtcServers) do.
        rooms.closeAll('gateway_shutdown');
        await new Promise<void>((resolve) => io.close(() => resolve()));
        pool.close();
        server.closeAllConnections?.();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      })());

    return { config, pool, rooms, io, server, url, port, close };
  } catch (err) {
    pool.close();
    throw err;
  }
}
