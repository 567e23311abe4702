/**
 * One participant's media in a consult: its WebRTC transports, producers and consumers.
 * close() closes all of them; the Room is told through events, never called directly.
 */
import { randomUUID } from 'node:crypto';
import type { types } from 'mediasoup';
import { GatewayError } from '../errors.js';
import type {
  LeaveReason,
  MediaKind,
  MediaSource,
  ProducerAppData,
  Role,
} from '../protocol/vocabulary.js';
import type { Precheck } from '../protocol/requests.js';
import { TypedEmitter } from '../util/TypedEmitter.js';
import { BandwidthAdapter } from './BandwidthAdapter.js';
import { chaseFirstKeyFrame, DEFAULT_FIRST_KEY_FRAME } from './firstKeyFrame.js';

export type Direction = 'send' | 'recv';
export type { ProducerAppData };
/** Consumers carry their producer's appData. */
export type ConsumerAppData = ProducerAppData;

export interface PeerIdentity {
  userId: string;
  /** The name the gateway vouches for (account, or the invite's guest name): the record's name. */
  displayName: string;
  /** The name they chose to show on their tile, when it differs from displayName. */
  alias?: string;
  role: Role;
  /** What the client told us about itself, for the consult record. */
  client?: { userAgent?: string; networkType?: string; precheck?: Precheck };
  /** The node this seat moved from (failover): the others know the seat, it is not a new join. */
  movedFrom?: string;
  /** Why it moved: its client lost that node ('failover'), or that node drained ('drain'). */
  movedBy?: 'failover' | 'drain';
}

/** Where a peer's media goes in its consult (the Room answers; a peer never calls the Room). */
export interface PeerPlacement {
  /** The router (and its worker's WebRtcServer) for the peer's transports, chosen at its first. */
  place(): Promise<{ router: types.Router; webRtcServer: types.WebRtcServer }>;
  /** Consumes `producerId` on `router`, piped there first when it lives on another router. */
  consume<C extends types.Consumer>(
    router: types.Router,
    producerId: string,
    create: () => Promise<C>,
  ): Promise<C>;
}

export interface TransportLimits {
  maxIncomingBitrate: number;
  initialOutgoingBitrate: number;
  /** Where a new simulcast video consumer starts (FIRST_FRAME_LAYER; default preferred). */
  firstFrameLayer?: 'lowest' | 'preferred';
}

type PeerEvents = {
  /** A producer of this peer was created. */
  producerAdded: [producer: types.Producer<ProducerAppData>];
  producerClosed: [producerId: string];
  /**
   * The network path of this peer's send transport changed (address change, ICE restart):
   * whoever consumes its video needs a keyframe to recover without waiting for a PLI.
   */
  sendPathChanged: [];
  producerPaused: [producerId: string];
  producerResumed: [producerId: string];
  /** mediasoup closed one of this peer's consumers (its producer went away). */
  consumerClosed: [consumerId: string];
  close: [reason: LeaveReason];
};

export class Peer extends TypedEmitter<PeerEvents> {
  readonly id: string;
  readonly joinedAt = Date.now();
  readonly transports = new Map<
    string,
    { transport: types.WebRtcTransport; direction: Direction }
  >();
  readonly producers = new Map<string, types.Producer<ProducerAppData>>();
  readonly consumers = new Map<string, types.Consumer<ConsumerAppData>>();
  /** Fits this peer's incoming video to its downlink; signalling relays its events to the client. */
  readonly bandwidth = new BandwidthAdapter();
  /** What the others were last told of this peer's link (`peerConnection`); joiners get it too. */
  connection: 'connected' | 'reconnecting' = 'connected';
  #closed = false;
  /** Reservations taken before the first await, so concurrent requests cannot exceed the limits. */
  readonly #creatingTransports = new Set<Direction>();
  readonly #producingSources = new Set<MediaSource>();
  readonly #consuming = new Map<string, Promise<types.Consumer<ConsumerAppData>>>();
  #placing?: Promise<{ router: types.Router; webRtcServer: types.WebRtcServer }>;
  #router?: types.Router;

