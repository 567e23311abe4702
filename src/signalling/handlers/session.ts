/** Joining and leaving: the lobby or a seat, decided by the consult session. */
import { clientEvents } from '../../protocol/events.js';
import { handle } from '../handler.js';
import { transportInfo } from './media.js';
import type { HandlerContext } from './context.js';

export function sessionHandlers({ socket, log, conn, session }: HandlerContext): void {
  handle(socket, log, clientEvents.join, async (req) => {
    const res = await session.join(conn, req);
    if (!req.recvTransport || res.waiting) return res;
    // The joiner's next step, done now: its first frame is one round trip closer.
    return {
      ...res,
      recvTransport: transportInfo(await session.seatOf(conn).createTransport('recv')),
    };
  });

  handle(socket, log, clientEvents.leave, async () => {
    await session.leave(conn);
    return {};
  });
}
