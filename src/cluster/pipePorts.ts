/**
 * Pipe transports on the configured port range (PIPE_PORT_MIN..MAX): mediasoup 3.12 takes
 * either a fixed port or the worker's whole RTC range, so this picks free ports itself and
 * moves on when the system refuses one (another process holds it).
 */
import type { types } from 'mediasoup';
import { GatewayError } from '../errors.js';

export interface PipeListen {
  listenIp: string;
  announcedIp: string | undefined;
  portMin: number;
  portMax: number;
}

const inUse = new Set<number>();

/** Creates an SRTP-protected pipe transport on `router` on a free port of the range. */
export async function createPipeTransport(
  router: types.Router,
  listen: PipeListen,
  appData: Record<string, unknown>,
): Promise<types.PipeTransport> {
  const size = listen.portMax - listen.portMin + 1;
  const start = Math.floor(Math.random() * size);
  let lastError: unknown;
  for (let i = 0, tries = 0; i < size && tries < 20; i++) {
    const port = listen.portMin + ((start + i) % size);
    if (inUse.has(port)) continue;
    tries++;
    try {
      const transport = await router.createPipeTransport({
        listenIp: { ip: listen.listenIp, announcedIp: listen.announcedIp },
        port,
        enableSrtp: true,
        enableRtx: true,
        appData,
      });
      inUse.add(port);
      transport.observer.once('close', () => inUse.delete(port));
      return transport;
    } catch (err) {
      lastError = err;
      if (router.closed) throw err;
    }
  }
  throw new GatewayError(
    'unavailable',
    `no free pipe port in ${listen.portMin}-${listen.portMax} (${(lastError as Error | undefined)?.message ?? 'all in use'}): widen PIPE_PORT_MIN..PIPE_PORT_MAX`,
  );
}
