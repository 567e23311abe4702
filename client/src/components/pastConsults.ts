/**
 * "Past consults" on the dashboards: ended and cancelled consults of a chosen period, newest
 * first, each with a link to its record.
 */
import type { Consult, User } from '../api';
import type { AppContext } from '../context';
import { field, h, select, startOfToday } from '../dom';
import { consultCard, consultList, hasRecord, recordLink } from './consultCard';
import { busy, messageBox } from './message';

const PAGE_SIZE = 20;
const DAY_MS = 24 * 3600_000;

const PERIODS: Record<string, { label: string; days: number | null }> = {
  '7': { label: 'Last 7 days', days: 7 },
  '30': { label: 'Last 30 days', days: 30 },
  '90': { label: 'Last 90 days', days: 90 },
  all: { label: 'All', days: null },
};

export interface PastConsultsOptions {
  /** Known users by id (names on the cards). */
  people?: () => ReadonlyMap<string, Pick<User, 'name'>>;
  /** The viewer's id: the host line is hidden on consults they hosted. */
  me?: string;
}

export interface PastConsults {
  el: HTMLElement;
  load(): Promise<void>;
}

export function pastConsults(ctx: AppContext, opts: PastConsultsOptions = {}): PastConsults {
  const period = select(
    { testid: 'past-period' },
    Object.entries(PERIODS).map(([k, p]) => [k, p.label] as const),
    '30',
  );
  const slot = h('div', { testid: 'past', 'aria-live': 'polite' });
  const message = messageBox('past-message');
  const more = h(
    'button',
    { type: 'button', testid: 'past-more', class: 'secondary', hidden: true },
    'Show older',
  );
  /** How many of the newest consults are shown. */
  let shown = PAGE_SIZE;

  function render(c: Consult): HTMLElement {
    const card = consultCard(c, { people: opts.people?.(), hideHost: c.hostId === opts.me });
    if (hasRecord(c)) card.actions.append(recordLink(c.id));
    return card.el;
  }

  async function load(): Promise<void> {
    const days = PERIODS[period.value]?.days ?? null;
    const query = {
      status: ['ended', 'cancelled'] as Consult['status'][],
      from:
        days === null
          ? undefined
          : new Date(startOfToday().getTime() - days * DAY_MS).toISOString(),
      to: new Date().toISOString(),
    };
    try {
      // The API lists oldest first: read the total, then the newest `shown` from the end.
      const head = await ctx.api.listConsults({ ...query, limit: 1 });
      const offset = Math.max(0, head.total - shown);
      const page = head.total
        ? await ctx.api.listConsults({ ...query, offset, limit: Math.min(shown, 200) })
        : head;
      if (!ctx.isCurrent()) return;
      message.clear();
      const items = [...page.items].reverse();
      slot.replaceChildren(consultList(items.map(render), 'No past consults in this period.'));
      more.hidden = offset === 0 || shown >= 200;
    } catch (err) {
      message.error(err);
    }
  }

  period.addEventListener('change', () => {
    shown = PAGE_SIZE;
    void load();
  });
  more.addEventListener('click', () => {
    shown += PAGE_SIZE;
    void busy(more, load);
  });

  const el = h(
    'section',
    { class: 'card', 'aria-labelledby': 'past-h' },
    h(
      'div',
      { class: 'card-head' },
      h('h2', { id: 'past-h' }, 'Past consults'),
      h('div', { class: 'toolbar' }, field('Period', period)),
    ),
    message.el,
    slot,
    h('div', { class: 'pager' }, more),
  );
  return { el, load };
}
