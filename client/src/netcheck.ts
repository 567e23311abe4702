/**
 * The pre-call network check: round trip and download/upload bitrate measured against the
 * gateway itself over HTTPS (the page's own connection, TCP). It says whether video will be
 * comfortable; it cannot prove that UDP reaches the media port (the call falls back to TCP).
 */
import { API_BASE } from './api';
import type { Precheck } from '../../src/protocol';
import { networkVerdict } from './networkVerdict';

export { networkVerdict };

export type NetworkResult = Precheck['network'];

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

/** What the verdict means for the call, and what to do about it. */
export function networkAdvice(n: NetworkResult): string {
  const figures =
    n.verdict === 'failed'
      ? ''
      : ` (round trip ${Math.round(n.rttMs ?? 0)} ms, download ${fmtKbps(n.downKbps)}, upload ${fmtKbps(n.upKbps)})`;
  switch (n.verdict) {
    case 'good':
      return `Your connection to the consult service is good for HD video${figures}.`;
    case 'fair':
      return `Video will work at lower quality${figures}. Pause downloads and other video apps, or move closer to your Wi-Fi router.`;
    case 'poor':
      return `Your connection is weak${figures}: expect audio with little or no video. Move closer to your Wi-Fi router, use a cable, or switch to mobile data, then check again.`;
    default:
      return 'The consult service could not be reached. Check that you are online, then press Check again.';
  }
}

function fmtKbps(v: number | null): string {
  if (v === null) return '—';
  return v >= 1000 ? `${(v / 1000).toFixed(1)} Mbit/s` : `${v} kbit/s`;
}

/** Runs the check with `token` (the join grant); never throws: a failure is the `failed` verdict. */
export async function checkNetwork(token: string): Promise<NetworkResult> {
  const headers = { authorization: `Bearer ${token}` };
  try {
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
    const upKbps = await measure(up);
    const figures = { rttMs, downKbps, upKbps };
    return { ...figures, verdict: networkVerdict(figures), path: 'https' };
  } catch {
    return { rttMs: null, downKbps: null, upKbps: null, verdict: 'failed', path: 'https' };
  }
}
