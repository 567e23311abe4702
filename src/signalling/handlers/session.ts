/** Joining and leaving: the lobby or a seat, decided by the consult session. */
import { clientEvents } from '../../protocol/events.js';
import { handle } from '../handler.js';
import type { HandlerContext } from './context.js';

export function sessionHandlers({ socket, log, conn, session }: HandlerContext): void {
  handle(socket, log, clientEvents.join, async (req) => session.join(conn, req));

  handle(socket, log, clientEvents.leave, async () => {
    await session.leave(conn);
    return {};
  });
}
