/** The host's waiting-room panel: who waits, with Admit and Deny for each. */
import type { LobbyEntryInfo } from '../../../src/protocol';
import { formatClockShort, personLabel } from '../format';
import { describeError } from '../request';
import { roleLabel } from '../tiles';
import { h } from '../dom';
import { messageBox } from './message';

export interface LobbyActions {
  admit(peerId: string): Promise<void>;
  deny(peerId: string): Promise<void>;
}

function waitedFor(since: string, now = Date.now()): string {
  const minutes = Math.floor((now - Date.parse(since)) / 60_000);
  if (!Number.isFinite(minutes) || minutes < 1) return 'just now';
  return minutes === 1 ? 'for 1 minute' : `for ${minutes} minutes`;
}

export class LobbyPanel {
  readonly el: HTMLElement;
  private readonly list: HTMLUListElement;
  private readonly count: HTMLElement;
  private readonly announce: HTMLElement;
  private readonly message = messageBox('lobby-message');
  private known = new Set<string>();
  private entries: LobbyEntryInfo[] = [];
  /** How many wait in all (the server lists at most 50). */
  private total = 0;
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(private readonly actions: LobbyActions) {
    this.count = h('span', { class: 'count', testid: 'lobby-count' }, '0');
    this.list = h('ul', { class: 'lobby-list', testid: 'lobby-list' });
    this.announce = h('p', { class: 'visually-hidden', 'aria-live': 'assertive' });
    this.el = h(
      'section',
      { class: 'lobby-panel', testid: 'lobby-panel', 'aria-labelledby': 'lobby-h', hidden: true },
      h('h2', { id: 'lobby-h' }, 'Waiting room ', this.count),
      this.message.el,
      this.list,
      this.announce,
    );
    // Keep "waiting for N minutes" current.
    this.timer = setInterval(() => this.render(), 30_000);
  }

  /** Shows or hides the panel (only those who may admit see it, once joined). */
  setVisible(visible: boolean): void {
    this.el.hidden = !visible;
  }

  update(entries: LobbyEntryInfo[], total = entries.length): void {
    const arrived = entries.filter((e) => !this.known.has(e.peerId));
    this.known = new Set(entries.map((e) => e.peerId));
    this.entries = entries;
    this.total = Math.max(total, entries.length);
    if (arrived.length) {
      const names = arrived.map((e) => personLabel(e)).join(', ');
      this.announce.textContent = `${names} ${arrived.length > 1 ? 'are' : 'is'} waiting to be admitted.`;
    }
    this.render();
  }

  destroy(): void {
    clearInterval(this.timer);
  }

  private render(): void {
    this.count.textContent = String(this.total);
    this.el.classList.toggle('has-waiting', this.total > 0);
    this.list.replaceChildren();
    if (!this.entries.length) {
      this.list.append(h('li', { class: 'muted', testid: 'lobby-empty' }, 'Nobody is waiting.'));
      return;
    }
    for (const e of this.entries) {
      const admit = h(
        'button',
        {
          type: 'button',
          class: 'primary small',
          testid: 'admit-button',
          'aria-label': `Admit ${personLabel(e)}`,
        },
        'Admit',
      );
      const deny = h(
        'button',
        {
          type: 'button',
          class: 'danger-outline small',
          testid: 'deny-button',
          'aria-label': `Deny ${personLabel(e)}`,
        },
        'Deny',
      );
      const run = (fn: () => Promise<void>) => {
        admit.disabled = deny.disabled = true;
        this.message.clear();
        fn().catch((err: unknown) => {
          admit.disabled = deny.disabled = false;
          this.message.show('error', describeError(err).message);
        });
      };
      admit.addEventListener('click', () => run(() => this.actions.admit(e.peerId)));
      deny.addEventListener('click', () => run(() => this.actions.deny(e.peerId)));
      this.list.append(
        h(
          'li',
          { class: 'lobby-entry', testid: 'lobby-entry', dataset: { peerId: e.peerId } },
          h(
            'div',
            { class: 'lobby-who' },
            h('span', { class: 'name' }, personLabel(e)),
            h(
              'span',
              { class: 'role' },
              `${roleLabel(e.role)} · waiting ${waitedFor(e.since)}`,
              e.redeemedAt ? ` · opened the link at ${formatClockShort(e.redeemedAt)}` : '',
            ),
          ),
          h('div', { class: 'lobby-buttons' }, admit, deny),
        ),
      );
    }
    const more = this.total - this.entries.length;
    if (more > 0) this.list.append(h('li', { class: 'muted' }, `and ${more} more waiting`));
  }
}
