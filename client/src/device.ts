/**
 * mediasoup-client Devices whose browser capabilities are read ahead. Loading a Device asks
 * the browser what it can send and receive (a throw-away RTCPeerConnection and an offer for
 * each direction, tens of ms of a join's main thread each); the answer does not depend on the
 * router, so it is read once, while the server checks the grant and the join travels, and
 * reused, also by the next join in this browser (capabilityCache). A Device that never sends reads
 * only the receiving side.
 */
import { Device } from 'mediasoup-client';
import type { types as ms } from 'mediasoup-client';
import {
  cachedCapabilities,
  keepCapabilities,
  keepRouterCapabilities,
  keptRouterCapabilities,
} from './capabilityCache';

type HandlerFactory = NonNullable<
  NonNullable<ConstructorParameters<typeof Device>[0]>['handlerFactory']
>;
type Direction = Parameters<HandlerFactory['getNativeRtpCapabilities']>[0]['direction'];

let readAhead: HandlerFactory | null | undefined;

/** This browser's localStorage (its tabs share it), or null where storage is disabled. */
function browserStore(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

/** The router capabilities of this browser's last join (and their JSON text), if kept. */
export function routerCapabilitiesAhead(): ReturnType<typeof keptRouterCapabilities> {
  const store = browserStore();
  return store ? keptRouterCapabilities(store) : undefined;
}

/** Keeps a join answer's router capabilities (their JSON text) for the next join. */
export function keepRouterCapabilitiesAhead(json: string): void {
  const store = browserStore();
  if (store) keepRouterCapabilities(store, json);
}

/** The browser's handler factory with its native capabilities memoised (null: not readable). */
function factory(): HandlerFactory | null {
  if (readAhead !== undefined) return readAhead;
  let base: HandlerFactory | undefined;
  try {
    // The handler mediasoup-client picks for this browser (not exported on its own).
    base = (new Device() as unknown as { _handlerFactory?: HandlerFactory })._handlerFactory;
  } catch {
    base = undefined; // an unsupported browser: Device() throws again where it is used
  }
  if (!base?.getNativeRtpCapabilities) return (readAhead = null);
  const read = base.getNativeRtpCapabilities.bind(base);
  const caps = new Map<Direction, Promise<ms.RtpCapabilities>>();
  const native = ({ direction }: { direction: Direction }): Promise<ms.RtpCapabilities> => {
    let p = caps.get(direction);
    if (!p) {
      const store = browserStore();
      const kept = store ? cachedCapabilities(store, navigator.userAgent, direction) : undefined;
      if (kept) p = Promise.resolve(kept);
      else {
        // One retry: a failed early read must not fail the join that needs it.
        p = read({ direction }).catch(() => read({ direction }));
        if (store)
          p.then(
            (c) => keepCapabilities(store, navigator.userAgent, direction, c),
            () => undefined,
          );
      }
      p.catch(() => caps.delete(direction));
      caps.set(direction, p);
    }
    return p;
  };
  return (readAhead = { ...base, getNativeRtpCapabilities: native });
}

/**
 * Starts reading the browser's capabilities now (call early: before the join answer); the
 * sending side only when `send`, and only once the receiving side is read (a task of its own).
 */
export function readCapabilitiesAhead(send: boolean): void {
  const f = factory();
  if (!f) return;
  const recv = f.getNativeRtpCapabilities({ direction: 'recvonly' }).catch(() => undefined);
  if (send)
    void recv.then(() =>
      f.getNativeRtpCapabilities({ direction: 'sendonly' }).catch(() => undefined),
    );
}

/**
 * A new Device (one per session) that loads from the capabilities read ahead. One that will
 * never send (`send` false) loads the receiving side for both: its send capabilities are
 * never used, and reading them would cost a join a second throw-away RTCPeerConnection.
 */
export function newDevice(send: boolean): Device {
  const f = factory();
  if (!f) return new Device();
  if (send) return new Device({ handlerFactory: f });
  return new Device({
    handlerFactory: {
      ...f,
      getNativeRtpCapabilities: () => f.getNativeRtpCapabilities({ direction: 'recvonly' }),
    },
  });
}
