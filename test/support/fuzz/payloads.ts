/**
 * Seeded generators of hostile Socket.IO payloads: random values, and valid payloads mutated
 * (wrong types, huge strings, deep nesting, prototype-pollution keys, other peers' ids).
 * Everything is drawn from one PRNG, so a seed reproduces a run exactly.
 */
import type { ClientEvent } from '../../../src/protocol/index.js';
import { audioRtpParameters } from '../rtp.js';

/** mulberry32: small, fast, good enough to pick test inputs. */
export class Prng {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }
  /** A float in [0, 1). */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(max: number): number {
    return Math.floor(this.next() * max);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

/** Ids the fuzzer may plant in payloads: its own, its victims', another consult's, made-up ones. */
export interface IdPool {
  consultIds: string[];
  peerIds: string[];
  transportIds: string[];
  producerIds: string[];
  consumerIds: string[];
}

/** The largest string a payload carries: well under the 256 KiB message limit with the rest. */
export const HUGE_STRING = 120_000;

const POLLUTION_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty'];

const STRINGS = [
  '',
  ' ',
  '\u0000',
  'null',
  'undefined',
  '../../etc/passwd',
  '<script>alert(1)</script>',
  "'; DROP TABLE consults; --",
  '%s%s%n',
  '\u202e\u0301\ud800',
  '💉'.repeat(40),
  'send',
  'recv',
  'audio',
  'video',
  'mic',
  'camera',
  'screen',
];

const NUMBERS = [0, -1, 1, 2, 3, 127, 128, 255, 256, 2 ** 31, -(2 ** 53), 1e308, -0, 0.5, NaN];

/** An object with an own property named `key` (plain `{ __proto__: x }` would set the prototype). */
function withKey(obj: Record<string, unknown>, key: string, value: unknown) {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  return obj;
}

export class PayloadGenerator {
  constructor(
    private readonly rng: Prng,
    private readonly ids: IdPool,
  ) {}

  /** A string: short odd ones, a real id, or (rarely) one near the size limit. */
  string(): string {
    const r = this.rng;
    const roll = r.next();
    if (roll < 0.35) return this.id();
    if (roll < 0.7) return r.pick(STRINGS);
    if (roll < 0.97) return 'x'.repeat(r.int(300));
    return 'A'.repeat(HUGE_STRING - r.int(1000));
  }

  /** An id: one of the known ones (anyone's) or a made-up one. */
  id(): string {
    const r = this.rng;
    const pools = Object.values(this.ids).filter((p) => p.length);
    if (pools.length && r.chance(0.8)) return r.pick(r.pick(pools));
    return r.chance(0.5) ? crypto.randomUUID() : `id-${r.int(1000)}`;
  }

  /** Any value a JSON-ish (or binary) payload can hold, nesting at most `depth` deep. */
  value(depth = 3): unknown {
    const r = this.rng;
    const kinds = depth > 0 ? 10 : 7;
    switch (r.int(kinds)) {
      case 0:
        return null;
      case 1:
        return r.chance(0.5);
      case 2:
        return r.pick(NUMBERS);
      case 3:
        return r.int(1000) - 100;
      case 4:
      case 5:
        return this.string();
      case 6:
        return r.chance(0.5) ? undefined : Buffer.from([r.int(256), r.int(256)]);
      case 7:
        return Array.from({ length: r.int(5) }, () => this.value(depth - 1));
      case 8:
        return this.object(depth - 1);
      default:
        return this.deep();
    }
  }

  object(depth = 2): Record<string, unknown> {
    const r = this.rng;
    const obj: Record<string, unknown> = {};
    for (let i = r.int(5); i > 0; i--) {
      const key = r.chance(0.3) ? r.pick(POLLUTION_KEYS) : r.pick(FIELD_NAMES);
      withKey(
        obj,
        key,
        key === '__proto__' ? { polluted: 'yes', isAdmin: true } : this.value(depth),
      );
    }
    return obj;
  }

  /** Objects or arrays nested far deeper than any real payload. */
  deep(): unknown {
    const r = this.rng;
    let v: unknown = 'bottom';
    const depth = 50 + r.int(r.chance(0.1) ? 2000 : 300);
    for (let i = 0; i < depth; i++) v = r.chance(0.5) ? [v] : { a: v };
    return v;
  }

  /** A payload for `event`: random, or a valid one mutated (or, now and then, left valid). */
  payload(event: ClientEvent): unknown {
    const r = this.rng;
    if (r.chance(0.25)) return this.value();
    const valid = validPayload(event, r, this);
    return r.chance(0.1) ? valid : this.mutate(valid);
  }

  /** One to three mutations of a valid payload (a copy of it; `nested` for its parts, already copied). */
  mutate(valid: unknown, nested = 0): unknown {
    const r = this.rng;
    let v: unknown = nested ? valid : structuredClone(valid);
    for (let n = 1 + r.int(3); n > 0; n--) {
      if (v === null || typeof v !== 'object' || Array.isArray(v) || ArrayBuffer.isView(v))
        return this.value();
      const obj = v as Record<string, unknown>;
      const keys = Object.keys(obj);
      const key = keys.length ? r.pick(keys) : 'x';
      switch (r.int(9)) {
        case 0:
          delete obj[key];
          break;
        case 1:
          obj[key] = this.value(1);
          break;
        case 2:
          obj[key] = this.string();
          break;
        case 3:
          obj[key] = this.id();
          break;
        case 4:
          withKey(obj, r.pick(POLLUTION_KEYS), { polluted: 'yes', role: 'admin' });
          break;
        case 5:
          obj[r.pick(FIELD_NAMES)] = this.value(2);
          break;
        case 6:
          obj[key] = this.deep();
          break;
        case 7:
          v = r.chance(0.5) ? [obj] : JSON.stringify(obj);
          break;
        default:
          if (obj[key] && typeof obj[key] === 'object' && nested < 8)
            obj[key] = this.mutate(obj[key], nested + 1);
          else obj[key] = r.pick(NUMBERS);
      }
    }
    return v;
  }
}

const FIELD_NAMES = [
  'consultId',
  'displayName',
  'networkType',
  'text',
  'direction',
  'transportId',
  'dtlsParameters',
  'kind',
  'rtpParameters',
  'appData',
  'source',
  'producerId',
  'consumerId',
  'rtpCapabilities',
  'spatialLayer',
  'temporalLayer',
  'peerId',
  'reason',
  'role',
  'grants',
  'userId',
  'token',
];

const fingerprint = {
  algorithm: 'sha-256',
  value: Array.from({ length: 32 }, () => 'AB').join(':'),
};

/** A payload that passes the event's schema (with ids from the pool, so it may still be refused). */
export function validPayload(event: ClientEvent, r: Prng, gen: PayloadGenerator): unknown {
  switch (event) {
    case 'join':
      return { consultId: gen.id(), displayName: 'Fuzzy', networkType: '4g' };
    case 'createTransport':
      return { direction: r.pick(['send', 'recv']) };
    case 'connectTransport':
      return {
        transportId: gen.id(),
        dtlsParameters: { role: 'client', fingerprints: [fingerprint] },
      };
    case 'produce':
      return {
        transportId: gen.id(),
        kind: 'audio',
        rtpParameters: audioRtpParameters(1000 + r.int(1_000_000)),
        appData: { source: r.pick(['mic', 'camera', 'screen']) },
      };
    case 'consume':
      return {
        producerId: gen.id(),
        rtpCapabilities: {
          codecs: [{ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 }],
        },
      };
    case 'resumeConsumer':
      return { consumerId: gen.id() };
    case 'pauseProducer':
    case 'resumeProducer':
    case 'closeProducer':
      return { producerId: gen.id() };
    case 'setPreferredLayers':
      return { consumerId: gen.id(), spatialLayer: r.int(3), temporalLayer: r.int(3) };
    case 'restartIce':
      return { transportId: gen.id() };
    case 'admit':
      return { peerId: gen.id() };
    case 'deny':
    case 'removePeer':
      return { peerId: gen.id(), reason: 'fuzz' };
    case 'chatMessage':
      return { text: `fuzz ${r.int(1000)}` };
    case 'chatHistory':
      return r.chance(0.5)
        ? { before: gen.id(), limit: 1 + r.int(100) }
        : { before: new Date(Date.now() - r.int(3_600_000)).toISOString() };
    default:
      // getStats, leave, endConsult, and any event added since without a sample here.
      return {};
  }
}
