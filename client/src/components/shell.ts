/** The frame of the logged-in pages: top bar with the user and a logout button, then content. */
import type { UserRole } from '../api';
import type { AppContext } from '../context';
import { h } from '../dom';

const ROLE_NAMES: Record<UserRole, string> = {
  admin: 'Administrator',
  doctor: 'Doctor',
  specialist: 'Specialist',
};

export function roleName(role: UserRole): string {
  return ROLE_NAMES[role];
}

/** Renders the frame into ctx.root and returns the element for the page's content. */
export function shell(ctx: AppContext, title: string): HTMLElement {
  document.title = `${title} · Telemed`;
  const user = ctx.auth.user;
  const logout = h(
    'button',
    {
      type: 'button',
      class: 'secondary',
      testid: 'logout-button',
      on: {
        click: () => {
          logout.disabled = true;
          void ctx.auth.logout().finally(() => {
            if (ctx.isCurrent()) ctx.navigate('/login');
          });
        },
      },
    },
    'Log out',
  );
  const bar = h(
    'header',
    { class: 'topbar' },
    h(
      'a',
      { class: 'brand', href: user ? `/${user.role}` : '/' },
      h('span', { class: 'brand-mark', 'aria-hidden': 'true' }),
      'Telemed',
    ),
    h('div', { class: 'page-title' }, title),
    user
      ? h(
          'div',
          { class: 'whoami' },
          h('span', { class: 'whoami-name', testid: 'current-user' }, user.name),
          h('span', { class: 'whoami-role' }, roleName(user.role)),
        )
      : null,
    user ? logout : null,
  );
  const main = h('main', { class: 'page', id: 'main' });
  ctx.root.replaceChildren(bar, main);
  return main;
}
