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

/** Sections of the app a role may switch between (shown in the top bar). */
const NAV: Partial<Record<UserRole, [string, string][]>> = {
  admin: [
    ['/admin', 'Administration'],
    ['/admin/audit', 'Audit log'],
  ],
};

function nav(role: UserRole): HTMLElement | null {
  const links = NAV[role];
  if (!links) return null;
  const here = window.location.pathname.replace(/\/+$/, '');
  return h(
    'nav',
    { class: 'topnav', 'aria-label': 'Sections' },
    ...links.map(([href, label]) =>
      h(
        'a',
        {
          href,
          'aria-current': href === here ? 'page' : undefined,
          testid: `nav-${href.slice(1).replace(/\//g, '-')}`,
        },
        label,
      ),
    ),
  );
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
    user ? nav(user.role) : null,
    // The section links already name the page when it is one of them.
    h(
      'div',
      { class: 'page-title' },
      user && NAV[user.role]?.some(([, l]) => l === title) ? '' : title,
    ),
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
