/**
 * Media between nodes: a producer on this node's router for a consult is piped to another
 * node's router for the same consult over a pair of SRTP pipe transports (one pair per consult
 * and node pair), negotiated over the cluster bus. Each producer is piped once per remote node
 * and the pipe closes when the last consumer on the receiving node goes.
 *
 * Receiving side (`consume`): makes sure the link is up, asks the producer's node to consume
 * the producer into it, then produces it on this router under the same id, so local consumers
 * consume it as if it were local. Sending side: answers those requests and forwards the
 * producer's close, pause and resume.
 *
 * A piped producer nobody here consumes is held for `holdMs` before it is released: one piped
 * ahead of a join (`prepare`), and one whose last consumer here just went (the participant
 * rejoins, reloads, or the next one joins through this node). Either way the next consumer
 * finds it ready and the join does not wait for the pipe's negotiation.
 *
 * Of two nodes, the one with the smaller id always opens their link for a consult (the other
 * asks it to, `pipe.open`): two nodes that need each other's media at the same moment then
 * make one link, never two halves that do not meet.
 */
import type { types } from 'mediasoup';
import { z } from 'zod';
import { GatewayError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ClusterBus } from './ClusterBus.js';
import { createPipeTransport, type PipeListen } from './pipePorts.js';

/** Where this node holds a consult's media. */
export interface ConsultMedia {
  /** The consult's router the pipes to other nodes are on (it may have more, on other workers). */
  router: types.Router;
  /** What a producer here says about itself (peer, source), passed on to the piped copy. */
  appData(producerId: string): Record<string, unknown> | undefined;
  /**
   * Makes a producer of this node available on `router` (piped from the worker it was made
   * on) until the returned release; absent: every producer is on `router`.
   */
  hold?(producerId: string): Promise<() => void>;
  /** A producer piped here from another node now lives on `router`. */
  adopt?(producer: types.Producer): void;
}

export interface PipeBridgeOptions {
  bus: ClusterBus;
  listen: PipeListen;
  /** The consult's media on this node (undefined: the consult has none here). */
  media(consultId: string): ConsultMedia | undefined;
  logger: Logger;
  /** How long a remote node may take to answer one step. */
  timeoutMs?: number;
  /**
   * How long a link that pipes nothing any more stays open for the next producer (0: closes
   * at once). A later joiner's pipe then takes one round trip instead of three.
   */
  lingerMs?: number;
  /**
   * How long a producer piped here that nobody here consumes stays piped for the next
   * consumer: piped ahead of a join (`prepare`), or after its last consumer here went
   * (default 10 s; 0: released with its last consumer, and nothing is piped ahead).
   */
  holdMs?: number;
}

const id = z.string().min(1).max(200);
const srtpSchema = z.object({
  cryptoSuite: z.enum([
    'AEAD_AES_256_GCM',
    'AEAD_AES_128_GCM',
    'AES_CM_128_HMAC_SHA1_80',
    'AES_CM_128_HMAC_SHA1_32',
  ]),
  keyBase64: z.string().max(200),
});
const tupleSchema = z.object({
  ip: z.string().min(1).max(100),
  port: z.number().int().min(1).max(65535),
  srtp: srtpSchema,
});
const connectRequest = z.object({ consultId: id, linkId: id }).extend(tupleSchema.shape);
/** `stale`: the link the asking node was given last time and does not have (replace it). */
const openRequest = z.object({ consultId: id, stale: id.optional() });
const openAnswer = z.object({ linkId: id });
const producerRequest = z.object({ consultId: id, producerId: id });
/** `pipeId`: the pipe consumer it releases (a replay from an earlier pipe of the producer names another). */
const releaseRequest = producerRequest.extend({ pipeId: id.optional() });
/**
 * What the sending end says of a producer it pipes: `pipeId` its pipe consumer (a message from
 * an earlier pipe of the producer names another), `seq` counting that pipe's messages (a
 * replayed or late one is not newer than the last applied).
 */
const producerNews = producerRequest.extend({
  pipeId: id.optional(),
  seq: z.number().int().min(1).optional(),
});
/** `linkId`: only that link (a newer one between the same nodes stays). */
const closeRequest = z.object({ consultId: id, linkId: id.optional() });
const producedSchema = z.object({
  kind: z.enum(['audio', 'video']),
  // mediasoup checks the RTP parameters itself when the pipe producer is created.
  rtpParameters: z.looseObject({ codecs: z.array(z.unknown()), encodings: z.array(z.unknown()) }),
  paused: z.boolean(),
  appData: z.record(z.string(), z.unknown()),
  /** The sending end's pipe consumer, named again in `pipe.release`. */
  pipeId: id.optional(),
});