  constructor(
    readonly identity: PeerIdentity,
    private readonly placement: PeerPlacement,
    private readonly limits: TransportLimits,
    id: string = randomUUID(),
  ) {
    super();
    this.id = id;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The router this peer's transports are on (undefined before its first transport). */
  get router(): types.Router | undefined {
    return this.#router;
  }

  /**
   * The router (and WebRtcServer) for this peer's transports: placed at the first call, a
   * failed placement tried again at the next.
   */
  async place(): Promise<{ router: types.Router; webRtcServer: types.WebRtcServer }> {
    this.#placing ??= this.placement.place();
    try {
      const placed = await this.#placing;
      this.#router = placed.router;
      return placed;
    } catch (err) {
      this.#placing = undefined;
      throw err;
    }
  }

  /**
   * Creates this peer's send or receive transport; once created it replaces an earlier one of
   * that direction. One creation per direction at a time: a concurrent one is a `conflict`.
   */
  async createTransport(direction: Direction): Promise<types.WebRtcTransport> {
    this.#assertOpen();
    if (this.#creatingTransports.has(direction)) {
      throw new GatewayError(
        'conflict',
        `a ${direction} transport is already being created; wait for its answer`,
      );
    }
    this.#creatingTransports.add(direction);
    try {
      return await this.#createTransport(direction);
    } finally {
      this.#creatingTransports.delete(direction);
    }
  }

  async #createTransport(direction: Direction): Promise<types.WebRtcTransport> {
    const { router, webRtcServer } = await this.place();
    const transport = await router.createWebRtcTransport({
      webRtcServer,
      enableUdp: true,
      enableTcp: true,
      preferUdp: true,
      initialAvailableOutgoingBitrate: this.limits.initialOutgoingBitrate,
      appData: { peerId: this.id, direction },
    });
    try {
      if (direction === 'send') {
        await transport.setMaxIncomingBitrate(this.limits.maxIncomingBitrate);
      }
    } catch (err) {
      transport.close();
      throw err;
    }
    if (this.#closed) {
      transport.close();
      throw new GatewayError('not_joined', 'the peer left while its transport was being created');
    }
    for (const [id, t] of this.transports) {
      if (t.direction === direction) {
        t.transport.close();
        this.transports.delete(id);
      }
    }
    this.transports.set(transport.id, { transport, direction });
    transport.on('routerclose', () => this.transports.delete(transport.id));
    // After an outage, packets lost on the old path can never be retransmitted: ask for a
    // keyframe at once instead of letting the browser NACK for seconds before it sends a PLI.
    transport.on('iceselectedtuplechange', () => {
      if (direction === 'send') {
        this.safeEmit('sendPathChanged');
        return;
      }
      for (const consumer of this.consumers.values()) {
        if (consumer.kind === 'video' && !consumer.closed)
          consumer.requestKeyFrame().catch(() => undefined);
      }
    });
    return transport;
  }

  transport(id: string, direction?: Direction): types.WebRtcTransport {
    const entry = this.transports.get(id);
    if (!entry || entry.transport.closed) {
      throw new GatewayError('not_found', `no transport ${id} for this peer`);
    }
    if (direction && entry.direction !== direction) {
      throw new GatewayError('bad_request', `transport ${id} is a ${entry.direction} transport`);
    }
    return entry.transport;
  }

  /** The peer's receive transport, needed before consuming. */
  recvTransport(): types.WebRtcTransport {
    for (const { transport, direction } of this.transports.values()) {
      if (direction === 'recv' && !transport.closed) return transport;
    }
    throw new GatewayError('bad_request', 'create a recv transport before consuming');
  }

  /** Produces one source; the source is reserved before any await, so at most one per source. */
  async produce(
    transportId: string,
    kind: MediaKind,
    rtpParameters: types.RtpParameters,
    source: MediaSource,
  ): Promise<types.Producer<ProducerAppData>> {
    this.#assertOpen();
    const expectedKind: MediaKind = source === 'mic' ? 'audio' : 'video';
    if (kind !== expectedKind) {
      throw new GatewayError(
        'bad_request',
        `source '${source}' must be ${expectedKind}, not ${kind}`,
      );
    }
    const busy =
      this.#producingSources.has(source) ||
      [...this.producers.values()].some((p) => p.appData.source === source);
    if (busy) {
      throw new GatewayError(
        'conflict',
        `already producing '${source}'; close that producer first`,
      );
    }
    const transport = this.transport(transportId, 'send');
    this.#producingSources.add(source);
    let producer: types.Producer<ProducerAppData>;
    try {
      producer = await transport.produce<ProducerAppData>({
        kind,
        rtpParameters,
        appData: { source, peerId: this.id },
      });
    } finally {
      this.#producingSources.delete(source);
    }
    if (this.#closed) {
      producer.close();
      throw new GatewayError('not_joined', 'the peer left while producing');
    }
    this.producers.set(producer.id, producer);
    producer.on('transportclose', () => {
      if (this.producers.delete(producer.id)) this.safeEmit('producerClosed', producer.id);
    });
    this.safeEmit('producerAdded', producer);
    return producer;
  }

