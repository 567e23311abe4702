/**
 * Chat policy of the signalling server: how fast one participant may post, how many messages
 * a consult may hold, and how much history a join carries (older messages are paged).
 */
import { GatewayError } from '../errors.js';
import type { ConsultRecorder } from '../clinicalRecord/ConsultRecorder.js';
import type { ChatMessage } from '../store/repositories.js';
import type { ChatEntry } from '../protocol/payloads.js';
import { MemoryRateLimits, type RateLimits } from './rateLimit.js';

export interface ChatLimits {
  /** Messages per second one participant may post on average, and at once. */
  perSecond: number;
  burst: number;
  /** Messages `join` carries; older ones come from `chatHistory`. */
  historyOnJoin: number;
  /** Messages one consult may hold in all. */
  maxPerConsult: number;
}

/** History pages one participant may ask for, per second on average and at once. */
const HISTORY_PAGES = { perSecond: 2, burst: 10 };

export const chatEntry = (m: ChatMessage): ChatEntry => ({
  id: m.id,
  at: new Date(m.at).toISOString(),
  senderId: m.senderId,
  senderName: m.senderName,
  senderRole: m.senderRole,
  text: m.text,
});

/** The rate-limit keys of a consult's chat: posts and history pages, per participant. */
const postKey = (consultId: string, userId: string) => `chat\u0000${consultId}\u0000${userId}`;
const pageKey = (consultId: string, userId: string) => `chatpage\u0000${consultId}\u0000${userId}`;

export class ChatPolicy {
  constructor(
    private readonly recorder: ConsultRecorder,
    readonly limits: ChatLimits,
    /** Token buckets per consult and participant (shared by every node in a cluster). */
    private readonly rates: RateLimits = new MemoryRateLimits(),
  ) {}

  /** Stores a message once the sender is within its rate and the consult within its cap. */
  async post(
    consultId: string,
    sender: { id: string; name: string; role: string },
    text: string,
  ): Promise<ChatMessage> {
    const { perSecond, burst } = this.limits;
    const taken = await this.rates.take(postKey(consultId, sender.id), { perSecond, burst });
    if (!taken.ok) {
      throw new GatewayError(
        'rate_limited',
        `you are sending messages too fast; wait ${taken.waitSeconds} s and send again`,
      );
    }
    // The cap is counted in the store with the insert, so concurrent posts cannot pass it together.
    return this.recorder.chat(consultId, sender, text, this.limits.maxPerConsult);
  }

  /** What `join` carries: the latest messages and whether older ones exist. */
  async onJoin(consultId: string): Promise<{ chat: ChatEntry[]; chatHasMore: boolean }> {
    if (this.limits.historyOnJoin === 0) {
      return { chat: [], chatHasMore: (await this.recorder.chatCount(consultId)) > 0 };
    }
    const page = await this.recorder.chatPage(consultId, undefined, this.limits.historyOnJoin);
    return { chat: page.messages.map(chatEntry), chatHasMore: page.hasMore };
  }

  /** Older messages, oldest first, for one participant's "load earlier messages". */
  async history(
    consultId: string,
    userId: string,
    before: { id: string } | { at: number },
    limit: number,
  ): Promise<{ messages: ChatEntry[]; hasMore: boolean }> {
    const taken = await this.rates.take(pageKey(consultId, userId), HISTORY_PAGES);
    if (!taken.ok) {
      throw new GatewayError(
        'rate_limited',
        `too many history requests; wait ${taken.waitSeconds} s and retry`,
      );
    }
    const page = await this.recorder.chatPage(consultId, before, limit);
    return { messages: page.messages.map(chatEntry), hasMore: page.hasMore };
  }

  /** Drops a consult's buckets (it ended). */
  forget(consultId: string): void {
    this.rates.forget(postKey(consultId, ''));
    this.rates.forget(pageKey(consultId, ''));
  }
}