/** A producer piped here: its consumers (and a hold) count as users. */
interface PipedProducer {
  producer: types.Producer;
  users: number;
  /** The sending end's pipe consumer of it (absent from a node that does not say). */
  pipeId?: string;
  /** Set while it is held with no consumer here (piped early, or its last consumer went). */
  held?: NodeJS.Timeout;
  /** The last `seq` of the sending end's news applied to it. */
  seq?: number;
}

/** One end of the pipe between this node and another for one consult. */
interface Link {
  /** The same on both ends: the opening node's transport id. */
  id: string;
  consultId: string;
  node: string;
  /** This node's router of the consult the link's transport is on. */
  router: types.Router;
  transport: types.PipeTransport;
  /** Sending end: pipe consumers by producer id. */
  consumers: Map<string, types.Consumer>;
  /** Receiving end: pipe producers by id, with how many local consumers use each. */
  producers: Map<string, PipedProducer>;
  /** It carried a producer either way (a link opened for nothing closes at once). */
  used?: boolean;
  /** Set while an unused link waits to be closed (and from its making until it first carries something). */
  linger?: NodeJS.Timeout;
}

const linkKey = (consultId: string, node: string) => `${consultId}\n${node}`;
/** How a node answers a producer request on a link it does not have. */
const NO_LINK = 'no pipe to your node for this consult';
/** ClusterBus's request timeout, which the bridge's requests use unless told otherwise. */
const REQUEST_TIMEOUT_MS = 5000;
/** How long a piped producer with no consumer here is kept, unless told otherwise. */
const HOLD_MS = 10_000;

export class PipeBridge {
  readonly #links = new Map<string, Link>();
  /** Receiving end: links and pipe producers being set up, so concurrent consumers share them. */
  readonly #opening = new Map<string, Promise<Link>>();
  readonly #piping = new Map<string, Promise<types.Producer>>();
  readonly #opts: PipeBridgeOptions;
  readonly #log: Logger;

