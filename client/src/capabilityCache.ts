/**
 * The browser's native RTP capabilities kept in this browser (localStorage, shared by its
 * tabs), so a later join (a reload, a rejoin, another tab) loads its Device without a throw-away
 * RTCPeerConnection on the main thread while the socket's handshake is handled. An entry is the
 * browser's answer for one direction, keyed by navigator.userAgent: one that does not parse,
 * does not validate as RTP capabilities, lists no codec, or came from another browser build is
 * ignored (and the browser asked again).
 */
import { validateAndNormalizeRtpCapabilities } from 'mediasoup-client/ortc';
import type { types as ms } from 'mediasoup-client';

export type Direction = 'sendonly' | 'recvonly';

type KeyValueStore = Pick<Storage, 'getItem' | 'setItem'>;

const key = (direction: Direction) => `telemed.rtpCapabilities.${direction}`;

/** The kept capabilities for `direction`, if valid and read by this same browser (`agent`). */
export function cachedCapabilities(
  store: KeyValueStore,
  agent: string,
  direction: Direction,
): ms.RtpCapabilities | undefined {
  try {
    const raw = store.getItem(key(direction));
    if (!raw) return undefined;
    const entry = JSON.parse(raw) as { agent?: unknown; caps?: ms.RtpCapabilities };
    if (entry?.agent !== agent || !Array.isArray(entry.caps?.codecs)) return undefined;
    if (entry.caps.codecs.length === 0) return undefined;
    validateAndNormalizeRtpCapabilities(entry.caps);
    return entry.caps;
  } catch {
    return undefined; // malformed: read the browser's answer again
  }
}

/** Keeps the browser's capabilities for `direction` (nothing when storage is unavailable). */
export function keepCapabilities(
  store: KeyValueStore,
  agent: string,
  direction: Direction,
  caps: ms.RtpCapabilities,
): void {
  try {
    store.setItem(key(direction), JSON.stringify({ agent, caps }));
  } catch {
    // Storage full or disabled: the next join asks the browser again.
  }
}

const ROUTER_KEY = 'telemed.routerRtpCapabilities';

/**
 * The gateway's router capabilities from this browser's last join (every router of a gateway
 * has the same): with them a Device loads before the join, and the join consumes at once
 * (its `rtpCapabilities`). `json` is the answer's text, to tell whether a new answer differs.
 * One that does not parse or lists no codec is ignored.
 */
export function keptRouterCapabilities(
  store: KeyValueStore,
): { caps: ms.RtpCapabilities; json: string } | undefined {
  try {
    const json = store.getItem(ROUTER_KEY);
    if (!json) return undefined;
    const caps = JSON.parse(json) as ms.RtpCapabilities;
    if (!Array.isArray(caps?.codecs) || caps.codecs.length === 0) return undefined;
    return { caps, json };
  } catch {
    return undefined;
  }
}

/** Keeps a join answer's router capabilities (`json`: their JSON text) for the next join. */
export function keepRouterCapabilities(store: KeyValueStore, json: string): void {
  try {
    store.setItem(ROUTER_KEY, json);
  } catch {
    // Storage full or disabled: the next join consumes after its answer.
  }
}
