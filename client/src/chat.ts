/**
 * The consult chat's state: the history from `join` merged with live `chatMessage` events
 * (deduplicated by id, ordered by time), and the send rules the server enforces.
 */
import type { ChatEntry } from '../../src/protocol';
import { Emitter } from './emitter';

/** The server's limit (CHAT_MAX_CHARS in src/protocol), counted after trimming. */
export const CHAT_MAX_CHARS = 2000;

export type ChatMessage = ChatEntry & { peerId?: string };

/** Why `text` cannot be sent, or null when it can. */
export function chatTextError(text: string): string | null {
  const trimmed = text.trim();
  if (!trimmed) return 'Type a message first.';
  if (trimmed.length > CHAT_MAX_CHARS)
    return `A message is at most ${CHAT_MAX_CHARS} characters (this one has ${trimmed.length}).`;
  return null;
}

type ChatEvents = {
  /** The whole list changed (history loaded or replaced). */
  reset: [ChatMessage[]];
  /** One new message, at `index` in the list. */
  added: [ChatMessage, number];
};

export class ChatLog extends Emitter<ChatEvents> {
  private readonly byId = new Map<string, ChatMessage>();
  private list: ChatMessage[] = [];
  /** The server holds messages older than the oldest in the list. */
  hasMore = false;

  get messages(): readonly ChatMessage[] {
    return this.list;
  }

  /**
   * Merges `join`'s latest messages (a rejoin brings them again) or an older page;
   * `hasMore` says whether the server has older ones than the oldest of `history`.
   */
  loadHistory(history: readonly ChatMessage[], hasMore = false): void {
    const oldest = this.list[0];
    let changed = false;
    if (!oldest || !history[0] || byTime(history[0], oldest) <= 0) {
      changed = this.hasMore !== hasMore;
      this.hasMore = hasMore;
    }
    for (const m of history) {
      if (this.byId.has(m.id)) continue;
      this.byId.set(m.id, m);
      changed = true;
    }
    if (!changed) return;
    this.list = [...this.byId.values()].sort(byTime);
    this.emit('reset', this.list);
  }

  /** Adds a live message (ignored if already known, e.g. from the history). */
  add(message: ChatMessage): void {
    if (this.byId.has(message.id)) return;
    this.byId.set(message.id, message);
    let index = this.list.length;
    while (index > 0 && byTime(this.list[index - 1]!, message) > 0) index -= 1;
    this.list.splice(index, 0, message);
    this.emit('added', message, index);
  }
}

function byTime(a: ChatMessage, b: ChatMessage): number {
  return Date.parse(a.at) - Date.parse(b.at);
}
