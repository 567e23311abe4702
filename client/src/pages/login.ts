/** /login: e-mail and password; on success, the page asked for (`?next=`) or the role's home. */
import { ApiError, waitInWords } from '../api';
import { Auth } from '../auth';
import type { AppContext } from '../context';
import { field, h } from '../dom';
import { messageBox } from '../components/message';
import type { Cleanup } from '../router';

function loginError(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.status === 401) return 'The e-mail or password is not correct.';
    if (err.status === 429) {
      return err.retryAfter
        ? `Too many attempts. Please try again in ${waitInWords(err.retryAfter)}.`
        : 'Too many attempts. Please try again later.';
    }
    if (err.status === 400) return 'Enter a valid e-mail address and your password.';
    if (err.status === 0) return err.message;
  }
  return `Login failed: ${err instanceof Error ? err.message : String(err)}`;
}

/** The product's name and mark above the sign-in and invitation cards. */
export function brandHeader(): HTMLElement {
  return h(
    'div',
    { class: 'login-brand' },
    h('span', { class: 'brand-mark', 'aria-hidden': 'true' }),
    'Telemed',
  );
}

export function loginPage(ctx: AppContext, next: string | null = null): Cleanup {
  document.title = 'Log in · Telemed';
  const email = h('input', {
    type: 'email',
    name: 'email',
    autocomplete: 'username',
    required: true,
    testid: 'login-email',
  });
  const password = h('input', {
    type: 'password',
    name: 'password',
    autocomplete: 'current-password',
    required: true,
    testid: 'login-password',
  });
  const submit = h(
    'button',
    { type: 'submit', class: 'primary', testid: 'login-submit' },
    'Log in',
  );
  const message = messageBox('login-error');
  let countdown: ReturnType<typeof setInterval> | null = null;

  const stopCountdown = () => {
    if (countdown) clearInterval(countdown);
    countdown = null;
    submit.disabled = false;
    submit.textContent = 'Log in';
  };

  /** After a 429: keep the button disabled and count down the wait. */
  const waitFor = (seconds: number) => {
    let left = seconds;
    submit.disabled = true;
    const tick = () => {
      if (left <= 0) return stopCountdown();
      submit.textContent = `Try again in ${waitInWords(left)}`;
      left -= 1;
    };
    tick();
    countdown = setInterval(tick, 1000);
  };
  // The wait is per account: another e-mail address may be tried at once (the server decides).
  email.addEventListener('input', () => {
    if (countdown) stopCountdown();
  });

  const form = h(
    'form',
    {
      class: 'login-card card',
      'aria-labelledby': 'login-title',
      novalidate: true,
      on: {
        submit: (event) => {
          event.preventDefault();
          void onSubmit();
        },
      },
    },
    h('h1', { id: 'login-title' }, 'Log in'),
    h('p', { class: 'muted' }, 'Telemedicine consults for clinicians.'),
    field('E-mail', email),
    field('Password', password),
    message.el,
    submit,
  );

  async function onSubmit(): Promise<void> {
    message.clear();
    if (!email.value.trim() || !password.value) {
      message.error(new Error('Enter your e-mail address and password.'));
      return;
    }
    submit.disabled = true;
    try {
      const user = await ctx.auth.login(email.value.trim(), password.value);
      if (ctx.isCurrent()) ctx.navigate(next ?? Auth.home(user.role), { replace: true });
    } catch (err) {
      if (!ctx.isCurrent()) return;
      message.show('error', loginError(err));
      submit.disabled = false;
      if (err instanceof ApiError && err.status === 429 && err.retryAfter) waitFor(err.retryAfter);
      password.select();
    }
  }

  ctx.root.replaceChildren(h('main', { class: 'login-page' }, brandHeader(), form));
  email.focus();
  return stopCountdown;
}
