/**
 * /admin/audit: search the append-only audit log by action (exact or prefix), actor, object
 * and time range; newest first, paginated. The filters live in the URL, so a search can be
 * bookmarked or shared with another administrator.
 */
import type { AuditEntry, AuditQuery } from '../api';
import type { AppContext } from '../context';
import { field, fromLocalInput, h, select, toLocalInput } from '../dom';
import { formatFull } from '../format';
import { busy, messageBox } from '../components/message';
import { shell } from '../components/shell';
import type { Cleanup } from '../router';

/** Actions the gateway writes (for suggestions; any text is accepted). */
const KNOWN_ACTIONS = [
  'auth',
  'auth.login',
  'auth.refresh',
  'auth.logout',
  'user',
  'user.create',
  'user.disable',
  'user.enable',
  'consult',
  'consult.create',
  'consult.update',
  'consult.cancel',
  'consult.join_grant',
  'consult.lobby_wait',
  'consult.join',
  'consult.resume',
  'consult.admit',
  'consult.deny',
  'consult.remove',
  'consult.leave',
  'consult.end',
  'consult.interrupted',
  'consult.notes',
  'invite',
  'invite.create',
  'invite.use',
  'invite.revoke',
  'record',
  'record.view',
  'record.export',
  'retention.purge',
];

const PAGE_SIZES = ['25', '50', '100', '200'] as const;

interface Filters {
  action: string;
  actor: string;
  object: string;
  /** datetime-local values (local time) */
  from: string;
  to: string;
  limit: number;
  offset: number;
}

function readFilters(url: URL): Filters {
  const p = url.searchParams;
  const date = (v: string | null) => {
    const t = v ? Date.parse(v) : NaN;
    return Number.isFinite(t) ? toLocalInput(new Date(t)) : '';
  };
  const limit = Number(p.get('limit'));
  return {
    action: p.get('action') ?? '',
    actor: p.get('actor') ?? '',
    object: p.get('object') ?? '',
    from: date(p.get('from')),
    to: date(p.get('to')),
    limit: PAGE_SIZES.includes(String(limit) as never) ? limit : 50,
    offset: Math.max(0, Math.floor(Number(p.get('offset')) || 0)),
  };
}

function toQuery(f: Filters): AuditQuery {
  const text = (v: string) => v.trim() || undefined;
  return {
    action: text(f.action),
    actor: text(f.actor),
    object: text(f.object),
    from: fromLocalInput(f.from) ?? undefined,
    to: fromLocalInput(f.to) ?? undefined,
    limit: f.limit,
    offset: f.offset || undefined,
  };
}

function detailsText(details: Record<string, unknown> | null): string {
  if (!details) return '';
  return Object.entries(details)
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' · ');
}

