/** Chat: posting (stored, then sent to everyone in the consult) and paging back. */
import { clientEvents } from '../../protocol/events.js';
import { chatEntry } from '../chat.js';
import { handle } from '../handler.js';
import { consultKey } from '../SocketConnection.js';
import type { HandlerContext } from './context.js';

export function chatHandlers({ io, socket, log, conn, session, chat }: HandlerContext): void {
  const { consultId, sub, role } = conn.claims;

  handle(socket, log, clientEvents.chatMessage, async ({ text }) => {
    const peer = session.seatOf(conn);
    const message = await chat.post(
      consultId,
      { id: sub, name: peer.identity.displayName, role },
      text,
    );
    io.to(consultKey(consultId)).emit('chatMessage', { ...chatEntry(message), peerId: peer.id });
    return { id: message.id, at: new Date(message.at).toISOString() };
  });

  handle(socket, log, clientEvents.chatHistory, async ({ before, limit }) => {
    session.seatOf(conn);
    return chat.history(consultId, sub, before, limit ?? 50);
  });
}
