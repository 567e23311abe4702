/** One consult in a list: title, time, patient reference, people, status, and page-specific actions. */
import type { Consult, User } from '../api';
import { formatRange, h } from '../dom';
import { messageBox } from './message';
import type { MessageBox } from './message';
import { statusBadge } from './status';

export interface ConsultCardOptions {
  /** Known users by id, to show names instead of ids (may be empty). */
  people?: ReadonlyMap<string, Pick<User, 'name'>>;
  /** Hide the host line (e.g. on the host's own dashboard). */
  hideHost?: boolean;
}

/** One inline panel at a time under a card; toggling the open one closes it. */
export class PanelSwitch {
  private kind: string | null = null;
  private el: HTMLElement | null = null;

  constructor(private readonly container: HTMLElement) {}

  get isOpen(): boolean {
    return this.kind !== null;
  }

  toggle(kind: string, build: () => HTMLElement): void {
    const same = this.kind === kind;
    this.close();
    if (same) return;
    this.kind = kind;
    this.el = build();
    this.container.prepend(this.el);
  }

  close(): void {
    this.el?.remove();
    this.el = null;
    this.kind = null;
  }
}

export interface ConsultCard {
  el: HTMLLIElement;
  /** Where the page puts its buttons (start, join, invite, …). */
  actions: HTMLElement;
  /** Inline panels (invites, reschedule) under the card. */
  panels: PanelSwitch;
  /** Errors and notices of this card's actions. */
  message: MessageBox;
}

export function consultCard(c: Consult, opts: ConsultCardOptions = {}): ConsultCard {
  // The consult carries the host's and specialists' names; a known-user map may be fresher.
  const name = (id: string) =>
    opts.people?.get(id)?.name ??
    (id === c.host.id ? c.host.name : c.specialists.find((s) => s.id === id)?.name);
  const invited = [
    ...c.specialistIds.map((id) => name(id) ?? 'Invited specialist'),
    ...c.guests.map((g) => `${g.name} (guest)`),
  ];
  const host = name(c.hostId);
  const message = messageBox();
  const details = h('div', { class: 'consult-details' }, message.el);
  const actions = h('div', { class: 'consult-actions' });
  const el = h(
    'li',
    { class: 'consult', testid: 'consult-row', dataset: { consultId: c.id, status: c.status } },
    h(
      'div',
      { class: 'consult-main' },
      h(
        'div',
        { class: 'consult-heading' },
        h('h3', { class: 'consult-title', testid: 'consult-row-title' }, c.title),
        statusBadge(c.status),
        c.waiting
          ? h(
              'span',
              { class: 'badge badge-waiting', testid: 'waiting-badge', role: 'status' },
              `${c.waiting} waiting`,
            )
          : null,
      ),
      h(
        'p',
        { class: 'consult-when' },
        h('time', { datetime: c.scheduledStart }, formatRange(c.scheduledStart, c.scheduledEnd)),
      ),
      h(
        'dl',
        { class: 'consult-facts' },
        h('dt', {}, 'Patient ref.'),
        h('dd', {}, c.patientRef),
        opts.hideHost ? null : h('dt', {}, 'Host'),
        opts.hideHost ? null : h('dd', {}, host ?? 'Doctor'),
        h('dt', {}, 'Invited'),
        h('dd', {}, invited.length ? invited.join(', ') : 'Nobody yet'),
      ),
    ),
    actions,
    details,
  );
  return { el, actions, panels: new PanelSwitch(details), message };
}

/** A list element for consult cards, with an empty-state message. */
export function consultList(items: HTMLElement[], empty: string): HTMLElement {
  if (!items.length) return h('p', { class: 'empty', testid: 'consults-empty' }, empty);
  return h('ul', { class: 'consult-list' }, ...items);
}

/** True when the consult has (or is writing) a record worth opening. */
export function hasRecord(c: Consult): boolean {
  return c.status === 'live' || c.status === 'ended' || c.startedAt !== null;
}

/** A link to the consult's record page. */
export function recordLink(consultId: string): HTMLAnchorElement {
  return h(
    'a',
    {
      class: 'button-link',
      href: `/consults/${encodeURIComponent(consultId)}/record`,
      testid: 'record-link',
    },
    'Record',
  );
}
