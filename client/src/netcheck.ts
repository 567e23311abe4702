/**
 * The pre-call network check: the round trip to the media port, whether media gets through
 * over UDP or only TCP, and the upstream bitrate the media server counted (see mediaProbe);
 * the download, and every figure when the media port cannot be checked, over HTTPS.
 */
import { API_BASE } from './api';
import type { Precheck } from '../../src/protocol';
import { probeMedia } from './mediaProbe';
import type { MediaPorts } from './mediaProbe';
import { networkAdvice, networkVerdict } from './networkVerdict';

export { networkAdvice, networkVerdict };

export type NetworkResult = Precheck['network'];
/** The result, and the media ports the gateway listens on (for the advice; null if unknown). */
export interface NetworkCheck {
  result: NetworkResult;
  ports: MediaPorts | null;
}

const PINGS = 5;
/** A first transfer of this size; a second, larger one when the first was too quick to time. */
const SMALL = 250_000;
const LARGE = 1_000_000;
const QUICK_MS = 250;

async function timed(input: string, init: RequestInit): Promise<{ ms: number; res: Response }> {
  const start = performance.now();
  const res = await fetch(input, { cache: 'no-store', ...init });
  if (!res.ok) throw new Error(`network check refused: ${res.status}`);
  await res.arrayBuffer();
  return { ms: performance.now() - start, res };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const kbps = (bytes: number, ms: number) => Math.round((bytes * 8) / Math.max(ms, 1));

/** Round trip, download and (unless the media probe measured it) upload over HTTPS. */
async function checkHttps(
  headers: Record<string, string>,
  withUpload: boolean,
): Promise<{ rttMs: number; downKbps: number; upKbps: number | null }> {
  const rtts: number[] = [];
  for (let i = 0; i < PINGS; i++) {
    rtts.push((await timed(`${API_BASE}/netcheck/ping`, { headers })).ms);
  }
  // The first ping may include setting up the connection: the median ignores it.
  const rttMs = Math.round(median(rtts.slice(1)));
  const down = async (bytes: number) =>
    (await timed(`${API_BASE}/netcheck/download?bytes=${bytes}`, { headers })).ms;
  const up = async (bytes: number) =>
    (
      await timed(`${API_BASE}/netcheck/upload`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/octet-stream' },
        body: new Uint8Array(bytes),
      })
    ).ms;
  const measure = async (run: (bytes: number) => Promise<number>) => {
    const ms = await run(SMALL);
    return ms >= QUICK_MS ? kbps(SMALL, ms) : kbps(LARGE, await run(LARGE));
  };
  const downKbps = await measure(down);
  const upKbps = withUpload ? await measure(up) : null;
  return { rttMs, downKbps, upKbps };
}

/**
 * Runs the check with `token` (the join grant): the media probe first, then HTTPS. Never
 * throws: an unreachable gateway is the `failed` verdict, an unreachable media port too.
 */
export async function checkNetwork(token: string): Promise<NetworkCheck> {
  const headers = { authorization: `Bearer ${token}` };
  const media = await probeMedia(token);
  let https;
  try {
    https = await checkHttps(headers, !media.ok);
  } catch {
    const failed = { rttMs: null, downKbps: null, upKbps: null, verdict: 'failed' as const };
    return { result: { ...failed, path: 'https' }, ports: media.ports };
  }
  if (!media.ok) {
    const figures = { ...https, upKbps: https.upKbps };
    const verdict = media.reason === 'unreachable' ? 'failed' : networkVerdict(figures);
    return {
      result: { ...figures, verdict, path: 'https', media: media.reason },
      ports: media.ports,
    };
  }
  const figures = {
    rttMs: media.rttMs ?? https.rttMs,
    downKbps: https.downKbps,
    upKbps: media.upKbps,
  };
  let verdict = networkVerdict(figures);
  // TCP carries video, but a lost packet stalls everything behind it.
  if (media.path === 'tcp' && verdict === 'good') verdict = 'fair';
  return {
    result: {
      ...figures,
      verdict,
      path: media.path,
      https: { rttMs: https.rttMs },
    },
    ports: media.ports,
  };
}
