/**
 * Probe transports for the pre-call network check: a WebRTC transport with a data channel on
 * the same WebRtcServer (same ICE candidates, UDP and TCP) that consults use, so the browser
 * measures the round trip to the media port, whether it got through over UDP or only TCP, and
 * how fast it can send (bytes counted here, from the DataProducer's stats). Each probe closes
 * after a bounded time whatever the client does; owners get one open probe and a few a minute.
 * Only transports are closed here, never a WebRtcServer (closing one with open transports
 * aborts the worker).
 */
import { randomUUID } from 'node:crypto';
import type { types } from 'mediasoup';
import { GatewayError } from '../errors.js';
import type { MediaProbeOffer, MediaProbeResult } from '../protocol/rest.js';
import { mediaCodecs } from './codecs.js';
import type { WorkerPool } from './WorkerPool.js';
import { toClient } from './wire.js';

/** Probes one owner may start per minute. */
export const PROBES_PER_MINUTE = 6;
/** Probes open at once on this node, all owners together. */
export const PROBES_OPEN_MAX = 20;
/** A probe that receives more than this is closed (the client's burst sends at most 4 MB). */
export const PROBE_MAX_BYTES = 6_000_000;
/** How often the DataProducer's byte count is read while a probe is open. */
const SAMPLE_MS = 100;

interface Probe {
  readonly id: string;
  readonly owner: string;
  readonly transport: types.WebRtcTransport;
  dataProducer?: types.DataProducer;
  /** The last time no byte had come yet, and the first time the latest count was seen. */
  idleAt: number;
  lastAt: number;
  bytes: number;
  sampler?: ReturnType<typeof setInterval>;
}

export interface MediaProbesOptions {
  /** A probe is closed this long after its creation. */
  ttlMs: number;
  now?: () => number;
}

export class MediaProbes {
  readonly #probes = new Map<string, Probe>();
  /** Owners whose probe is being created (reserved before the first await). */
  readonly #creating = new Set<string>();
  readonly #starts = new Map<string, number[]>();
  readonly #routers = new WeakMap<types.Worker, Promise<types.Router>>();
  readonly #openRouters = new Set<types.Router>();
  readonly #now: () => number;
  #closed = false;

  constructor(
    private readonly pool: WorkerPool,
    private readonly opts: MediaProbesOptions,
  ) {
    this.#now = opts.now ?? Date.now;
  }

  /** Probes open now (for tests and monitoring). */
  get open(): number {
    return this.#probes.size;
  }

