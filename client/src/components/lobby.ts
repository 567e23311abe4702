/**
 * The host's waiting-room panel: who waits and for how long, with Admit, Deny and a short
 * message for each; each arrival beeps and notifies (see alerts.ts).
 */
import type { LobbyEntryInfo } from '../../../src/protocol';
import { LOBBY_MESSAGE_MAX_CHARS } from '../../../src/protocol/limits';
import { alertArrival, alertsNeedClick, unlockAlerts } from '../alerts';
import { formatClockShort, personLabel } from '../format';
import { describeError } from '../request';
import { roleLabel } from '../tiles';
import { h } from '../dom';
import { messageBox } from './message';

export interface LobbyActions {
  admit(peerId: string): Promise<void>;
  deny(peerId: string): Promise<void>;
  /** A short message shown on the waiting person's page. */
  message?(peerId: string, text: string): Promise<void>;
}

/** Quick replies offered for the waiting-room message. */
const QUICK_MESSAGES = [
  'I will be with you in 5 minutes.',
  'Running late: about 10 minutes. Please stay on this page.',
];

function waitedFor(since: string, now = Date.now()): string {
  const seconds = Math.floor((now - Date.parse(since)) / 1000);
  if (!Number.isFinite(seconds) || seconds < 60) return 'under a minute';
  const minutes = Math.floor(seconds / 60);
  return minutes === 1 ? '1 minute' : `${minutes} minutes`;
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

  private readonly alertsButton = h(
    'button',
    { type: 'button', class: 'secondary small', testid: 'lobby-alerts-on', hidden: true },
    'Turn on sound and notifications',
  );

  constructor(private readonly actions: LobbyActions) {
    this.alertsButton.addEventListener('click', () => {
      unlockAlerts();
      this.alertsButton.hidden = true;
    });
    this.count = h('span', { class: 'count', testid: 'lobby-count' }, '0');
    this.list = h('ul', { class: 'lobby-list', testid: 'lobby-list' });
    this.announce = h('p', { class: 'visually-hidden', 'aria-live': 'assertive' });
    this.el = h(
      'section',
      { class: 'lobby-panel', testid: 'lobby-panel', 'aria-labelledby': 'lobby-h', hidden: true },
      h('h2', { id: 'lobby-h' }, 'Waiting room ', this.count),
      this.alertsButton,
      this.message.el,
      this.list,
      this.announce,
    );
    // Keep "waiting N minutes" current.
    this.timer = setInterval(() => this.render(), 15_000);
  }

  /** Shows or hides the panel (only those who may admit see it, once joined). */
  setVisible(visible: boolean): void {
    this.el.hidden = !visible;
    this.alertsButton.hidden = !visible || !alertsNeedClick();
  }

  update(entries: LobbyEntryInfo[], total = entries.length): void {
    const arrived = entries.filter((e) => !this.known.has(e.peerId));
    this.known = new Set(entries.map((e) => e.peerId));
    for (const id of this.forms.keys()) if (!this.known.has(id)) this.forms.delete(id);
    this.entries = entries;
    this.total = Math.max(total, entries.length);
    if (arrived.length) {
      const names = arrived.map((e) => personLabel(e)).join(', ');
      this.announce.textContent = `${names} ${arrived.length > 1 ? 'are' : 'is'} waiting to be admitted.`;
      alertArrival(names, arrived.length);
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
              h(
                'span',
                { testid: 'lobby-waited' },
                `${roleLabel(e.role)} · waiting ${waitedFor(e.since)}`,
              ),
              e.redeemedAt ? ` · opened the link at ${formatClockShort(e.redeemedAt)}` : '',
            ),
          ),
          h('div', { class: 'lobby-buttons' }, admit, deny),
          this.messageForm(e),
        ),
      );
    }
    const more = this.total - this.entries.length;
    if (more > 0) this.list.append(h('li', { class: 'muted' }, `and ${more} more waiting`));
  }

  /** Message forms by peer id, kept across renders so typing is not lost. */
  private readonly forms = new Map<string, HTMLElement>();

  /** A folded form to send the waiting person a short message, with quick replies. */
  private messageForm(e: LobbyEntryInfo): HTMLElement | null {
    const send = this.actions.message;
    if (!send) return null;
    const kept = this.forms.get(e.peerId);
    if (kept) return kept;
    const input = h('input', {
      type: 'text',
      maxlength: String(LOBBY_MESSAGE_MAX_CHARS),
      testid: 'lobby-message-input',
      'aria-label': `Message to ${personLabel(e)}`,
      placeholder: 'e.g. I will be with you in 5 minutes.',
    });
    const status = h('span', { class: 'muted', role: 'status', testid: 'lobby-message-status' });
    const submit = async (text: string) => {
      if (!text.trim()) return;
      status.textContent = 'Sending…';
      try {
        await send(e.peerId, text.trim());
        status.textContent = 'Sent.';
        input.value = '';
      } catch (err) {
        status.textContent = describeError(err).message;
      }
    };
    const form = h(
      'form',
      { class: 'lobby-message-form' },
      ...QUICK_MESSAGES.map((text, i) =>
        h(
          'button',
          {
            type: 'button',
            class: 'secondary small',
            testid: `lobby-quick-${i}`,
            on: { click: () => void submit(text) },
          },
          text.split(':')[0]!.replace(/\.$/, ''),
        ),
      ),
      input,
      h('button', { type: 'submit', class: 'small', testid: 'lobby-message-send' }, 'Send'),
      status,
    );
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void submit(input.value);
    });
    const el = h(
      'details',
      { class: 'lobby-message', testid: 'lobby-message' },
      h('summary', {}, 'Send a message'),
      form,
    );
    this.forms.set(e.peerId, el);
    return el;
  }
}
