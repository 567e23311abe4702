/**
 * /admin: manage accounts, schedule consults, reschedule or cancel them, and open their
 * records; the audit log is at /admin/audit.
 */
import type { Consult, ConsultStatus, User, UserRole } from '../api';
import type { AppContext } from '../context';
import { field, h, select } from '../dom';
import { consultCard, consultList, hasRecord, recordLink } from '../components/consultCard';
import { consultForm } from '../components/consultForm';
import { invitePanel } from '../components/invites';
import { busy, messageBox } from '../components/message';
import { confirmButton, rescheduleForm } from '../components/reschedule';
import { roleName, shell } from '../components/shell';
import { ACTIVE_STATUSES } from '../components/status';
import type { Cleanup } from '../router';
import { startConsult } from '../components/start';

const PAGE_SIZE = 20;

const FILTERS: Record<string, { label: string; status?: ConsultStatus[] }> = {
  active: { label: 'Upcoming and live', status: ['scheduled', 'open', 'live'] },
  all: { label: 'All consults' },
  ended: { label: 'Ended', status: ['ended'] },
  cancelled: { label: 'Cancelled', status: ['cancelled'] },
};

export function adminPage(ctx: AppContext): Cleanup {
  const main = shell(ctx, 'Administration');
  const { api } = ctx;
  let people: User[] = [];
  let byId = new Map<string, User>();

  // --- consults ---
  const scheduleSlot = h('div');
  const consultsSlot = h('div', { 'aria-live': 'polite' });
  const consultsMessage = messageBox('consults-message');
  const filter = select(
    { testid: 'consult-filter' },
    Object.entries(FILTERS).map(([k, f]) => [k, f.label] as const),
    'active',
  );
  const pager = h('div', { class: 'pager' });
  let offset = 0;
  filter.addEventListener('change', () => {
    offset = 0;
    void loadConsults();
  });

  async function loadConsults(): Promise<void> {
    try {
      const page = await api.listConsults({
        status: FILTERS[filter.value]?.status,
        limit: PAGE_SIZE,
        offset,
      });
      if (!ctx.isCurrent()) return;
      consultsMessage.clear();
      consultsSlot.replaceChildren(
        consultList(page.items.map(renderConsult), 'No consults match this filter.'),
      );
      renderPager(page.total);
    } catch (err) {
      consultsMessage.error(err);
    }
  }

  function renderPager(total: number): void {
    pager.replaceChildren();
    if (total <= PAGE_SIZE) return;
    const prev = h('button', { type: 'button', disabled: offset === 0 }, 'Previous');
    const next = h('button', { type: 'button', disabled: offset + PAGE_SIZE >= total }, 'Next');
    prev.addEventListener('click', () => {
      offset = Math.max(0, offset - PAGE_SIZE);
      void loadConsults();
    });
    next.addEventListener('click', () => {
      offset += PAGE_SIZE;
      void loadConsults();
    });
    const last = Math.min(offset + PAGE_SIZE, total);
    pager.append(prev, h('span', {}, `${offset + 1}–${last} of ${total}`), next);
  }

  function renderConsult(c: Consult): HTMLElement {
    const card = consultCard(c, { people: byId });
    if (ACTIVE_STATUSES.includes(c.status)) {
      const open = h(
        'button',
        {
          type: 'button',
          testid: 'start-button',
          title: 'Join as an administrator (may admit and end)',
        },
        'Open',
      );
      open.addEventListener('click', () => void startConsult(ctx, c.id, open, card.message));
      const invite = h('button', { type: 'button', testid: 'invite-button' }, 'Invite link');
      invite.addEventListener('click', () =>
        card.panels.toggle('invite', () => invitePanel(api, c)),
      );
      card.actions.append(open, invite);
    }
    if (c.status === 'scheduled' || c.status === 'open') {
      const reschedule = h('button', { type: 'button', testid: 'reschedule-button' }, 'Reschedule');
      reschedule.addEventListener('click', () =>
        card.panels.toggle('reschedule', () =>
          rescheduleForm(api, c, (updated) => {
            card.panels.close();
            if (updated) void loadConsults();
          }),
        ),
      );
      const cancel = confirmButton(
        'Cancel consult',
        'Click again to cancel',
        { testid: 'cancel-button', 'aria-label': `Cancel ${c.title}` },
        async () => {
          try {
            await api.cancelConsult(c.id);
            await loadConsults();
          } catch (err) {
            card.message.error(err);
          }
        },
      );
      card.actions.append(reschedule, cancel);
    }
    if (hasRecord(c)) card.actions.append(recordLink(c.id));
    return card.el;
  }

  function renderScheduleForm(): void {
    scheduleSlot.replaceChildren(
      consultForm({
        api,
        people,
        onCreated: () => {
          filter.value = 'active';
          offset = 0;
          void loadConsults();
        },
      }),
    );
  }

  // --- users ---
  const usersBody = h('tbody');
  const usersMessage = messageBox('users-message');

  async function loadUsers(): Promise<void> {
    try {
      const page = await api.listUsers();
      if (!ctx.isCurrent()) return;
      people = page.items;
      byId = new Map(people.map((u) => [u.id, u]));
      usersBody.replaceChildren(...people.map(renderUser));
      renderScheduleForm();
    } catch (err) {
      usersMessage.error(err);
    }
  }

  function renderUser(u: User): HTMLElement {
    const self = u.id === ctx.auth.user?.id;
    const toggle = h(
      'button',
      {
        type: 'button',
        class: u.disabled ? 'secondary' : 'danger-outline',
        testid: 'user-toggle',
        'aria-label': `${u.disabled ? 'Enable' : 'Disable'} ${u.name}`,
      },
      u.disabled ? 'Enable' : 'Disable',
    );
    toggle.addEventListener(
      'click',
      () =>
        void busy(toggle, async () => {
          try {
            await api.setUserDisabled(u.id, !u.disabled);
            usersMessage.success(`${u.name} is now ${u.disabled ? 'enabled' : 'disabled'}.`);
            await loadUsers();
          } catch (err) {
            usersMessage.error(err);
          }
        }),
    );
    return h(
      'tr',
      { testid: 'user-row', dataset: { userId: u.id, role: u.role, disabled: String(u.disabled) } },
      h('td', {}, u.name, self ? h('span', { class: 'muted' }, ' (you)') : null),
      h('td', {}, u.email),
      h('td', {}, roleName(u.role)),
      h(
        'td',
        {},
        h(
          'span',
          { class: `status ${u.disabled ? 'status-cancelled' : 'status-live'}` },
          u.disabled ? 'Disabled' : 'Active',
        ),
      ),
      h('td', {}, self ? null : toggle),
    );
  }

  const newEmail = h('input', {
    type: 'email',
    testid: 'user-email',
    required: true,
    autocomplete: 'off',
  });
  const newName = h('input', { testid: 'user-name', required: true, maxlength: 80 });
  const newRole = select(
    { testid: 'user-role' },
    (['doctor', 'specialist', 'admin'] as UserRole[]).map((r) => [r, roleName(r)] as const),
    'doctor',
  );
  const newPassword = h('input', {
    type: 'password',
    testid: 'user-password',
    required: true,
    minlength: 12,
    autocomplete: 'new-password',
  });
  const create = h(
    'button',
    { type: 'submit', class: 'primary', testid: 'user-create' },
    'Create account',
  );
  const userForm = h(
    'form',
    { class: 'form-grid', novalidate: true, 'aria-label': 'Create an account' },
    field('E-mail', newEmail),
    field('Full name', newName),
    field('Role', newRole),
    field('Initial password', newPassword, 'At least 12 characters. Share it securely.'),
    h('div', { class: 'span-2 form-actions' }, usersMessage.el, create),
  );
  userForm.addEventListener('submit', (event) => {
    event.preventDefault();
    usersMessage.clear();
    if (!newEmail.value.trim() || !newName.value.trim()) {
      usersMessage.error(new Error('Enter an e-mail address and a name.'));
      return;
    }
    if (newPassword.value.length < 12) {
      usersMessage.error(new Error('The password must be at least 12 characters.'));
      newPassword.focus();
      return;
    }
    void busy(create, async () => {
      try {
        const user = await api.createUser({
          email: newEmail.value.trim(),
          name: newName.value.trim(),
          role: newRole.value as UserRole,
          password: newPassword.value,
        });
        userForm.reset();
        usersMessage.success(`Created ${roleName(user.role).toLowerCase()} ${user.name}.`);
        await loadUsers();
      } catch (err) {
        usersMessage.error(err);
      }
    });
  });

  const refresh = h('button', { type: 'button', testid: 'consults-refresh' }, 'Refresh');
  refresh.addEventListener('click', () => void busy(refresh, loadConsults));

  main.append(
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'schedule-h' },
      h('h2', { id: 'schedule-h' }, 'Schedule a consult'),
      scheduleSlot,
    ),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'consults-h' },
      h(
        'div',
        { class: 'card-head' },
        h('h2', { id: 'consults-h' }, 'Consults'),
        h('div', { class: 'toolbar' }, field('Show', filter), refresh),
      ),
      consultsMessage.el,
      consultsSlot,
      pager,
    ),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'users-h' },
      h('h2', { id: 'users-h' }, 'Accounts'),
      h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          { class: 'table', testid: 'users-table' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              h('th', { scope: 'col' }, 'Name'),
              h('th', { scope: 'col' }, 'E-mail'),
              h('th', { scope: 'col' }, 'Role'),
              h('th', { scope: 'col' }, 'Status'),
              h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')),
            ),
          ),
          usersBody,
        ),
      ),
      h('h3', {}, 'Create an account'),
      userForm,
    ),
  );
  void loadUsers().then(loadConsults);
  return () => undefined;
}
