/** /specialist: the consults they are invited to, each with a Join button, and past ones. */
import type { Consult } from '../api';
import type { AppContext } from '../context';
import { h, startOfToday } from '../dom';
import { consultCard, consultList, hasRecord, recordLink } from '../components/consultCard';
import { busy, messageBox } from '../components/message';
import { pastConsults } from '../components/pastConsults';
import { shell } from '../components/shell';
import { startConsult } from '../components/start';
import type { Cleanup } from '../router';

const POLL_MS = 30_000;

export function specialistPage(ctx: AppContext): Cleanup {
  const main = shell(ctx, 'Your invitations');
  const me = ctx.auth.user!;
  const people = new Map([[me.id, { name: `${me.name} (you)` }]]);
  const slot = h('div', { 'aria-live': 'polite' });
  const message = messageBox('consults-message');
  const past = pastConsults(ctx, { people: () => people, me: me.id });

  function renderConsult(c: Consult): HTMLElement {
    const card = consultCard(c, { people });
    const join = h(
      'button',
      { type: 'button', class: 'primary', testid: 'join-consult-button' },
      c.status === 'scheduled' ? 'Join waiting room' : 'Join',
    );
    join.addEventListener('click', () => void startConsult(ctx, c.id, join, card.message));
    card.actions.append(join);
    if (hasRecord(c)) card.actions.append(recordLink(c.id));
    return card.el;
  }

  async function load(): Promise<void> {
    try {
      const page = await ctx.api.listConsults({
        from: startOfToday().toISOString(),
        status: ['scheduled', 'open', 'live'],
        limit: 200,
      });
      if (!ctx.isCurrent()) return;
      message.clear();
      slot.replaceChildren(
        consultList(page.items.map(renderConsult), 'You have no upcoming consults.'),
      );
    } catch (err) {
      message.error(err);
    }
  }

  const refresh = h('button', { type: 'button', testid: 'consults-refresh' }, 'Refresh');
  refresh.addEventListener('click', () => void busy(refresh, load));
  main.append(
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'inv-h' },
      h(
        'div',
        { class: 'card-head' },
        h('h2', { id: 'inv-h' }, 'Consults you are invited to'),
        refresh,
      ),
      h(
        'p',
        { class: 'muted' },
        'The waiting room opens shortly before each consult; the host admits you from there.',
      ),
      message.el,
      slot,
    ),
    past.el,
  );
  void load();
  void past.load();
  const timer = setInterval(() => {
    if (document.visibilityState === 'visible' && !slot.querySelector('.message:not([hidden])'))
      void load();
  }, POLL_MS);
  return () => clearInterval(timer);
}
