/**
 * A third party on the cluster bus (test/integration/pipeAbuse.test.ts): publishes raw
 * envelopes under any node id it likes, and reads what arrives on any node's channel (a fake
 * node's, for its answers; a real node's, to capture messages and replay them later).
 */
import { randomUUID } from 'node:crypto';
import { createClient } from 'redis';

export interface BusAnswer {
  ok: boolean;
  data?: unknown;
  error?: { code: string; message: string };
}

export interface BusMessage {
  kind: string;
  id?: string;
  from?: string;
  type?: string;
  payload?: unknown;
}

export interface SeenMessage {
  channel: string;
  raw: string;
  msg: BusMessage;
}

const channelOf = (nodeId: string) => `telemed:bus:${nodeId}`;

export interface RawBus {
  /** Reads node `nodeId`'s channel from now on (`*` patterns allowed). */
  listen(nodeId: string): Promise<void>;
  /** Sends a request as node `from` (whose channel must be listened to) and resolves with the answer. */
  request(
    target: string,
    from: string,
    type: string,
    payload: unknown,
    timeoutMs?: number,
  ): Promise<BusAnswer>;
  /** Sends a one-way note as node `from`. */
  note(target: string, from: string, type: string, payload: unknown): Promise<void>;
  /** Publishes `raw` as it is on `target`'s channel (a replay). */
  publish(target: string, raw: string): Promise<void>;
  /** Everything read so far, in order. */
  seen: SeenMessage[];
  close(): void;
}

export async function connectRawBus(url: string): Promise<RawBus> {
  const pub = createClient({ url });
  const sub = pub.duplicate();
  pub.on('error', () => undefined);
  sub.on('error', () => undefined);
  await Promise.all([pub.connect(), sub.connect()]);
  const pending = new Map<string, (answer: BusAnswer) => void>();
  const seen: SeenMessage[] = [];
  const onMessage = (raw: string, channel: string) => {
    let msg: BusMessage & BusAnswer;
    try {
      msg = JSON.parse(raw) as BusMessage & BusAnswer;
    } catch {
      return;
    }
    seen.push({ channel, raw, msg });
    if (msg.kind !== 'response' || !msg.id) return;
    pending.get(msg.id)?.(msg);
    pending.delete(msg.id);
  };
  return {
    async listen(nodeId) {
      if (nodeId.includes('*')) await sub.pSubscribe(channelOf(nodeId), onMessage);
      else await sub.subscribe(channelOf(nodeId), onMessage);
    },
    async request(target, from, type, payload, timeoutMs = 15_000) {
      const id = randomUUID();
      const answer = new Promise<BusAnswer>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${target} did not answer ${type} from ${from} in ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, (a) => {
          clearTimeout(timer);
          resolve(a);
        });
      });
      await pub.publish(
        channelOf(target),
        JSON.stringify({ kind: 'request', id, from, type, payload }),
      );
      return answer;
    },
    async note(target, from, type, payload) {
      await pub.publish(channelOf(target), JSON.stringify({ kind: 'note', from, type, payload }));
    },
    async publish(target, raw) {
      await pub.publish(channelOf(target), raw);
    },
    seen,
    close() {
      pub.destroy();
      sub.destroy();
    },
  };
}
