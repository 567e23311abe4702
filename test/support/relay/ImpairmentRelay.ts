/**
 * A userspace UDP + TCP proxy on loopback that impairs media between browsers and the
 * gateway's WebRtcServer port: per direction delay, jitter, random and bursty loss, a token
 * bucket rate cap with a drop-tail queue, link cuts, and handovers (the gateway sees the
 * client arrive from a new source port). `tc netem` is not available on our machines.
 *
 * Layout used by the tests: the gateway listens on 127.0.0.1:P and announces 127.0.0.2:P;
 * the relay listens on 127.0.0.2:P (UDP and TCP) and forwards to 127.0.0.1:P.
 *
 * "up" is client → gateway, "down" is gateway → client. Settings apply to every flow (one
 * browser 5-tuple) or, with a scope, only to matching flows: `{ ufrag }` matches the flows
 * that carry ICE checks for that gateway transport (its `iceParameters.usernameFragment`),
 * so one participant's receive transport can be impaired while everyone else is not.
 * Rate caps and queues are per flow.
 *
 *   const relay = await ImpairmentRelay.start({
 *     listenHost: '127.0.0.2', listenPort: port, targetHost: '127.0.0.1', targetPort: port,
 *   });
 *   relay.set({ both: { delayMs: 40, jitterMs: 10, loss: 0.03 } });     // every flow
 *   relay.set({ down: { rateBps: 300_000 } }, { ufrag });               // one receiver's downlink
 *   relay.set({ up: { burst: burstLoss(0.05, 4) } });                   // bursty loss
 *   await relay.cut(5000);                                              // link down for 5 s
 *   await relay.handover();                                             // NAT rebinding
 *   relay.set({ blockUdp: true });                                      // only ICE-TCP passes
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { serverUfrag } from './framing.js';
import { tcpFlow, udpFlow, type Flow, type FlowContext, type FlowInfo } from './flows.js';
import { addStats, emptyStats, type LinkStats } from './link.js';
import {
  DEFAULT_LINK,
  defaultSeed,
  deriveSeed,
  seededRandom,
  validateLink,
  type EffectiveLinkSettings,
  type LinkSettings,
} from './settings.js';

export interface RelayOptions {
  /** Where browsers send (the address the gateway announces), e.g. 127.0.0.2. */
  listenHost: string;
  /** Port for both UDP and TCP; the gateway's announced port. */
  listenPort: number;
  /** The gateway's real media address and port, e.g. 127.0.0.1 and the same port. */
  targetHost: string;
  targetPort: number;
  /** Address the relay's upstream sockets bind to (the source the gateway sees). Default: targetHost. */
  upstreamHost?: string;
  /**
   * Seed for loss and jitter, so a run can be replayed (`relay.seed` says which was used).
   * Default: `RELAY_SEED` from the environment, else a fixed seed.
   */
  seed?: number;
  /** A UDP flow with no packets for this long is forgotten. Default 60 s. */
  flowIdleMs?: number;
}

export type { FlowInfo };

/** A change to the relay's settings; omitted fields keep their value. */
export interface RelayPatch {
  up?: Partial<LinkSettings>;
  down?: Partial<LinkSettings>;
  /** Applied to both directions (before `up` / `down`). */
  both?: Partial<LinkSettings>;
  /** Pass no UDP at all (the TCP side keeps working). */
  blockUdp?: boolean;
}

/** Which flows a setting, cut or handover applies to. */
export type FlowScope = { ufrag: string } | ((flow: FlowInfo) => boolean);

export interface FlowStats extends FlowInfo {
  up: LinkStats;
  down: LinkStats;
}

interface Profile {
  key: string | FlowScope;
  matches: (flow: FlowInfo) => boolean;
  up: LinkSettings;
  down: LinkSettings;
  blockUdp: boolean;
  cutUntil: number;
}

const newProfile = (key: Profile['key'], matches: Profile['matches']): Profile => ({
  key,
  matches,
  up: { ...DEFAULT_LINK },
  down: { ...DEFAULT_LINK },
  blockUdp: false,
  cutUntil: 0,
});

