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
