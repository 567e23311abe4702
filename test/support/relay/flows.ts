/**
 * The relay's flows: one per browser 5-tuple. A UDP flow keeps its own upstream socket (a
 * new one, on a new port, after a handover); a TCP flow splits both directions into RFC 4571
 * frames and sends each through its direction's impaired link.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { FrameSplitter, serverUfrag } from './framing.js';
import { Link } from './link.js';
import type { EffectiveLinkSettings } from './settings.js';

export interface FlowInfo {
  protocol: 'udp' | 'tcp';
  clientAddress: string;
  clientPort: number;
  /** Local port of the socket the relay uses toward the gateway (changes on handover). */
  upstreamPort: number;
  /** Gateway-side ICE ufrags seen in this flow's STUN checks. */
  ufrags: string[];
}

export interface Flow {
  info: FlowInfo;
  up: Link;
  down: Link;
  lastSeen: number;
  /** Replaces the upstream socket/connection with a new one from a new port. */
  handover(): Promise<void>;
  close(): void;
}

/** What a flow needs from its relay. */
export interface FlowContext {
  targetHost: string;
  targetPort: number;
  upstreamHost: string;
  /** A new independent seeded random stream (one per link and purpose). */
  newRandom(): () => number;
  /** The settings in force for this flow's direction, read per packet. */
  settings(info: FlowInfo, dir: 'up' | 'down'): () => EffectiveLinkSettings;
  /** Sends a datagram to the client from the relay's listening socket. */
  sendToClient(packet: Buffer, port: number, address: string): void;
}

/** A UDP flow for a client address, with its own upstream socket. */
export function udpFlow(ctx: FlowContext, client: { address: string; port: number }): Flow {
  const { targetHost, targetPort, upstreamHost } = ctx;
  const info: FlowInfo = {
    protocol: 'udp',
    clientAddress: client.address,
    clientPort: client.port,
    upstreamPort: 0,
    ufrags: [],
  };
  const open = () => {
    const s = dgram.createSocket({ type: upstreamHost.includes(':') ? 'udp6' : 'udp4' });
    s.on('error', () => undefined);
    s.on('message', (msg, rinfo) => {
      if (rinfo.port === targetPort && current === s) down.push(msg);
    });
    return s;
  };
  const bind = (s: dgram.Socket) =>
    new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind({ address: upstreamHost, port: 0 }, () => {
        s.off('error', reject);
        info.upstreamPort = s.address().port;
        resolve();
      });
    });
  let current = open();
  // Packets that arrive before the first bind completes are sent once it does (send binds).
  void bind(current).catch((err: Error) => console.error('relay: upstream bind failed', err));
  const up = new Link({
    mode: 'datagram',
    settings: ctx.settings(info, 'up'),
    random: ctx.newRandom(),
    jitterRandom: ctx.newRandom(),
    deliver: (p) => current.send(p, targetPort, targetHost),
  });
  const down = new Link({
    mode: 'datagram',
    settings: ctx.settings(info, 'down'),
    random: ctx.newRandom(),
    jitterRandom: ctx.newRandom(),
    deliver: (p) => {
      ctx.sendToClient(p, client.port, client.address);
    },
  });
  return {
    info,
    up,
    down,
    lastSeen: performance.now(),
    async handover() {
      const next = open();
      await bind(next);
      const old = current;
      current = next;
      old.close();
    },
    close() {
      up.close();
      down.close();
      current.close();
    },
  };
}

/** A TCP flow for an accepted client connection; `onClose` runs once when either side ends. */
export function tcpFlow(ctx: FlowContext, client: net.Socket, onClose: (flow: Flow) => void): Flow {
  const { targetHost, targetPort, upstreamHost } = ctx;
  const info: FlowInfo = {
    protocol: 'tcp',
    clientAddress: client.remoteAddress ?? '',
    clientPort: client.remotePort ?? 0,
    upstreamPort: 0,
    ufrags: [],
  };
  let closed = false;
  let upstream: net.Socket | undefined;
  const fromClient = new FrameSplitter();
  const flow: Flow = {
    info,
    lastSeen: performance.now(),
    up: new Link({
      mode: 'stream',
      settings: ctx.settings(info, 'up'),
      random: ctx.newRandom(),
      jitterRandom: ctx.newRandom(),
      deliver: (frame) => upstream?.write(frame),
      onBackpressure: (full) => (full ? client.pause() : client.resume()),
    }),
    down: new Link({
      mode: 'stream',
      settings: ctx.settings(info, 'down'),
      random: ctx.newRandom(),
      jitterRandom: ctx.newRandom(),
      deliver: (frame) => client.write(frame),
      onBackpressure: (full) => (full ? upstream?.pause() : upstream?.resume()),
    }),
    handover: async () => {
      const next = await connect();
      const old = upstream;
      upstream = next;
      old?.removeAllListeners('close');
      old?.end();
    },
    close: () => {
      if (closed) return;
      closed = true;
      flow.up.close();
      flow.down.close();
      client.destroy();
      upstream?.destroy();
      onClose(flow);
    },
  };
  const connect = () =>
    new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host: targetHost, port: targetPort, localAddress: upstreamHost });
      s.setNoDelay(true);
      const fromGateway = new FrameSplitter();
      s.on('data', (chunk) => {
        if (s !== upstream) return;
        for (const f of fromGateway.push(chunk)) flow.down.push(f);
      });
      s.once('connect', () => {
        info.upstreamPort = s.localPort ?? 0;
        s.off('error', reject);
        s.on('error', () => {
          if (s === upstream) flow.close();
        });
        resolve(s);
      });
      s.once('error', reject);
      s.on('close', () => {
        if (s === upstream) flow.close();
      });
    });
  client.setNoDelay(true);
  client.pause();
  client.on('error', () => flow.close());
  client.on('close', () => flow.close());
  connect().then(
    (s) => {
      upstream = s;
      client.on('data', (chunk) => {
        flow.lastSeen = performance.now();
        for (const f of fromClient.push(chunk)) {
          const ufrag = serverUfrag(f.subarray(2));
          if (ufrag && !info.ufrags.includes(ufrag)) info.ufrags.push(ufrag);
          flow.up.push(f);
        }
      });
      client.resume();
    },
    () => flow.close(),
  );
  return flow;
}
