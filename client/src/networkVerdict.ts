/** The network check's verdict from its figures (pure: unit-tested). */

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
