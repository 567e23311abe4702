/** The browser client: picks the page for the URL and keeps the login session. */
import { Api } from './api';
import type { UserRole } from './api';
import { Auth } from './auth';
import type { AppContext } from './context';
import { adminPage } from './pages/admin';
import { auditPage } from './pages/audit';
import { consultPage } from './pages/consult';
import { doctorPage } from './pages/doctor';
import { invitePage } from './pages/invite';
import { loginPage } from './pages/login';
import { notFoundPage } from './pages/notFound';
import { recordPage } from './pages/record';
import { specialistPage } from './pages/specialist';
import { Router } from './router';
import type { Cleanup } from './router';

const root = document.getElementById('app')!;
const auth = new Auth();
const api = new Api(auth);

const HOMES: Record<UserRole, (ctx: AppContext) => Cleanup> = {
  admin: adminPage,
  doctor: doctorPage,
  specialist: specialistPage,
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
  if (invite && (path === '/' || path === '/consult')) return invitePage(ctx, invite);
  if (path === '/consult' || (path === '/' && token)) return consultPage(ctx, { token });

  if (path === '/login') {
    const user = auth.hasStoredSession ? await auth.restore() : null;
    if (!ctx.isCurrent()) return;
    const next = url.searchParams.get('next');
    const back = next && signedInPage(next) ? next : null;
    if (user) return ctx.navigate(back ?? Auth.home(user.role), { replace: true });
    return loginPage(ctx, back);
  }

  const page = signedInPage(path);
  if (page) {
    root.replaceChildren();
    const user = await auth.restore();
    if (!ctx.isCurrent()) return;
    if (!user) return ctx.navigate(`/login?next=${encodeURIComponent(path)}`, { replace: true });
    if (page !== 'audit') return recordPage(ctx, page.record);
    if (user.role !== 'admin') return ctx.navigate(Auth.home(user.role), { replace: true });
    return auditPage(ctx);
  }

  const role = (Object.keys(HOMES) as UserRole[]).find((r) => path === `/${r}`);
  if (!role && path !== '/') return notFoundPage(ctx);
  root.replaceChildren();
  const user = await auth.restore();
  if (!ctx.isCurrent()) return;
  if (!user) return ctx.navigate('/login', { replace: true });
  if (role !== user.role) return ctx.navigate(Auth.home(user.role), { replace: true });
  return HOMES[role](ctx);
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
