/**
 * The client's address by the rule Express uses for `req.ip`: the TCP peer, unless it is a
 * trusted proxy (`trust proxy`), in which case the next hop of X-Forwarded-For, and so on.
 * Socket.IO handshakes use it too, so audit rows of HTTP and sockets name the same address.
 */
export type TrustFn = (address: string, hop: number) => boolean;

export function clientAddress(
  trust: TrustFn,
  peerAddress: string,
  forwardedFor: string | string[] | undefined,
): string {
  const header = Array.isArray(forwardedFor) ? forwardedFor.join(',') : (forwardedFor ?? '');
  const forwarded = header
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean)
    .reverse();
  const hops = [peerAddress, ...forwarded];
  for (let i = 0; i < hops.length - 1; i++) {
    if (!trust(hops[i]!, i)) return hops[i]!;
  }
  return hops[hops.length - 1]!;
}
