/**
 * /doctor: today's and upcoming consults. For consults they host: start (into the consult
 * page), invite links, reschedule and cancel; for consults they are invited to: join.
 * Doctors may also schedule consults they host themselves, and open the record of live and
 * past consults.
 */
import type { Colleague, Consult } from '../api';
import type { AppContext } from '../context';
import { h, startOfToday } from '../dom';
import { consultCard, consultList, hasRecord, recordLink } from '../components/consultCard';
import type { ConsultCard } from '../components/consultCard';
import { consultForm } from '../components/consultForm';
import { invitePanel } from '../components/invites';
import { busy, messageBox } from '../components/message';
import { pastConsults } from '../components/pastConsults';
import { confirmButton, rescheduleForm } from '../components/reschedule';
import { shell } from '../components/shell';
import { precallPanel, startConsult } from '../components/start';
import { alertArrival, unlockAlerts } from '../alerts';
import type { Cleanup } from '../router';

const POLL_MS = 30_000;
/** While a consult the doctor hosts has its waiting room open: how often to look for arrivals. */
const WAITING_POLL_MS = 5_000;

/** Splits consults into those of today (or already open/live) and later ones. */
export function splitByDay(consults: Consult[], now = new Date()): [Consult[], Consult[]] {
  const tomorrow = startOfToday(now).getTime() + 24 * 3600_000;
  const today: Consult[] = [];
  const later: Consult[] = [];
  for (const c of consults) {
    const isToday =
      Date.parse(c.scheduledStart) < tomorrow || c.status === 'open' || c.status === 'live';
    (isToday ? today : later).push(c);
  }
  return [today, later];
}

export function doctorPage(ctx: AppContext): Cleanup {
  const main = shell(ctx, 'Your consults');
  const { api } = ctx;
  const me = ctx.auth.user!;
  let byId = new Map<string, Colleague>();
  let cards: ConsultCard[] = [];

  const todaySlot = h('div', { testid: 'today' });
  const laterSlot = h('div', { testid: 'upcoming' });
  const listMessage = messageBox('consults-message');
  const scheduleSlot = h('div');
  const past = pastConsults(ctx, { people: () => byId, me: me.id });

  async function load(): Promise<void> {
    try {
      const page = await api.listConsults({
        from: startOfToday().toISOString(),
        status: ['scheduled', 'open', 'live'],
        limit: 200,
      });
      if (!ctx.isCurrent()) return;
      listMessage.clear();
      cards = [];
      noteArrivals(page.items);
      const [today, later] = splitByDay(page.items);
      todaySlot.replaceChildren(consultList(today.map(renderConsult), 'No consults today.'));
      laterSlot.replaceChildren(consultList(later.map(renderConsult), 'Nothing scheduled.'));
    } catch (err) {
      listMessage.error(err);
    }
  }

  /** How many waited in each hosted consult at the last look; more now means someone arrived. */
  const waitingSeen = new Map<string, number>();
  function noteArrivals(consults: Consult[]): void {
    const before = new Map(waitingSeen);
    waitingSeen.clear();
    for (const c of consults) {
      if (c.waiting === undefined) continue;
      if (c.waiting > (before.get(c.id) ?? 0)) alertArrival(`Someone in “${c.title}”`, 1);
      waitingSeen.set(c.id, c.waiting);
    }
  }

  function renderConsult(c: Consult): HTMLElement {
    const hosting = c.hostId === me.id;
    const card = consultCard(c, { people: byId, hideHost: hosting });
    cards.push(card);
    const button = (testid: string, label: string, primary = false) =>
      h('button', { type: 'button', testid, class: primary ? 'primary' : undefined }, label);

    const record = hasRecord(c) ? recordLink(c.id) : null;
    if (!hosting) {
      const join = button('join-consult-button', 'Join', true);
      join.addEventListener('click', () => void startConsult(ctx, c.id, join, card.message));
      card.actions.append(join);
      if (record) card.actions.append(record);
      return card.el;
    }
    const start = button('start-button', c.status === 'live' ? 'Rejoin' : 'Start', true);
    start.addEventListener(
      'click',
      () => void startConsult(ctx, c.id, start, card.message, { alerts: true }),
    );
    // The pre-call check needs a join grant: offered once the waiting room is open.
    if (c.status === 'open' || c.status === 'live') {
      const check = button('precall-button', 'Check devices');
      check.addEventListener('click', () => {
        unlockAlerts();
        card.panels.toggle('precall', () => precallPanel(ctx, c.id, card.message));
      });
      card.actions.append(check);
    }
    const invite = button('invite-button', 'Invite link');
    invite.addEventListener('click', () => card.panels.toggle('invite', () => invitePanel(api, c)));
    card.actions.append(start, invite);
    if (record) card.actions.append(record);
    if (c.status !== 'scheduled' && c.status !== 'open') return card.el;

    const reschedule = button('reschedule-button', 'Reschedule');
    reschedule.addEventListener('click', () =>
      card.panels.toggle('reschedule', () =>
        rescheduleForm(api, c, (updated) => {
          card.panels.close();
          if (updated) void load();
        }),
      ),
    );
    const cancel = confirmButton(
      'Cancel',
      'Click again to cancel',
      { testid: 'cancel-button', 'aria-label': `Cancel ${c.title}` },
      async () => {
        try {
          await api.cancelConsult(c.id);
          await load();
        } catch (err) {
          card.message.error(err);
        }
      },
    );
    card.actions.append(reschedule, cancel);
    return card.el;
  }

  async function loadPeople(): Promise<void> {
    try {
      const people = (await api.listColleagues()).items;
      if (!ctx.isCurrent()) return;
      byId = new Map(people.map((u) => [u.id, u]));
      scheduleSlot.replaceChildren(
        consultForm({ api, people, fixedHostId: me.id, onCreated: () => void load() }),
      );
    } catch (err) {
      scheduleSlot.replaceChildren(messageBox().el);
      listMessage.error(err);
    }
  }

  const refresh = h('button', { type: 'button', testid: 'consults-refresh' }, 'Refresh');
  refresh.addEventListener(
    'click',
    () => void busy(refresh, () => Promise.all([load(), past.load()])),
  );

  main.append(
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'today-h' },
      h('div', { class: 'card-head' }, h('h2', { id: 'today-h' }, 'Today'), refresh),
      listMessage.el,
      todaySlot,
    ),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'later-h' },
      h('h2', { id: 'later-h' }, 'Upcoming'),
      laterSlot,
    ),
    past.el,
    h(
      'details',
      { class: 'card' },
      h('summary', { testid: 'schedule-toggle' }, h('h2', {}, 'Schedule a consult')),
      scheduleSlot,
    ),
  );

  void loadPeople().then(() => Promise.all([load(), past.load()]));
  // Statuses change (the waiting room opens, a consult goes live): refresh unless a panel is open.
  let lastLoad = Date.now();
  const timer = setInterval(() => {
    const waitingOpen = waitingSeen.size > 0;
    const due = Date.now() - lastLoad >= (waitingOpen ? WAITING_POLL_MS : POLL_MS);
    if (!due || cards.some((c) => c.panels.isOpen) || document.visibilityState !== 'visible')
      return;
    lastLoad = Date.now();
    void load();
  }, WAITING_POLL_MS);
  return () => clearInterval(timer);
}
