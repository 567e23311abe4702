/** The host's moderation: removing a participant, ending the consult for everyone. */
import { clientEvents } from '../../protocol/events.js';
import { handle } from '../handler.js';
import { permit, type HandlerContext } from './context.js';

export function moderationHandlers(ctx: HandlerContext): void {
  const { socket, log, conn, session } = ctx;

  handle(socket, log, clientEvents.removePeer, async ({ peerId, reason }) => {
    session.seatOf(conn);
    await permit(ctx, 'removePeer');
    await session.remove(conn, peerId, reason);
    return {};
  });

  handle(socket, log, clientEvents.endConsult, async () => {
    session.seatOf(conn);
    await permit(ctx, 'endConsult');
    await session.end(conn);
    return {};
  });
}
