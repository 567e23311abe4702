/**
 * The browser client: picks the page for the URL and keeps the login session. The consult page
 * is in the entry bundle (a join starts without another request); every other page is its own
 * chunk, loaded when first shown.
 */
import { Api } from './api';
import type { UserRole } from './api';
import { Auth } from './auth';
import type { AppContext } from './context';
import { consultPage } from './pages/consult';
import { Router } from './router';
import type { Cleanup } from './router';

const root = document.getElementById('app')!;
const auth = new Auth();
const api = new Api(auth);

/** Each role's home page, loaded on demand. */
const HOMES: Record<UserRole, () => Promise<(ctx: AppContext) => Cleanup>> = {
  admin: async () => (await import('./pages/admin')).adminPage,
  doctor: async () => (await import('./pages/doctor')).doctorPage,
  specialist: async () => (await import('./pages/specialist')).specialistPage,
};

/** Logged-in pages other than the role homes: the record id, or 'audit' for /admin/audit. */
function signedInPage(path: string): { record: string } | 'audit' | null {
  if (path === '/admin/audit') return 'audit';
  const id = /^\/consults\/([^/]+)\/record$/.exec(path)?.[1];
  try {
    return id ? { record: decodeURIComponent(id) } : null;
  } catch {
    return null; // malformed %-escape
  }
}

const router = new Router(async (url) => {
  const path = url.pathname.replace(/\/+$/, '') || '/';
  const generation = router.currentGeneration;
  const ctx: AppContext = {
    root,
    auth,
    api,
    navigate: (to, opts) => router.navigate(to, opts),
    isCurrent: () => router.isCurrent(generation),
  };
  const invite = url.searchParams.get('invite');
  const token = url.searchParams.get('token')?.trim() || null;

  // Invite links and join grants need no login.
  if (invite && (path === '/' || path === '/consult')) {
    const { invitePage } = await import('./pages/invite');
    return ctx.isCurrent() ? invitePage(ctx, invite) : undefined;
  }
  if (path === '/consult' || (path === '/' && token)) return consultPage(ctx, { token });

  if (path === '/login') {
    const user = auth.hasStoredSession ? await auth.restore() : null;
    if (!ctx.isCurrent()) return;
    const next = url.searchParams.get('next');
    const back = next && signedInPage(next) ? next : null;
    if (user) return ctx.navigate(back ?? Auth.home(user.role), { replace: true });
    const { loginPage } = await import('./pages/login');
    return ctx.isCurrent() ? loginPage(ctx, back) : undefined;
  }

  const page = signedInPage(path);
  if (page) {
    root.replaceChildren();
    const user = await auth.restore();
    if (!ctx.isCurrent()) return;
    if (!user) return ctx.navigate(`/login?next=${encodeURIComponent(path)}`, { replace: true });
    if (page !== 'audit') {
      const { recordPage } = await import('./pages/record');
      return ctx.isCurrent() ? recordPage(ctx, page.record) : undefined;
    }
    if (user.role !== 'admin') return ctx.navigate(Auth.home(user.role), { replace: true });
    const { auditPage } = await import('./pages/audit');
    return ctx.isCurrent() ? auditPage(ctx) : undefined;
  }

  const role = (Object.keys(HOMES) as UserRole[]).find((r) => path === `/${r}`);
  if (!role && path !== '/') {
    const { notFoundPage } = await import('./pages/notFound');
    return ctx.isCurrent() ? notFoundPage(ctx) : undefined;
  }
  root.replaceChildren();
  const user = await auth.restore();
  if (!ctx.isCurrent()) return;
  if (!user) return ctx.navigate('/login', { replace: true });
  if (role !== user.role) return ctx.navigate(Auth.home(user.role), { replace: true });
  const home = await HOMES[role]();
  return ctx.isCurrent() ? home(ctx) : undefined;
});

// Logged out, or logged in as someone else in another tab: leave pages of the old session.
auth.on('user', (user) => {
  const path = window.location.pathname.replace(/\/+$/, '');
  if (!user && signedInPage(path)) return router.navigate('/login');
  const onRolePage = Object.keys(HOMES).some((r) => path === `/${r}`);
  if (!onRolePage) return;
  if (!user) router.navigate('/login');
  else if (path !== Auth.home(user.role)) router.navigate(Auth.home(user.role));
});

void router.render();
