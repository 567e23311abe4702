/**
 * The consult page's chat: the transcript (history for late joiners, then live messages),
 * and a box to write in with a character counter; Enter sends, Shift+Enter starts a new line.
 * A message that could not be sent stays in the box with the reason shown.
 */
import { CHAT_MAX_CHARS, chatTextError } from '../chat';
import type { ChatLog, ChatMessage } from '../chat';
import { h } from '../dom';
import { formatClockShort, formatFull } from '../format';
import { describeError } from '../request';
import { roleLabel } from '../tiles';
import { isRole } from '../../../src/protocol/roles';

export interface ChatPanelOptions {
  log: ChatLog;
  /** Sends one message; rejects with the server's reason. */
  send(text: string): Promise<unknown>;
  /** This participant's user id (their own messages are marked). */
  selfId(): string | null;
  /** Fetches the messages before message `before`, oldest first. */
  loadEarlier(before: string): Promise<{ messages: ChatMessage[]; hasMore: boolean }>;
}

export class ChatPanel {
  readonly el: HTMLElement;
  private readonly list: HTMLOListElement;
  private readonly input: HTMLTextAreaElement;
  private readonly sendButton: HTMLButtonElement;
  private readonly counter: HTMLElement;
  private readonly error: HTMLElement;
  private readonly count: HTMLElement;
  private readonly earlier: HTMLButtonElement;
  private enabled = false;
  private sending = false;
  private readonly off: (() => void)[] = [];

  constructor(private readonly opts: ChatPanelOptions) {
    this.list = h('ol', {
      class: 'chat-list',
      testid: 'chat-list',
      role: 'log',
      'aria-live': 'polite',
      'aria-label': 'Chat messages',
    });
    this.input = h('textarea', {
      testid: 'chat-input',
      class: 'prose',
      rows: 2,
      maxlength: CHAT_MAX_CHARS,
      'aria-label': 'Message',
      placeholder: 'Join the consult to chat',
      disabled: true,
    });
    this.sendButton = h(
      'button',
      { type: 'submit', class: 'primary small', testid: 'chat-send', disabled: true },
      'Send',
    );
    this.counter = h('small', { class: 'counter', testid: 'chat-counter', 'aria-live': 'off' });
    this.error = h('p', {
      class: 'message message-error',
      testid: 'chat-error',
      role: 'alert',
      hidden: true,
    });
    this.count = h('span', { class: 'count', testid: 'chat-count' }, '0');
    this.earlier = h(
      'button',
      { type: 'button', class: 'small', testid: 'chat-earlier', hidden: true },
      'Load earlier messages',
    );
    this.earlier.addEventListener('click', () => void this.loadEarlier());
    const form = h(
      'form',
      { class: 'chat-form', novalidate: true },
      this.input,
      this.error,
      h('div', { class: 'chat-actions' }, this.counter, this.sendButton),
    );
    this.el = h(
      'section',
      { class: 'side-card chat-panel', testid: 'chat-panel', 'aria-labelledby': 'chat-h' },
      h('h2', { id: 'chat-h' }, 'Chat ', this.count),
      this.earlier,
      this.list,
      form,
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.submit();
    });
    this.input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        void this.submit();
      }
    });
    this.input.addEventListener('input', () => {
      this.error.hidden = true;
      this.renderCounter();
    });
    this.off.push(
      opts.log.on('reset', (messages) => this.renderAll(messages)),
      opts.log.on('added', (m, index) => this.insert(m, index)),
    );
    this.renderAll(opts.log.messages);
    this.renderCounter();
  }

  /**
   * Chat works only while joined (not in the waiting room); `closedReason` says why it is
   * closed when that is not "not joined yet" (e.g. the consult has ended).
   */
  setEnabled(enabled: boolean, closedReason?: string): void {
    const placeholder = enabled
      ? 'Write a message (Enter sends, Shift+Enter for a new line)'
      : (closedReason ?? 'Join the consult to chat');
    if (enabled === this.enabled && this.input.placeholder === placeholder) return;
    this.enabled = enabled;
    this.input.disabled = !enabled;
    this.input.placeholder = placeholder;
    this.renderCounter();
  }

  destroy(): void {
    for (const off of this.off.splice(0)) off();
  }

  private renderCounter(): void {
    const n = this.input.value.trim().length;
    this.counter.textContent = `${n} / ${CHAT_MAX_CHARS}`;
    this.counter.classList.toggle('near-limit', n > CHAT_MAX_CHARS * 0.9);
    this.sendButton.disabled = !this.enabled || this.sending || n === 0 || n > CHAT_MAX_CHARS;
  }

  private showError(text: string): void {
    this.error.textContent = text;
    this.error.hidden = false;
  }

  private async submit(): Promise<void> {
    if (!this.enabled || this.sending) return;
    const text = this.input.value;
    const problem = chatTextError(text);
    if (problem) {
      this.showError(problem);
      return;
    }
    this.sending = true;
    this.error.hidden = true;
    this.renderCounter();
    try {
      await this.opts.send(text.trim());
      // Clear only what was sent (the user may have typed on meanwhile).
      if (this.input.value === text) this.input.value = '';
    } catch (err) {
      this.showError(`Not sent: ${describeError(err).message}`);
    } finally {
      this.sending = false;
      this.renderCounter();
      if (this.enabled) this.input.focus();
    }
  }

  private async loadEarlier(): Promise<void> {
    const oldest = this.opts.log.messages[0];
    if (!oldest) return;
    this.earlier.disabled = true;
    try {
      const page = await this.opts.loadEarlier(oldest.id);
      const fromBottom = this.list.scrollHeight - this.list.scrollTop;
      this.opts.log.loadHistory(page.messages, page.hasMore);
      // Keep the messages the user was reading where they were.
      this.list.scrollTop = this.list.scrollHeight - fromBottom;
    } catch (err) {
      this.showError(`Could not load earlier messages: ${describeError(err).message}`);
    } finally {
      this.earlier.disabled = false;
    }
  }

  private renderAll(messages: readonly ChatMessage[]): void {
    this.earlier.hidden = !this.opts.log.hasMore;
    this.list.replaceChildren(...messages.map((m) => this.item(m)));
    if (!messages.length)
      this.list.append(h('li', { class: 'muted chat-empty' }, 'No messages yet.'));
    this.count.textContent = String(messages.length);
    this.list.scrollTop = this.list.scrollHeight;
  }

  private insert(m: ChatMessage, index: number): void {
    this.list.querySelector('.chat-empty')?.remove();
    const atBottom = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 40;
    const node = this.item(m);
    this.list.insertBefore(node, this.list.children[index] ?? null);
    this.count.textContent = String(this.opts.log.messages.length);
    if (atBottom || m.senderId === this.opts.selfId()) this.list.scrollTop = this.list.scrollHeight;
  }

  private item(m: ChatMessage): HTMLElement {
    const own = m.senderId === this.opts.selfId();
    const role = isRole(m.senderRole) ? roleLabel(m.senderRole) : m.senderRole;
    return h(
      'li',
      {
        class: own ? 'chat-message own' : 'chat-message',
        testid: 'chat-message',
        dataset: { id: m.id },
      },
      h(
        'div',
        { class: 'chat-meta' },
        h(
          'span',
          { class: 'chat-sender', testid: 'chat-sender' },
          own ? `${m.senderName} (you)` : m.senderName,
        ),
        h('span', { class: 'muted' }, role),
        h('time', { datetime: m.at, title: formatFull(m.at) }, formatClockShort(m.at)),
      ),
      h('p', { class: 'chat-text', testid: 'chat-text' }, m.text),
    );
  }
}
