/** The host's side of the lobby: admitting and denying who waits, and a word to them. */
import { lobbyMessage } from '../../app/lobbyMessage.js';
import { clientEvents } from '../../protocol/events.js';
import { handle } from '../handler.js';
import { permit, type HandlerContext } from './context.js';

export function lobbyHandlers(ctx: HandlerContext): void {
  const { socket, log, conn, session } = ctx;

  handle(socket, log, clientEvents.admit, async ({ peerId }) => {
    session.seatOf(conn);
    await permit(ctx, 'admit');
    await session.admit(conn, peerId);
    return {};
  });

  handle(socket, log, clientEvents.deny, async ({ peerId, reason }) => {
    session.seatOf(conn);
    await permit(ctx, 'deny');
    await session.deny(conn, peerId, reason);
    return {};
  });

  handle(socket, log, clientEvents.lobbyMessage, (req) =>
    lobbyMessage(
      {
        lobby: ctx.deps.lobby,
        rates: ctx.deps.rateLimits,
        consultId: session.consultId,
        host: { id: conn.claims.sub, name: conn.claims.name },
        authorize: async () => {
          session.seatOf(conn);
          await permit(ctx, 'admit');
        },
        deliver: (socketId, msg) => ctx.io.to(socketId).emit('hostMessage', msg),
        audit: (peerId, displayName, length) =>
          void ctx.deps.audit.record({
            action: 'consult.lobby_message',
            actor: { id: conn.claims.sub, label: conn.claims.name },
            ip: conn.ip,
            object: { type: 'participant', id: peerId },
            details: { consultId: session.consultId, displayName, length },
          }),
      },
      req,
    ),
  );
}
