/** Just enough packet parsing for the relay: STUN's USERNAME and RFC 4571 TCP framing. */

import { seededRandom } from './settings.js';

const STUN_MAGIC_COOKIE = 0x2112a442;
const STUN_BINDING_REQUEST = 0x0001;
const ATTR_USERNAME = 0x0006;

/**
 * The USERNAME of a STUN Binding request ("remoteUfrag:localUfrag": a browser's checks
 * toward the gateway carry the gateway transport's ufrag first), or null for anything else.
 */
export function stunUsername(packet: Buffer): string | null {
  if (packet.length < 20 || (packet[0]! & 0xc0) !== 0) return null;
  if (packet.readUInt32BE(4) !== STUN_MAGIC_COOKIE) return null;
  if (packet.readUInt16BE(0) !== STUN_BINDING_REQUEST) return null;
  const end = Math.min(packet.length, 20 + packet.readUInt16BE(2));
  let offset = 20;
  while (offset + 4 <= end) {
    const type = packet.readUInt16BE(offset);
    const length = packet.readUInt16BE(offset + 2);
    if (offset + 4 + length > end) return null;
    if (type === ATTR_USERNAME) return packet.toString('utf8', offset + 4, offset + 4 + length);
    offset += 4 + ((length + 3) & ~3);
  }
  return null;
}

/** The gateway-side ufrag of a STUN Binding request from a browser, or null. */
export function serverUfrag(packet: Buffer): string | null {
  const username = stunUsername(packet);
  if (!username) return null;
  const colon = username.indexOf(':');
  return colon > 0 ? username.slice(0, colon) : null;
}

/** Transaction ids of test STUN requests: seeded, so every run sends the same bytes. */
const transactionIds = seededRandom(0x57a9);

/** A STUN Binding request with a USERNAME, as a browser sends for ICE (for tests). */
export function stunBindingRequest(username: string, random = transactionIds): Buffer {
  const name = Buffer.from(username, 'utf8');
  const padded = (name.length + 3) & ~3;
  const packet = Buffer.alloc(20 + 4 + padded);
  packet.writeUInt16BE(STUN_BINDING_REQUEST, 0);
  packet.writeUInt16BE(4 + padded, 2);
  packet.writeUInt32BE(STUN_MAGIC_COOKIE, 4);
  for (let i = 8; i < 20; i++) packet[i] = Math.floor(random() * 256);
  packet.writeUInt16BE(ATTR_USERNAME, 20);
  packet.writeUInt16BE(name.length, 22);
  name.copy(packet, 24);
  return packet;
}

/** Prefixes a packet with its 2-byte big-endian length (RFC 4571). */
export function frame(packet: Buffer): Buffer {
  if (packet.length > 0xffff) throw new RangeError('an RFC 4571 frame holds at most 65535 bytes');
  const out = Buffer.allocUnsafe(2 + packet.length);
  out.writeUInt16BE(packet.length, 0);
  packet.copy(out, 2);
  return out;
}

/**
 * Splits a TCP byte stream into RFC 4571 frames, whatever the chunking. Each frame is
 * returned whole (length prefix included), so forwarding frames forwards the exact stream.
 */
export class FrameSplitter {
  #pending: Buffer = Buffer.alloc(0);

  /** Bytes of an unfinished frame held back. */
  get pendingBytes(): number {
    return this.#pending.length;
  }

  push(chunk: Buffer): Buffer[] {
    let buf = this.#pending.length ? Buffer.concat([this.#pending, chunk]) : chunk;
    const frames: Buffer[] = [];
    while (buf.length >= 2) {
      const size = 2 + buf.readUInt16BE(0);
      if (buf.length < size) break;
      frames.push(buf.subarray(0, size));
      buf = buf.subarray(size);
    }
    this.#pending = Buffer.from(buf);
    return frames;
  }
}
