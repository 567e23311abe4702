/** The host's side of the lobby: admitting and denying who waits. */
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
}