export class ImpairmentRelay {
  readonly #o: Required<Omit<RelayOptions, 'seed'>>;
  readonly #seed: number;
  /** Random streams handed out so far: each stream's number in the derivation from the seed. */
  #streams = 0;
  readonly #default = newProfile('default', () => true);
  readonly #scoped: Profile[] = [];
  readonly #udpFlows = new Map<string, Flow>();
  readonly #tcpFlows = new Set<Flow>();
  #udp!: dgram.Socket;
  readonly #flowContext: FlowContext;
  #tcp!: net.Server;
  #sweep!: NodeJS.Timeout;
  #closed = false;

  private constructor(options: RelayOptions) {
    this.#o = {
      upstreamHost: options.targetHost,
      flowIdleMs: 60_000,
      ...options,
    };
    this.#seed = (options.seed ?? defaultSeed()) >>> 0;
    this.#flowContext = {
      targetHost: this.#o.targetHost,
      targetPort: this.#o.targetPort,
      upstreamHost: this.#o.upstreamHost,
      newRandom: () => seededRandom(deriveSeed(this.#seed, this.#streams++)),
      settings: (info, dir) => this.#settings(info, dir),
      sendToClient: (packet, port, address) => {
        if (!this.#closed) this.#udp.send(packet, port, address);
      },
    };
  }

  /** Binds the relay's UDP socket and TCP server; rejects if the port is taken. */
  static async start(options: RelayOptions): Promise<ImpairmentRelay> {
    const relay = new ImpairmentRelay(options);
    await relay.#listen();
    return relay;
  }

  /** The seed of this relay's losses and jitter: print it with a failure, replay with RELAY_SEED. */
  get seed(): number {
    return this.#seed;
  }

  get address(): { host: string; port: number } {
    return { host: this.#o.listenHost, port: this.#o.listenPort };
  }

  /** Changes settings for every flow, or only for flows matching `scope`; returns this. */
  set(patch: RelayPatch, scope?: FlowScope): this {
    for (const part of [patch.both, patch.up, patch.down]) if (part) validateLink(part);
    const profile = this.#profile(scope);
    Object.assign(profile.up, patch.both, patch.up);
    Object.assign(profile.down, patch.both, patch.down);
    if (patch.blockUdp !== undefined) profile.blockUdp = patch.blockUdp;
    this.#kick();
    return this;
  }

  /** Back to no impairment (for every flow; with a scope, drops that scope's settings). */
  reset(scope?: FlowScope): this {
    if (scope) {
      const i = this.#scoped.findIndex((p) => p.key === scopeKey(scope));
      if (i >= 0) this.#scoped.splice(i, 1);
    } else {
      this.#scoped.length = 0;
      Object.assign(
        this.#default,
        newProfile('default', () => true),
      );
    }
    this.#kick();
    return this;
  }

  /** Cuts the link (both directions) for `ms`: UDP is dropped, TCP stalls. Resolves when it is back. */
  cut(ms: number, scope?: FlowScope): Promise<void> {
    const profile = this.#profile(scope);
    profile.cutUntil = Math.max(profile.cutUntil, performance.now() + ms);
    this.#kick();
    return new Promise((resolve) => setTimeout(resolve, ms).unref());
  }

  /**
   * A handover / NAT rebinding: each matching flow gets a new upstream socket on a new
   * port, so the gateway sees the client arrive from a new address; the browser notices
   * nothing. Resolves with the upstream ports before and after.
   */
  async handover(scope?: FlowScope): Promise<{ from: number; to: number }[]> {
    const flows = this.#flows().filter((f) => !scope || matcher(scope)(f.info));
    return Promise.all(
      flows.map(async (f) => {
        const from = f.info.upstreamPort;
        await f.handover();
        return { from, to: f.info.upstreamPort };
      }),
    );
  }

  /** The live flows, with their counters. */
  flows(): FlowStats[] {
    return this.#flows().map((f) => ({
      ...f.info,
      ufrags: [...f.info.ufrags],
      up: { ...f.up.stats },
      down: { ...f.down.stats },
    }));
  }

  /** Counters summed over the flows matching `scope` (all flows without one). */
  stats(scope?: FlowScope): { up: LinkStats; down: LinkStats } {
    const total = { up: emptyStats(), down: emptyStats() };
    for (const f of this.#flows()) {
      if (scope && !matcher(scope)(f.info)) continue;
      addStats(total.up, f.up.stats);
      addStats(total.down, f.down.stats);
    }
    return total;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweep);
    for (const f of this.#flows()) f.close();
    this.#udpFlows.clear();
    this.#tcpFlows.clear();
    await Promise.all([
      new Promise<void>((resolve) => this.#udp.close(() => resolve())),
      new Promise<void>((resolve) => this.#tcp.close(() => resolve())),
    ]);
  }

  // --- settings ---

  #profile(scope: FlowScope | undefined): Profile {
    if (!scope) return this.#default;
    const key = scopeKey(scope);
    let profile = this.#scoped.find((p) => p.key === key);
    if (!profile) {
      profile = newProfile(key, matcher(scope));
      this.#scoped.push(profile);
    }
    return profile;
  }

  #profileFor(info: FlowInfo): Profile {
    return this.#scoped.find((p) => p.matches(info)) ?? this.#default;
  }

  #settings(info: FlowInfo, dir: 'up' | 'down'): () => EffectiveLinkSettings {
    return () => {
      const p = this.#profileFor(info);
      return { ...p[dir], cutUntil: p.cutUntil, blocked: info.protocol === 'udp' && p.blockUdp };
    };
  }

  #kick(): void {
    for (const f of this.#flows()) {
      f.up.kick();
      f.down.kick();
    }
  }

  #flows(): Flow[] {
    return [...this.#udpFlows.values(), ...this.#tcpFlows];
  }

  // --- sockets ---

  async #listen(): Promise<void> {
    const { listenHost, listenPort } = this.#o;
    const udp = dgram.createSocket({ type: listenHost.includes(':') ? 'udp6' : 'udp4' });
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind({ address: listenHost, port: listenPort, exclusive: true }, () => {
        udp.off('error', reject);
        resolve();
      });
    });
    udp.on('error', (err) => console.error('relay udp socket error', err));
    udp.on('message', (msg, rinfo) => this.#fromUdpClient(msg, rinfo));
    this.#udp = udp;
    const tcp = net.createServer((socket) => {
      if (this.#closed) {
        socket.destroy();
        return;
      }
      this.#tcpFlows.add(tcpFlow(this.#flowContext, socket, (f) => this.#tcpFlows.delete(f)));
    });
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen({ host: listenHost, port: listenPort, exclusive: true }, () => {
          tcp.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      udp.close();
      throw err;
    }
    this.#tcp = tcp;
    this.#sweep = setInterval(() => this.#forgetIdleFlows(), 5000).unref();
  }

  #forgetIdleFlows(): void {
    const now = performance.now();
    for (const [key, f] of this.#udpFlows) {
      if (now - f.lastSeen > this.#o.flowIdleMs) {
        f.close();
        this.#udpFlows.delete(key);
      }
    }
  }

  #fromUdpClient(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.#closed) return;
    const key = `${rinfo.address}:${rinfo.port}`;
    let flow = this.#udpFlows.get(key);
    if (!flow) {
      flow = udpFlow(this.#flowContext, rinfo);
      this.#udpFlows.set(key, flow);
    }
    flow.lastSeen = performance.now();
    const ufrag = serverUfrag(msg);
    if (ufrag && !flow.info.ufrags.includes(ufrag)) flow.info.ufrags.push(ufrag);
    flow.up.push(msg);
  }
}

function scopeKey(scope: FlowScope): Profile['key'] {
  return typeof scope === 'function' ? scope : `ufrag:${scope.ufrag}`;
}

function matcher(scope: FlowScope): (flow: FlowInfo) => boolean {
  if (typeof scope === 'function') return scope;
  return (flow) => flow.ufrags.includes(scope.ufrag);
}
