/** What every handler file gets: its socket and connection, the consult's session, the services. */
import type { ConsultSession } from '../../app/ConsultSession.js';
import { assertMay, type Action } from '../../app/permissions.js';
import type { Logger } from '../../logger.js';
import type { SignallingDeps, SignallingServer } from '../server.js';
import type { ChatPolicy } from '../chat.js';
import type { GatewaySocket, SocketConnection } from '../SocketConnection.js';

export interface HandlerContext {
  io: SignallingServer;
  socket: GatewaySocket;
  conn: SocketConnection;
  session: ConsultSession;
  chat: ChatPolicy;
  deps: SignallingDeps;
  log: Logger;
}

/**
 * Checks the grant for an action, and that the bearer's sessions were not revoked since (a
 * cached check, current within the revocation cache's TTL). The consult itself was checked at
 * connect; changes to it end the connection through the session's events.
 */
export async function permit(ctx: HandlerContext, action: Action): Promise<void> {
  assertMay(ctx.conn.claims.grants, action);
  await ctx.deps.sessions.assertJoin(ctx.conn.claims);
}
