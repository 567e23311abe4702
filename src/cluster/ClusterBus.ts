/**
 * Request/response and one-way notes between nodes over Redis pub/sub: each node listens on
 * its own channel. Every message is parsed (it comes from another process); a request not
 * answered in time fails with `unavailable`, so a dead node or a Redis outage costs a timeout,
 * never a hang. Delivery is at most once: callers retry what must happen.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { GatewayError, toGatewayError } from '../errors.js';
import { errorCodes } from '../protocol/index.js';
import type { Logger } from '../logger.js';
import { assertReady, KEY_PREFIX, type Redis } from './redis.js';

const channelOf = (nodeId: string) => `${KEY_PREFIX}bus:${nodeId}`;

const envelopeSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('request'),
    id: z.string(),
    from: z.string(),
    type: z.string(),
    payload: z.unknown(),
  }),
  z.object({ kind: z.literal('note'), from: z.string(), type: z.string(), payload: z.unknown() }),
  z.object({
    kind: z.literal('response'),
    id: z.string(),
    from: z.string(),
    ok: z.boolean(),
    data: z.unknown().optional(),
    error: z.object({ code: z.enum(errorCodes).catch('internal'), message: z.string() }).optional(),
  }),
]);
type Envelope = z.infer<typeof envelopeSchema>;

type Handler = (payload: unknown, from: string) => unknown;

interface Pending {
  resolve(data: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export class ClusterBus {
  readonly #handlers = new Map<string, Handler>();
  readonly #pending = new Map<string, Pending>();
  #closed = false;

  private constructor(
    readonly nodeId: string,
    private readonly pub: Redis,
    private readonly sub: Redis,
    private readonly logger: Logger,
  ) {}

  /** Subscribes to this node's channel (on a connection of its own, as pub/sub needs). */
  static async create(redis: Redis, nodeId: string, logger: Logger): Promise<ClusterBus> {
    const sub = redis.duplicate();
    sub.on('error', () => undefined); // the main connection reports outages
    await sub.connect();
    const bus = new ClusterBus(nodeId, redis, sub, logger.child({ component: 'cluster-bus' }));
    await sub.subscribe(channelOf(nodeId), (message) => bus.#receive(message));
    return bus;
  }

  /** Answers requests of `type`: the payload is parsed by `schema`; a throw becomes an error response. */
  handle<S extends z.ZodType>(
    type: string,
    schema: S,
    fn: (payload: z.infer<S>, from: string) => unknown,
  ): void {
    this.#handlers.set(type, (payload, from) => {
      const parsed = schema.safeParse(payload);
      if (!parsed.success) throw GatewayError.fromZod(parsed.error, `${type} payload`);
      return fn(parsed.data, from);
    });
  }

  /** Asks `nodeId` and resolves with its answer parsed by `schema`; rejects on error or after `timeoutMs`. */
  async request<S extends z.ZodType>(
    nodeId: string,
    type: string,
    payload: unknown,
    schema: S,
    timeoutMs = 5000,
  ): Promise<z.infer<S>> {
    if (this.#closed) throw new GatewayError('unavailable', 'this node is stopping');
    // Not queued for after the outage: the other node would act on it when nobody waits anymore.
    assertReady(this.pub);
    const id = randomUUID();
    const answer = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(
          new GatewayError(
            'unavailable',
            `node ${nodeId} did not answer ${type} within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
    });
    // The answer can come (on the subscriber connection) before Redis acknowledges the publish
    // below: a refusal then must not count as an unhandled rejection, which ends the process.
    answer.catch(() => undefined);
    try {
      await this.#send(nodeId, { kind: 'request', id, from: this.nodeId, type, payload });
    } catch (err) {
      this.#settle(id)?.reject(
        new GatewayError('unavailable', `cannot reach the cluster bus: ${(err as Error).message}`),
      );
    }
    const data = await answer;
    const parsed = schema.safeParse(data);
    if (!parsed.success)
      throw new GatewayError(
        'internal',
        `node ${nodeId} answered ${type} with something unreadable`,
      );
    return parsed.data;
  }

  /** Tells `nodeId` something, expecting no answer (lost if it or Redis is down). */
  async notify(nodeId: string, type: string, payload: unknown): Promise<void> {
    if (this.#closed) return;
    await this.#send(nodeId, { kind: 'note', from: this.nodeId, type, payload });
  }

  async #send(nodeId: string, envelope: Envelope): Promise<void> {
    await this.pub.publish(channelOf(nodeId), JSON.stringify(envelope));
  }

  #settle(id: string): Pending | undefined {
    const pending = this.#pending.get(id);
    if (!pending) return undefined;
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    return pending;
  }

  #receive(message: string): void {
    let envelope: Envelope;
    try {
      envelope = envelopeSchema.parse(JSON.parse(message));
    } catch {
      this.logger.warn('unreadable cluster bus message; ignored');
      return;
    }
    if (envelope.kind === 'response') {
      const pending = this.#settle(envelope.id);
      if (!pending) return; // timed out meanwhile
      if (envelope.ok) pending.resolve(envelope.data);
      else {
        const e = envelope.error ?? { code: 'internal' as const, message: 'failed' };
        pending.reject(new GatewayError(e.code, `node ${envelope.from}: ${e.message}`));
      }
      return;
    }
    const handler = this.#handlers.get(envelope.type);
    if (envelope.kind === 'note') {
      if (!handler) return;
      void Promise.resolve()
        .then(() => handler(envelope.payload, envelope.from))
        .catch((err: Error) =>
          this.logger.warn({ type: envelope.type, err: err.message }, 'cluster note failed'),
        );
      return;
    }
    const { id, from, type } = envelope;
    void Promise.resolve()
      .then(() => {
        if (!handler) throw new GatewayError('not_found', `this node does not handle ${type}`);
        return handler(envelope.payload, from);
      })
      .then(
        (data) => this.#send(from, { kind: 'response', id, from: this.nodeId, ok: true, data }),
        (err: unknown) => {
          const e = toGatewayError(err);
          if (e.code === 'internal') this.logger.error({ type, err }, 'cluster request failed');
          return this.#send(from, {
            kind: 'response',
            id,
            from: this.nodeId,
            ok: false,
            error: { code: e.code, message: e.message },
          });
        },
      )
      .catch((err: Error) =>
        this.logger.warn({ type, err: err.message }, 'cannot answer cluster request'),
      );
  }

  /** Fails every open request and leaves the channel. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const id of [...this.#pending.keys()]) {
      this.#settle(id)?.reject(new GatewayError('unavailable', 'this node is stopping'));
    }
    try {
      await this.sub.unsubscribe();
    } catch {
      // Redis is down: closing the connection is enough.
    }
    this.sub.destroy();
  }
}