  constructor(opts: PipeBridgeOptions) {
    this.#opts = opts;
    this.#log = opts.logger.child({ component: 'pipe-bridge' });
    const { bus } = opts;
    bus.handle('pipe.open', openRequest, (req, from) => this.#answerOpen(req, from));
    bus.handle('pipe.connect', connectRequest, (req, from) => this.#answerConnect(req, from));
    bus.handle('pipe.produce', producerRequest, (req, from) => this.#answerProduce(req, from));
    bus.handle('pipe.release', releaseRequest, (req, from) => {
      const consumer = this.#links.get(linkKey(req.consultId, from))?.consumers.get(req.producerId);
      if (req.pipeId === undefined || consumer?.id === req.pipeId) consumer?.close();
    });
    bus.handle('pipe.close', closeRequest, (req, from) =>
      this.#closeLink(req.consultId, from, req.linkId),
    );
    bus.handle('pipe.producerClosed', producerNews, (req, from) => {
      this.#newsFor(req, from)?.producer.close();
    });
    bus.handle('pipe.producerPaused', producerNews, async (req, from) => {
      await this.#newsFor(req, from)?.producer.pause();
    });
    bus.handle('pipe.producerResumed', producerNews, async (req, from) => {
      await this.#newsFor(req, from)?.producer.resume();
    });
  }

  /**
   * Consumes producer `producerId` of `node` on this node's router for the consult: pipes it
   * here if it is not yet, then calls `create` with the local pipe producer (create the
   * consumer on a local transport there). The pipe is released when the last consumer made
   * this way closes.
   */
  async consume<C extends types.Consumer>(
    consultId: string,
    node: string,
    producerId: string,
    create: (producer: types.Producer) => Promise<C>,
  ): Promise<C> {
    if (node === this.#opts.bus.nodeId) {
      throw new GatewayError('bad_request', 'that producer is on this node: consume it directly');
    }
    const producer = await this.#pipe(consultId, node, producerId);
    const link = this.#links.get(linkKey(consultId, node));
    const entry = link?.producers.get(producerId);
    if (!link || !entry || entry.producer !== producer || producer.closed) {
      throw new GatewayError('conflict', 'the pipe closed meanwhile; ask again');
    }
    entry.users++;
    let consumer: C;
    try {
      consumer = await create(producer);
    } catch (err) {
      this.#unuse(link, producerId, entry);
      throw err;
    }
    consumer.observer.once('close', () => this.#unuse(link, producerId, entry));
    if (entry.held) {
      // A held pipe found its consumer: from now on it lives as long as its consumers.
      clearTimeout(entry.held);
      entry.held = undefined;
      this.#unuse(link, producerId, entry);
    }
    return consumer;
  }

  /**
   * Pipes producers of `node` here before anyone asks (a join answer just listed them: its
   * client consumes them next, after setting up its transports), so the pipe negotiation
   * overlaps that set-up. Each is held for `holdMs`, then kept only if someone consumes it.
   */
  prepare(consultId: string, node: string, producerIds: string[]): void {
    if (node === this.#opts.bus.nodeId || this.#holdMs <= 0) return;
    for (const producerId of producerIds) {
      this.#pipe(consultId, node, producerId).then(
        (producer) => {
          const link = this.#links.get(linkKey(consultId, node));
          const entry = link?.producers.get(producerId);
          if (!link || !entry || entry.producer !== producer || producer.closed) return;
          if (entry.users === 0) this.#hold(link, producerId, entry);
        },
        (err: Error) =>
          this.#log.debug({ consultId, node, producerId, err: err.message }, 'no early pipe'),
      );
    }
  }

  /**
   * The producers piped here for the consult onto `router`: a room made again on its warm
   * router (everyone here left, someone joins again) takes back those still held.
   */
  pipedInto(consultId: string, router: types.Router): types.Producer[] {
    return [...this.#links.values()]
      .filter((l) => l.consultId === consultId && l.router === router)
      .flatMap((l) => [...l.producers.values()].map((p) => p.producer))
      .filter((p) => !p.closed);
  }

  /**
   * The node producer `producerId` of the consult is piped here from, and whose it is (its
   * peer), while it is piped: a consume of it needs no directory read.
   */
  pipedFrom(consultId: string, producerId: string): { node: string; peerId?: string } | undefined {
    for (const link of this.#links.values()) {
      const entry = link.consultId === consultId ? link.producers.get(producerId) : undefined;
      if (!entry || entry.producer.closed) continue;
      const { peerId } = entry.producer.appData as { peerId?: unknown };
      return { node: link.node, ...(typeof peerId === 'string' ? { peerId } : {}) };
    }
    return undefined;
  }

  /** What is piped now, for tests and /metrics. */
  stats() {
    let outgoing = 0;
    let incoming = 0;
    let srtp = 0;
    for (const link of this.#links.values()) {
      outgoing += link.consumers.size;
      incoming += link.producers.size;
      if (link.transport.srtpParameters) srtp++;
    }
    return { links: this.#links.size, srtpLinks: srtp, outgoing, incoming };
  }

  /** Local UDP ports of the open pipes (they come from PIPE_PORT_MIN..MAX). */
  ports(): number[] {
    return [...this.#links.values()].map((l) => l.transport.tuple.localPort);
  }

  /** Closes every link with `node` (it died or left): its pipe producers here close with them. */
  dropNode(node: string): void {
    for (const link of [...this.#links.values()]) {
      if (link.node === node) this.#closeLink(link.consultId, node);
    }
  }

  /** Closes every link (this node stops). */
  close(): void {
    for (const link of [...this.#links.values()]) link.transport.close();
    this.#links.clear();
  }

  get #holdMs(): number {
    return this.#opts.holdMs ?? HOLD_MS;
  }

  /** Keeps a piped producer nobody here consumes for `holdMs`, then releases it unless consumed. */
  #hold(link: Link, producerId: string, entry: PipedProducer): void {
    entry.users++;
    entry.held = setTimeout(() => {
      entry.held = undefined;
      this.#unuse(link, producerId, entry, false);
    }, this.#holdMs);
    entry.held.unref();
  }

  /**
   * One user of a piped producer is gone; with none left it is held (`hold`: the last consumer
   * went) or released on both ends.
   */
  #unuse(link: Link, producerId: string, entry: PipedProducer, hold = true): void {
    entry.users--;
    if (entry.users > 0 || link.producers.get(producerId) !== entry) return;
    if (hold && this.#holdMs > 0 && !entry.producer.closed && !link.transport.closed) {
      this.#hold(link, producerId, entry);
      return;
    }
    this.#log.debug({ consultId: link.consultId, node: link.node, producerId }, 'pipe released');
    const { pipeId } = entry;
    void this.#opts.bus
      .notify(link.node, 'pipe.release', { consultId: link.consultId, producerId, pipeId })
      .catch(() => undefined);
    entry.producer.close();
  }

  /**
   * A link that pipes nothing any more, either way, is closed on both ends (after the linger).
   * This end sees both directions: its pipe producers, and its pipe consumers (the other
   * end's producers).
   */
  #closeIfUnused(link: Link, piping?: string): void {
    const key = linkKey(link.consultId, link.node);
    if (!unused(link) || this.#links.get(key) !== link) return;
    if (this.#pipingOn(key, piping)) return;
    const lingerMs = this.#opts.lingerMs ?? 0;
    if (lingerMs > 0 && link.used && !link.transport.closed) {
      if (link.linger) return;
      link.linger = setTimeout(() => {
        link.linger = undefined;
        if (unused(link) && !this.#pipingOn(key)) this.#closeUnused(link);
      }, lingerMs);
      link.linger.unref();
      return;
    }
    this.#closeUnused(link);
  }

  /** Whether a producer (other than `except`) is being piped over the link `key`. */
  #pipingOn(key: string, except?: string): boolean {
    return [...this.#piping.keys()].some((k) => k !== except && k.startsWith(`${key}\n`));
  }

  #closeUnused(link: Link): void {
    const key = linkKey(link.consultId, link.node);
    if (this.#links.get(key) !== link) return;
    this.#links.delete(key);
    link.transport.close();
    void this.#opts.bus
      .notify(link.node, 'pipe.close', { consultId: link.consultId, linkId: link.id })
      .catch(() => undefined);
  }

  #closeLink(consultId: string, node: string, linkId?: string): void {
    const key = linkKey(consultId, node);
    const link = this.#links.get(key);
    if (!link || (linkId !== undefined && link.id !== linkId)) return;
    this.#links.delete(key);
    link.transport.close();
  }

  #localMedia(consultId: string): ConsultMedia {
    const media = this.#opts.media(consultId);
    if (!media || media.router.closed) {
      throw new GatewayError('not_found', `consult ${consultId} has no media on this node`);
    }
    return media;
  }

  /** Receiving end: the pipe producer for `producerId`, piped now if it is not yet. */
  #pipe(consultId: string, node: string, producerId: string): Promise<types.Producer> {
    const existing = this.#links.get(linkKey(consultId, node))?.producers.get(producerId);
    if (existing && !existing.producer.closed) return Promise.resolve(existing.producer);
    const key = `${linkKey(consultId, node)}\n${producerId}`;
    let piping = this.#piping.get(key);
    if (!piping) {
      piping = (async () => {
        const opened = await this.#open(consultId, node);
        const { link, answer } = await this.#askProduce(opened, producerId, key).catch(
          async (err) => {
            // A lingering link whose other half is gone (that node restarted, or its router
            // closed): it is replaced once.
            if (!(err instanceof GatewayError && err.message.includes(NO_LINK))) throw err;
            this.#closeLink(consultId, node);
            return this.#askProduce(await this.#open(consultId, node), producerId, key);
          },
        );
        const producer = await link.transport.produce({
          id: producerId,
          kind: answer.kind,
          rtpParameters: answer.rtpParameters as unknown as types.RtpParameters,
          paused: answer.paused,
          appData: { ...answer.appData, pipedFrom: node },
        });
        link.producers.set(producerId, { producer, users: 0, pipeId: answer.pipeId });
        this.#opts.media(consultId)?.adopt?.(producer);
        link.used = true;
        clearTimeout(link.linger);
        link.linger = undefined;
        producer.observer.once('close', () => {
          const entry = link.producers.get(producerId);
          if (entry?.producer !== producer) return;
          clearTimeout(entry.held);
          link.producers.delete(producerId);
          this.#closeIfUnused(link);
        });
        return producer;
      })().finally(() => this.#piping.delete(key));
      this.#piping.set(key, piping);
    }
    return piping;
  }

  /** Receiving end: asks the other end of `link` to consume the producer into it. */
  async #askProduce(link: Link, producerId: string, key: string) {
    const { consultId, node } = link;
    let answer: z.infer<typeof producedSchema>;
    try {
      answer = await this.#opts.bus.request(
        node,
        'pipe.produce',
        { consultId, producerId },
        producedSchema,
        this.#opts.timeoutMs,
      );
    } catch (err) {
      // A link opened for nothing (say, an unknown producer) does not stay open.
      this.#closeIfUnused(link, key);
      throw err;
    }
    if (this.#links.get(linkKey(consultId, node)) !== link) {
      throw new GatewayError('conflict', 'the pipe closed meanwhile; ask again');
    }
    return { link, answer };
  }

  /**
   * This node's end of the link to `node` for the consult, connected both ways: opened here
   * if this node's id is the smaller, else opened by `node` when asked.
   */
  #open(consultId: string, node: string): Promise<Link> {
    const key = linkKey(consultId, node);
    const existing = this.#links.get(key);
    if (existing && !existing.transport.closed) return Promise.resolve(existing);
    let opening = this.#opening.get(key);
    if (!opening) {
      opening = (
        this.#opensTo(node) ? this.#connect(consultId, node) : this.#askOpen(consultId, node)
      ).finally(() => this.#opening.delete(key));
      this.#opening.set(key, opening);
    }
    return opening;
  }

  /** Of this node and `node`, this one opens their links. */
  #opensTo(node: string): boolean {
    return this.#opts.bus.nodeId < node;
  }

  /** Opening end: a new transport, connected to one `node` makes for it. */
  async #connect(consultId: string, node: string): Promise<Link> {
    const { router } = this.#localMedia(consultId);
    const transport = await createPipeTransport(router, this.#opts.listen, { consultId, node });
    try {
      const remote = await this.#opts.bus.request(
        node,
        'pipe.connect',
        { consultId, linkId: transport.id, ...this.#tupleOf(transport) },
        tupleSchema,
        this.#opts.timeoutMs,
      );
      await transport.connect({ ip: remote.ip, port: remote.port, srtpParameters: remote.srtp });
    } catch (err) {
      transport.close();
      throw err;
    }
    this.#log.debug({ consultId, node, linkId: transport.id }, 'pipe link opened');
    return this.#addLink(transport.id, consultId, node, router, transport);
  }

  /**
   * Other end: asks `node` to open the link (its `pipe.connect` arrives meanwhile). A link it
   * names that this node does not have (this node restarted, or closed its end) is replaced.
   */
  async #askOpen(consultId: string, node: string): Promise<Link> {
    const key = linkKey(consultId, node);
    let stale: string | undefined;
    for (let attempt = 0; attempt < 2; attempt++) {
      const { linkId } = await this.#opts.bus.request(
        node,
        'pipe.open',
        { consultId, ...(stale ? { stale } : {}) },
        openAnswer,
        this.#opts.timeoutMs,
      );
      const link = this.#links.get(key);
      if (link && !link.transport.closed && link.id === linkId) return link;
      stale = linkId;
    }
    throw new GatewayError('conflict', 'the pipe closed meanwhile; ask again');
  }

  /** Opening end: the link the other node asked for, opened now unless it has it already. */
  async #answerOpen(req: z.infer<typeof openRequest>, from: string) {
    if (!this.#opensTo(from)) {
      throw new GatewayError('bad_request', `node ${from} opens the pipe between us, not this one`);
    }
    const key = linkKey(req.consultId, from);
    await this.#opening.get(key)?.catch(() => undefined);
    const existing = this.#links.get(key);
    if (existing && !existing.transport.closed && existing.id !== req.stale) {
      return { linkId: existing.id };
    }
    if (existing) this.#closeLink(req.consultId, from);
    return { linkId: (await this.#open(req.consultId, from)).id };
  }

  #addLink(
    id: string,
    consultId: string,
    node: string,
    router: types.Router,
    transport: types.PipeTransport,
  ): Link {
    const key = linkKey(consultId, node);
    this.#links.get(key)?.transport.close();
    const link: Link = {
      id,
      consultId,
      node,
      router,
      transport,
      consumers: new Map(),
      producers: new Map(),
    };
    this.#links.set(key, link);
    transport.observer.once('close', () => {
      clearTimeout(link.linger);
      if (this.#links.get(key) === link) this.#links.delete(key);
    });
    // A link is made for a producer, asked for within one request: one that has carried
    // nothing by the linger after that (its other end vanished, or never meant it) closes.
    link.linger = setTimeout(
      () => {
        link.linger = undefined;
        if (unused(link) && !this.#pipingOn(key)) this.#closeUnused(link);
      },
      (this.#opts.lingerMs ?? 0) + (this.#opts.timeoutMs ?? REQUEST_TIMEOUT_MS),
    );
    link.linger.unref();
    // The router closing (the consult ended here) closes the transport and so the link.
    return link;
  }

  #tupleOf(transport: types.PipeTransport) {
    const { localIp, localPort } = transport.tuple;
    const listen = this.#opts.listen;
    return {
      ip: listen.announcedIp ?? localIp,
      port: localPort,
      srtp: transport.srtpParameters!,
    };
  }

  /** Other end: makes this node's half of the link the opening node asked for. */
  async #answerConnect(req: z.infer<typeof connectRequest>, from: string) {
    if (this.#opensTo(from)) {
      throw new GatewayError('bad_request', `this node opens the pipe between us, not ${from}`);
    }
    const { router } = this.#localMedia(req.consultId);
    const transport = await createPipeTransport(router, this.#opts.listen, {
      consultId: req.consultId,
      node: from,
    });
    try {
      await transport.connect({ ip: req.ip, port: req.port, srtpParameters: req.srtp });
    } catch (err) {
      transport.close();
      throw err;
    }
    // The opening node opens a link only when it has none: any older one of ours is stale.
    this.#addLink(req.linkId, req.consultId, from, router, transport);
    return this.#tupleOf(transport);
  }

  /**
   * The piped producer news from `from` is about, unless it is stale: from an earlier pipe of
   * the producer (another `pipeId`) or not newer than the last applied (`seq`), as a replayed
   * or late message is. A node that names neither is taken at its word.
   */
  #newsFor(req: z.infer<typeof producerNews>, from: string): PipedProducer | undefined {
    const piped = this.#links.get(linkKey(req.consultId, from))?.producers.get(req.producerId);
    if (!piped) return undefined;
    if (req.pipeId !== undefined && piped.pipeId !== undefined && req.pipeId !== piped.pipeId) {
      return undefined;
    }
    if (req.seq !== undefined) {
      if (req.seq <= (piped.seq ?? 0)) return undefined;
      piped.seq = req.seq;
    }
    return piped;
  }

  /** Sending end: consumes the producer into the link and says how to produce it there. */
  async #answerProduce(req: z.infer<typeof producerRequest>, from: string) {
    const { consultId, producerId } = req;
    const key = linkKey(consultId, from);
    // The other end has its half as soon as it answered our `pipe.connect`, and may ask
    // before this end has connected its own: wait for it rather than say there is none.
    if (!this.#links.has(key)) await this.#opening.get(key)?.catch(() => undefined);
    const link = this.#links.get(key);
    if (!link) throw new GatewayError('conflict', `${NO_LINK}; connect first`);
    const media = this.#localMedia(consultId);
    let consumer = link.consumers.get(producerId);
    if (!consumer || consumer.closed) {
      // A producer made on another worker of this node is piped to the link's router first.
      const release = (await media.hold?.(producerId)) ?? (() => undefined);
      // The router finds the producer among its own: another consult's id is not found.
      consumer = await link.transport.consume({ producerId }).catch((err: Error) => {
        release();
        // The link replaced or closed meanwhile: the other node asks again on the new one.
        if (link.transport.closed || this.#links.get(linkKey(consultId, from)) !== link) {
          throw new GatewayError('conflict', 'the pipe closed meanwhile; ask again');
        }
        throw /not found/i.test(err.message) && !media.appData(producerId)
          ? new GatewayError(
              'not_found',
              `no producer ${producerId} of consult ${consultId} on this node`,
            )
          : err;
      });
      const made = consumer;
      link.consumers.set(producerId, made);
      link.used = true;
      clearTimeout(link.linger);
      link.linger = undefined;
      made.observer.once('close', () => {
        release();
        if (link.consumers.get(producerId) !== made) return;
        link.consumers.delete(producerId);
        this.#closeIfUnused(link);
      });
      let seq = 0;
      const tell = (type: string) =>
        void this.#opts.bus
          .notify(from, type, { consultId, producerId, pipeId: made.id, seq: ++seq })
          .catch(() => undefined);
      made.on('producerclose', () => tell('pipe.producerClosed'));
      made.on('producerpause', () => tell('pipe.producerPaused'));
      made.on('producerresume', () => tell('pipe.producerResumed'));
    }
    return {
      kind: consumer.kind,
      rtpParameters: consumer.rtpParameters,
      paused: consumer.producerPaused,
      appData: media.appData(producerId) ?? {},
      pipeId: consumer.id,
    };
  }
}

/** A link that pipes nothing either way. */
const unused = (link: Link) => link.producers.size === 0 && link.consumers.size === 0;
