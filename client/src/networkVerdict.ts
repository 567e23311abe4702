/** The network check's verdict from its figures, and its advice (pure: unit-tested). */
import type { Precheck } from '../../src/protocol/index.js';

type NetworkResult = Precheck['network'];
/** The media ports the gateway listens on. */
type MediaPorts = { first: number; last: number };

/** Good: HD video both ways; fair: video at lower quality; poor: expect audio only. */
export function networkVerdict(n: {
  rttMs: number | null;
  downKbps: number | null;
  upKbps: number | null;
}): 'good' | 'fair' | 'poor' | 'failed' {
  const { rttMs, downKbps, upKbps } = n;
  if (rttMs === null || downKbps === null || upKbps === null) return 'failed';
  if (rttMs <= 150 && downKbps >= 1500 && upKbps >= 1000) return 'good';
  if (rttMs <= 400 && downKbps >= 500 && upKbps >= 300) return 'fair';
  return 'poor';
}

/** What the verdict means for the call, and what to do about it. */
export function networkAdvice(n: NetworkResult, ports: MediaPorts | null = null): string {
  const range = ports
    ? ports.first === ports.last
      ? `port ${ports.first}`
      : `ports ${ports.first}–${ports.last}`
    : 'the media ports';
  if (n.path === 'https' && n.media === 'unreachable') {
    return `Your browser cannot reach the media server (UDP or TCP ${range}): the call would connect without sound or video. Ask your IT team to allow UDP and TCP ${range} to the consult service, or try another network such as mobile data, then check again.`;
  }
  const over =
    n.path === 'udp'
      ? 'to the media server over UDP'
      : n.path === 'tcp'
        ? 'to the media server over TCP'
        : 'over HTTPS';
  const figures =
    n.verdict === 'failed'
      ? ''
      : ` (round trip ${Math.round(n.rttMs ?? 0)} ms ${over}, download ${fmtKbps(n.downKbps)}, upload ${fmtKbps(n.upKbps)})`;
  const tcp =
    n.path === 'tcp'
      ? ` Video will go over TCP: it works but may stutter; ask your IT team to allow UDP ${range}.`
      : '';
  const unchecked =
    n.path === 'https' && n.media
      ? ' The media server itself could not be checked just now; press Check again in a minute.'
      : '';
  switch (n.verdict) {
    case 'good':
      return `Your connection to the consult service is good for HD video${figures}.${tcp}${unchecked}`;
    case 'fair':
      return `Video will work at lower quality${figures}.${tcp || ' Pause downloads and other video apps, or move closer to your Wi-Fi router.'}${unchecked}`;
    case 'poor':
      return `Your connection is weak${figures}: expect audio with little or no video. Move closer to your Wi-Fi router, use a cable, or switch to mobile data, then check again.${tcp}${unchecked}`;
    default:
      return 'The consult service could not be reached. Check that you are online, then press Check again.';
  }
}

function fmtKbps(v: number | null): string {
  if (v === null) return '—';
  return v >= 1000 ? `${(v / 1000).toFixed(1)} Mbit/s` : `${v} kbit/s`;
}