  producer(id: string): types.Producer<ProducerAppData> {
    const producer = this.producers.get(id);
    if (!producer) throw new GatewayError('not_found', `no producer ${id} of this peer`);
    return producer;
  }

  async pauseProducer(id: string): Promise<void> {
    const producer = this.producer(id);
    if (producer.paused) return;
    await producer.pause();
    this.safeEmit('producerPaused', id);
  }

  async resumeProducer(id: string): Promise<void> {
    const producer = this.producer(id);
    if (!producer.paused) return;
    await producer.resume();
    this.safeEmit('producerResumed', id);
  }

  closeProducer(id: string): void {
    const producer = this.producer(id);
    producer.close();
    this.producers.delete(id);
    this.safeEmit('producerClosed', id);
  }

  /**
   * Consumes another peer's producer on this peer's receive transport, paused until resumed.
   * One consumer per producer: consuming it again (even concurrently) yields the same consumer.
   */
  async consume(
    producer: types.Producer<ProducerAppData>,
    rtpCapabilities: types.RtpCapabilities,
  ): Promise<types.Consumer<ConsumerAppData>> {
    this.#assertOpen();
    for (const existing of this.consumers.values()) {
      if (existing.producerId === producer.id && !existing.closed) return existing;
    }
    const pending = this.#consuming.get(producer.id);
    if (pending) return pending;
    const transport = this.recvTransport();
    // On this peer's router: piped there first when the producer lives on another one.
    const consuming = this.place().then(({ router }) =>
      this.placement.consume(router, producer.id, async () => {
        if (!router.canConsume({ producerId: producer.id, rtpCapabilities })) {
          throw new GatewayError(
            'cannot_consume',
            `these RTP capabilities cannot receive producer ${producer.id} (${producer.kind})`,
          );
        }
        return this.#consume(transport, producer, rtpCapabilities);
      }),
    );
    this.#consuming.set(producer.id, consuming);
    try {
      return await consuming;
    } finally {
      this.#consuming.delete(producer.id);
    }
  }

  async #consume(
    transport: types.WebRtcTransport,
    producer: types.Producer<ProducerAppData>,
    rtpCapabilities: types.RtpCapabilities,
  ): Promise<types.Consumer<ConsumerAppData>> {
    const consumer = await transport.consume<ConsumerAppData>({
      producerId: producer.id,
      rtpCapabilities,
      paused: true,
      appData: { source: producer.appData.source, peerId: producer.appData.peerId },
    });
    if (this.#closed) {
      consumer.close();
      throw new GatewayError('not_joined', 'the peer left while consuming');
    }
    this.consumers.set(consumer.id, consumer);
    consumer.on('transportclose', () => this.consumers.delete(consumer.id));
    consumer.on('producerclose', () => {
      this.consumers.delete(consumer.id);
      this.safeEmit('consumerClosed', consumer.id);
    });
    this.bandwidth.add(consumer, producer, transport);
    // A lost key-frame request must not leave the new viewer a second without a picture.
    chaseFirstKeyFrame(
      consumer,
      { ...DEFAULT_FIRST_KEY_FRAME, startLowest: this.limits.firstFrameLayer === 'lowest' },
      (layer) => this.bandwidth.capFirstFrame(consumer.id, layer),
      transport,
    );
    return consumer;
  }

  consumer(id: string): types.Consumer<ConsumerAppData> {
    const consumer = this.consumers.get(id);
    if (!consumer) throw new GatewayError('not_found', `no consumer ${id} of this peer`);
    return consumer;
  }

  /** Closes every transport (and so every producer and consumer) of this peer. */
  close(reason: LeaveReason = 'left'): void {
    if (this.#closed) return;
    this.#closed = true;
    this.bandwidth.close();
    for (const { transport } of this.transports.values()) transport.close();
    this.transports.clear();
    this.producers.clear();
    this.consumers.clear();
    this.safeEmit('close', reason);
  }

  #assertOpen(): void {
    if (this.#closed) throw new GatewayError('not_joined', 'this peer has left the consult');
  }
}
