/** Joining and leaving: the lobby or a seat, decided by the consult session. */
import { clientEvents } from '../../protocol/events.js';
import { handle } from '../handler.js';
import { transportInfo } from './media.js';
import type { HandlerContext } from './context.js';

export function sessionHandlers({ socket, log, conn, session }: HandlerContext): void {
  handle(socket, log, clientEvents.join, async (req) => {
    const res = await session.join(conn, req);
    if ((!req.recvTransport && !req.sendTransport) || res.waiting) return res;
    // The joiner's next steps, done now: its first frame is one round trip closer.
    const peer = session.seatOf(conn);
    const [recv, send] = await Promise.all([
      req.recvTransport ? peer.createTransport('recv') : undefined,
      req.sendTransport ? peer.createTransport('send') : undefined,
    ]);
    return {
      ...res,
      ...(recv ? { recvTransport: transportInfo(recv) } : {}),
      ...(send ? { sendTransport: transportInfo(send) } : {}),
    };
  });

  handle(socket, log, clientEvents.leave, async () => {
    await session.leave(conn);
    return {};
  });
}
