/**
 * When the signalling socket gives up on its node and moves to the next of the cluster: shared
 * by RoomClient and the bench's failover client, so the bench measures what browsers do.
 */

/**
 * Socket.IO's reconnection backoff: the first retry after 125–375 ms (not Socket.IO's default
 * 0.5–1.5 s), doubling up to 5 s. A dead node refuses at once, so two quick failures tell it
 * apart from a blip, and the move to another node starts within about a second of the kill.
 */
export const RECONNECT = {
  reconnectionDelay: 250,
  reconnectionDelayMax: 5000,
  randomizationFactor: 0.5,
} as const;

/** Failed reconnects to one node after which the client tries the cluster's next node. */
export const NODE_GONE_AFTER_FAILURES = 2;

/** How long a probe of the node we lost waits for any answer before leaving it to the backoff. */
export const PROBE_TIMEOUT_MS = 1500;

/**
 * Whether the node at `url` still answers HTTP: asked the moment its connection closes. A
 * killed node refuses at once, so the move to another node starts then, not after the
 * backoff's failed reconnects; one that answers (a blip) is reconnected to as usual, and so is
 * one that does not answer in time. Any answer counts (opaque, any status).
 */
export async function nodeAnswers(url: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<boolean> {
  try {
    await fetch(new URL('/healthz', url), {
      mode: 'no-cors',
      cache: 'no-store',
      signal: AbortSignal.timeout(timeoutMs),
    });
    return true;
  } catch (err) {
    // Timed out: perhaps alive behind a slow network; the backoff decides.
    return (err as Error).name === 'TimeoutError';
  }
}