  /**
   * Opens a probe transport for `owner`, closing their earlier one ("check again"); refuses
   * past the per-minute and the node-wide limits.
   */
  async create(owner: string): Promise<MediaProbeOffer> {
    if (this.#closed) throw new GatewayError('unavailable', 'the gateway is shutting down');
    if (this.#creating.has(owner))
      throw new GatewayError('conflict', 'a network check is already starting; wait for it');
    this.#takeStart(owner);
    for (const p of this.#probes.values()) if (p.owner === owner) p.transport.close();
    if (this.#probes.size + this.#creating.size >= PROBES_OPEN_MAX)
      throw new GatewayError('unavailable', 'the media server is busy; check again in a minute');
    this.#creating.add(owner);
    try {
      const slot = this.pool.leastLoaded();
      const router = await this.#router(slot.worker);
      const transport = await router.createWebRtcTransport({
        webRtcServer: slot.webRtcServer,
        enableUdp: true,
        enableTcp: true,
        preferUdp: true,
        enableSctp: true,
        appData: { probe: true },
      });
      if (this.#closed) {
        transport.close();
        throw new GatewayError('unavailable', 'the gateway is shutting down');
      }
      const probe: Probe = { id: randomUUID(), owner, transport, idleAt: 0, lastAt: 0, bytes: 0 };
      this.#probes.set(probe.id, probe);
      const expiry = setTimeout(() => transport.close(), this.opts.ttlMs);
      expiry.unref();
      transport.observer.once('close', () => {
        clearTimeout(expiry);
        if (probe.sampler) clearInterval(probe.sampler);
        this.#probes.delete(probe.id);
      });
      const ports = this.pool.slots.map((s) => s.port);
      return {
        probeId: probe.id,
        routerRtpCapabilities: toClient.rtpCapabilities(router.rtpCapabilities),
        transport: {
          id: transport.id,
          iceParameters: toClient.iceParameters(transport.iceParameters),
          iceCandidates: toClient.iceCandidates(transport.iceCandidates),
          dtlsParameters: toClient.dtlsParameters(transport.dtlsParameters),
          sctpParameters: toClient.sctpParameters(transport.sctpParameters!),
        },
        ports: { first: Math.min(...ports), last: Math.max(...ports) },
        expiresInMs: this.opts.ttlMs,
      };
    } finally {
      this.#creating.delete(owner);
    }
  }

  /** Completes the probe's DTLS handshake with the browser's parameters. */
  async connect(owner: string, id: string, dtlsParameters: types.DtlsParameters): Promise<void> {
    await this.#get(owner, id).transport.connect({ dtlsParameters });
  }

  /** Accepts the browser's data channel (one per probe) and starts counting what it sends. */
  async produceData(
    owner: string,
    id: string,
    sctpStreamParameters: types.SctpStreamParameters,
  ): Promise<{ dataProducerId: string }> {
    const probe = this.#get(owner, id);
    if (probe.dataProducer)
      throw new GatewayError('conflict', 'this network check already has its data channel');
    const dp = await probe.transport.produceData({ sctpStreamParameters, label: 'netcheck' });
    probe.dataProducer = dp;
    probe.idleAt = probe.lastAt = this.#now();
    probe.sampler = setInterval(() => void this.#sample(probe), SAMPLE_MS);
    probe.sampler.unref();
    return { dataProducerId: dp.id };
  }

  /** What arrived and over which path; the probe is closed with this answer. */
  async result(owner: string, id: string): Promise<MediaProbeResult> {
    const probe = this.#get(owner, id);
    try {
      await this.#sample(probe);
      const tuple = probe.transport.iceSelectedTuple;
      const ms = probe.lastAt - probe.idleAt;
      return {
        path: tuple ? tuple.protocol : null,
        bytes: probe.bytes,
        upKbps: probe.bytes > 0 && ms > 0 ? Math.round((probe.bytes * 8) / ms) : null,
      };
    } finally {
      probe.transport.close();
    }
  }

  /** Closes every probe transport and the probe routers (before the workers close). */
  close(): void {
    this.#closed = true;
    for (const p of this.#probes.values()) p.transport.close();
    for (const r of this.#openRouters) r.close();
  }

  /** Reads the byte count: the window runs from the last idle reading to the first final one. */
  async #sample(probe: Probe): Promise<void> {
    const dp = probe.dataProducer;
    if (!dp || dp.closed) return;
    let bytes: number;
    try {
      const [stats] = await dp.getStats();
      bytes = stats?.bytesReceived ?? 0;
    } catch {
      return;
    }
    const now = this.#now();
    if (bytes === 0) probe.idleAt = now;
    else if (bytes > probe.bytes) {
      probe.bytes = bytes;
      probe.lastAt = now;
    }
    if (bytes > PROBE_MAX_BYTES) probe.transport.close();
  }

  #get(owner: string, id: string): Probe {
    const probe = this.#probes.get(id);
    // Someone else's probe is as unknown as a closed one.
    if (!probe || probe.owner !== owner || probe.transport.closed)
      throw new GatewayError('not_found', 'this network check has ended; check again');
    return probe;
  }

  #takeStart(owner: string): void {
    const now = this.#now();
    if (this.#starts.size > 10_000) {
      for (const [k, v] of this.#starts)
        if (v.every((t) => now - t >= 60_000)) this.#starts.delete(k);
    }
    const recent = (this.#starts.get(owner) ?? []).filter((t) => now - t < 60_000);
    if (recent.length >= PROBES_PER_MINUTE) {
      const wait = Math.ceil((recent[0]! + 60_000 - now) / 1000);
      throw new GatewayError(
        'too_many_requests',
        `too many network checks; wait ${wait} s and check again`,
      );
    }
    recent.push(now);
    this.#starts.set(owner, recent);
  }

  /** One probe router per worker, made on first use (a replaced worker gets a new one). */
  #router(worker: types.Worker): Promise<types.Router> {
    let router = this.#routers.get(worker);
    if (!router) {
      router = worker.createRouter({ mediaCodecs, appData: { probe: true } }).then((r) => {
        this.#openRouters.add(r);
        r.observer.once('close', () => this.#openRouters.delete(r));
        return r;
      });
      router.catch(() => this.#routers.delete(worker));
      this.#routers.set(worker, router);
    }
    return router;
  }
}
