/**
 * The baseline: bare mediasoup (the same worker binary and codecs as the gateway) behind the
 * least signalling that works — Socket.IO with no auth, no validation, no room events.
 * It answers the gateway's event names so the same clients can drive both. It also serves
 * the bench's own pages (the bare and Janus browser pages).
 */
import '../../src/sfu/workerBin.js';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import { Server as IoServer } from 'socket.io';
import { mediaCodecs } from '../../src/sfu/codecs.js';

export interface BareServer {
  url: string;
  worker: types.Worker;
  workerPid: number;
  /** Live producers of a consult (for waiting on the publisher page). */
  producers(consultId: string): { id: string; kind: string }[];
  /** Router of a consult, created on first use. */
  router(consultId: string): Promise<types.Router>;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css',
  '.map': 'application/json',
};

function serveStatic(dir: string) {
  return (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const file = path.join(dir, path.normalize(url.pathname).replace(/^(\.\.[/\\])+/, ''));
    if (!file.startsWith(dir) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  };
}

type Reply = (res: unknown) => void;

export async function startBareServer(staticDir: string): Promise<BareServer> {
  const worker = await mediasoup.createWorker({ logLevel: 'warn' });
  let webRtcServer: types.WebRtcServer | undefined;
  for (let attempt = 0; !webRtcServer; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 20000);
    try {
      webRtcServer = await worker.createWebRtcServer({
        listenInfos: [
          { protocol: 'udp', ip: '127.0.0.1', port },
          { protocol: 'tcp', ip: '127.0.0.1', port },
        ],
      });
    } catch (err) {
      if (attempt >= 8) {
        worker.close();
        throw err;
      }
    }
  }
  const server = webRtcServer;
  const routers = new Map<string, Promise<types.Router>>();
  const producersByConsult = new Map<string, Map<string, types.Producer>>();
  const router = (consultId: string) => {
    let r = routers.get(consultId);
    if (!r) {
      r = worker.createRouter({ mediaCodecs });
      routers.set(consultId, r);
      producersByConsult.set(consultId, new Map());
    }
    return r;
  };

  const httpServer = http.createServer(serveStatic(path.resolve(staticDir)));
  const io = new IoServer(httpServer, { serveClient: false, maxHttpBufferSize: 256 * 1024 });
  io.on('connection', (socket) => {
    let consultId = '';
    let room: types.Router | undefined;
    const transports = new Map<string, types.WebRtcTransport>();
    const on = <P>(event: string, fn: (payload: P) => Promise<unknown>) =>
      socket.on(event, async (payload: P, reply: Reply) => {
        try {
          reply({ ok: true, data: (await fn(payload)) ?? {} });
        } catch (err) {
          reply({ ok: false, error: { code: 'internal', message: (err as Error).message } });
        }
      });
    const leave = () => {
      for (const t of transports.values()) t.close();
      transports.clear();
    };
    on('join', async (p: { consultId: string }) => {
      consultId = p.consultId;
      room = await router(consultId);
      const producers = [...producersByConsult.get(consultId)!.values()];
      return {
        routerRtpCapabilities: room.rtpCapabilities,
        producers: producers.map((x) => ({ producerId: x.id, kind: x.kind })),
      };
    });
    on('createTransport', async (p: { direction: string }) => {
      const t = await room!.createWebRtcTransport({
        webRtcServer: server,
        appData: { direction: p.direction },
      });
      transports.set(t.id, t);
      return {
        id: t.id,
        iceParameters: t.iceParameters,
        iceCandidates: t.iceCandidates,
        dtlsParameters: t.dtlsParameters,
      };
    });
    on(
      'connectTransport',
      async (p: { transportId: string; dtlsParameters: types.DtlsParameters }) => {
        await transports.get(p.transportId)!.connect({ dtlsParameters: p.dtlsParameters });
      },
    );
    on(
      'produce',
      async (p: {
        transportId: string;
        kind: types.MediaKind;
        rtpParameters: types.RtpParameters;
      }) => {
        const producer = await transports
          .get(p.transportId)!
          .produce({ kind: p.kind, rtpParameters: p.rtpParameters });
        const list = producersByConsult.get(consultId)!;
        list.set(producer.id, producer);
        producer.observer.once('close', () => list.delete(producer.id));
        return { producerId: producer.id };
      },
    );
    on('consume', async (p: { producerId: string; rtpCapabilities: types.RtpCapabilities }) => {
      const recv = [...transports.values()].find((t) => t.appData.direction === 'recv')!;
      const c = await recv.consume({
        producerId: p.producerId,
        rtpCapabilities: p.rtpCapabilities,
      });
      return {
        consumerId: c.id,
        producerId: p.producerId,
        kind: c.kind,
        rtpParameters: c.rtpParameters,
      };
    });
    on('leave', async () => leave());
    socket.on('disconnect', leave);
  });

  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  const port = (httpServer.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    worker,
    workerPid: worker.pid,
    producers: (id) =>
      [...(producersByConsult.get(id)?.values() ?? [])].map((p) => ({ id: p.id, kind: p.kind })),
    router,
    async close() {
      await new Promise<void>((resolve) => io.close(() => resolve()));
      httpServer.closeAllConnections();
      worker.close();
    },
  };
}