export function auditPage(ctx: AppContext): Cleanup {
  const main = shell(ctx, 'Audit log');
  let filters = readFilters(new URL(window.location.href));

  const action = h('input', {
    testid: 'audit-filter-action',
    list: 'audit-actions',
    maxlength: 64,
    placeholder: 'auth.login, or a prefix: auth',
    value: filters.action,
  });
  const actor = h('input', {
    testid: 'audit-filter-actor',
    list: 'audit-actors',
    maxlength: 128,
    placeholder: 'User id',
    value: filters.actor,
  });
  const object = h('input', {
    testid: 'audit-filter-object',
    maxlength: 128,
    placeholder: 'Consult, user or invite id',
    value: filters.object,
  });
  const from = h('input', {
    type: 'datetime-local',
    testid: 'audit-filter-from',
    value: filters.from,
  });
  const to = h('input', { type: 'datetime-local', testid: 'audit-filter-to', value: filters.to });
  const pageSize = select(
    { testid: 'audit-page-size' },
    PAGE_SIZES.map((n) => [n, `${n} rows`] as const),
    String(filters.limit),
  );
  const actions = h(
    'datalist',
    { id: 'audit-actions' },
    ...KNOWN_ACTIONS.map((a) => h('option', { value: a })),
  );
  const actors = h('datalist', { id: 'audit-actors' });
  const search = h(
    'button',
    { type: 'submit', class: 'primary', testid: 'audit-search' },
    'Search',
  );
  const reset = h('button', { type: 'button', testid: 'audit-reset' }, 'Clear filters');
  const form = h(
    'form',
    { class: 'audit-filters', novalidate: true, 'aria-label': 'Filter the audit log' },
    field('Action', action),
    field('Actor', actor),
    field('Object', object),
    field('From', from),
    field('To', to),
    field('Show', pageSize),
    h('div', { class: 'form-actions audit-buttons' }, reset, search),
    actions,
    actors,
  );

  const message = messageBox('audit-message');
  const rows = h('tbody');
  const total = h('p', { class: 'muted', testid: 'audit-total', role: 'status' });
  const prev = h('button', { type: 'button', testid: 'audit-prev' }, '← Newer');
  const next = h('button', { type: 'button', testid: 'audit-next' }, 'Older →');
  const range = h('span');
  const pager = h('div', { class: 'pager' }, prev, range, next);

  /** Puts a value into a filter and searches (clicking an actor or object in the table). */
  const filterBy = (input: HTMLInputElement, value: string) =>
    h(
      'button',
      {
        type: 'button',
        class: 'link-button id-chip',
        title: `Show only rows with ${value}`,
        on: {
          click: () => {
            input.value = value;
            void run(0);
          },
        },
      },
      value,
    );

  function renderRow(e: AuditEntry): HTMLElement {
    const details = detailsText(e.details);
    return h(
      'tr',
      { testid: 'audit-row', dataset: { action: e.action, outcome: e.outcome } },
      h('td', { class: 'nowrap' }, h('time', { datetime: e.at }, formatFull(e.at))),
      h('td', {}, h('code', { testid: 'audit-action' }, e.action)),
      h(
        'td',
        {},
        h('span', { class: `status outcome-${e.outcome}`, testid: 'audit-outcome' }, e.outcome),
      ),
      h(
        'td',
        {},
        e.actorLabel ? h('div', {}, e.actorLabel) : null,
        e.actorId
          ? filterBy(actor, e.actorId)
          : e.actorLabel
            ? null
            : h('span', { class: 'muted' }, '—'),
      ),
      h('td', { class: 'nowrap' }, e.sourceIp ?? '—'),
      h(
        'td',
        {},
        e.objectType ? h('div', { class: 'muted' }, e.objectType) : null,
        e.objectId ? filterBy(object, e.objectId) : '—',
        e.objectType === 'consult' && e.objectId
          ? h(
              'a',
              { href: `/consults/${encodeURIComponent(e.objectId)}/record`, class: 'small-link' },
              'record',
            )
          : null,
      ),
      h('td', { class: 'audit-details', title: details }, details),
    );
  }

  async function load(): Promise<void> {
    try {
      const page = await ctx.api.searchAudit(toQuery(filters));
      if (!ctx.isCurrent()) return;
      message.clear();
      rows.replaceChildren(...page.items.map(renderRow));
      if (!page.items.length) {
        rows.append(
          h(
            'tr',
            {},
            h('td', { colspan: 7, class: 'empty' }, 'No audit rows match these filters.'),
          ),
        );
      }
      total.textContent = `${page.total.toLocaleString()} matching row${page.total === 1 ? '' : 's'}`;
      const last = Math.min(page.offset + page.items.length, page.total);
      range.textContent = page.total ? `${page.offset + 1}–${last} of ${page.total}` : '';
      prev.disabled = page.offset === 0;
      next.disabled = page.offset + page.limit >= page.total;
      pager.hidden = page.total <= page.limit && page.offset === 0;
    } catch (err) {
      if (ctx.isCurrent()) message.error(err);
    }
  }

  /** Reads the form, puts the filters in the URL and loads page `offset`. */
  async function run(offset: number): Promise<void> {
    if (from.value && to.value && fromLocalInput(from.value)! > fromLocalInput(to.value)!) {
      message.show('error', '“From” must be before “To”.');
      return;
    }
    filters = {
      action: action.value,
      actor: actor.value,
      object: object.value,
      from: from.value,
      to: to.value,
      limit: Number(pageSize.value),
      offset,
    };
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(toQuery(filters))) {
      if (v !== undefined && !(k === 'limit' && v === 50)) params.set(k, String(v));
    }
    const qs = params.toString();
    history.replaceState(null, '', `/admin/audit${qs ? `?${qs}` : ''}`);
    await busy(search, load);
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void run(0);
  });
  pageSize.addEventListener('change', () => void run(0));
  reset.addEventListener('click', () => {
    form.reset();
    for (const input of [action, actor, object, from, to]) input.value = '';
    pageSize.value = '50';
    void run(0);
  });
  prev.addEventListener('click', () => void run(Math.max(0, filters.offset - filters.limit)));
  next.addEventListener('click', () => void run(filters.offset + filters.limit));

  main.append(
    h('a', { class: 'back-link', href: '/admin' }, '← Administration'),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'audit-h' },
      h(
        'div',
        { class: 'card-head' },
        h('h2', { id: 'audit-h' }, 'Audit log'),
        h(
          'p',
          { class: 'muted' },
          'Every security-relevant event, newest first. Rows cannot be changed.',
        ),
      ),
      form,
    ),
    h(
      'section',
      { class: 'card', 'aria-label': 'Results' },
      total,
      message.el,
      h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          { class: 'table audit-table', testid: 'audit-table' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ...['Time', 'Action', 'Outcome', 'Actor', 'Source IP', 'Object', 'Details'].map((t) =>
                h('th', { scope: 'col' }, t),
              ),
            ),
          ),
          rows,
        ),
      ),
      pager,
    ),
  );

  // Suggest actors by name (the filter takes the id).
  void ctx.api
    .listUsers()
    .then((page) => {
      if (!ctx.isCurrent()) return;
      actors.replaceChildren(
        ...page.items.map((u) => h('option', { value: u.id }, `${u.name} (${u.email})`)),
      );
    })
    .catch(() => undefined);
  void load();
  return () => undefined;
}
