/**
 * An invite link (`/?invite=<token>`): exchanges the invite for a guest join grant and opens
 * the consult page with it, which puts the guest in the waiting room. The grant is kept in
 * this browser, so reopening the link does not use it up again.
 */
import { ApiError, errorMessage, redeemInvite } from '../api';
import type { AppContext } from '../context';
import { h } from '../dom';
import { brandHeader } from './login';
import { joinErrorMessage } from '../components/start';
import type { Cleanup } from '../router';
import { consultPage } from './consult';
import { keepRedeemedGrant, redeemedGrant } from '../seat';
import { DAMAGED_LINK, refusal } from '../joinErrors';

function inviteError(err: unknown): string {
  if (err instanceof ApiError && err.status === 401)
    return 'This invitation link is no longer valid: it was revoked or has expired. Please ask the doctor for a new one.';
  if (err instanceof ApiError && err.code === 'invite_used')
    return 'This invitation link has already been used. If that was not you, or you opened it on another device, please ask the doctor for a new link.';
  if (err instanceof ApiError && err.status === 400) return DAMAGED_LINK.message;
  if (err instanceof ApiError && (err.status === 409 || err.status === 403)) {
    const r = refusal(err.code, err.message);
    return r.final ? r.message : joinErrorMessage(err);
  }
  if (err instanceof ApiError && err.status === 0)
    return 'The consult service could not be reached. Check that you are online, then press Try again.';
  return errorMessage(err);
}

/** Only a wait (the waiting room is not open yet) or a network or server hiccup is worth retrying. */
function retryable(err: unknown): boolean {
  if (!(err instanceof ApiError)) return true;
  if (err.status === 409) return !refusal(err.code, err.message).final;
  return err.status === 0 || err.status === 429 || err.status >= 500;
}

export function invitePage(ctx: AppContext, inviteToken: string): Cleanup {
  document.title = 'Invitation · Telemed';
  let inner: Cleanup | null = null;
  const status = h('p', { class: 'muted', role: 'status' }, 'Opening your invitation…');
  const retry = h('button', { type: 'button', class: 'primary', hidden: true }, 'Try again');
  const card = h(
    'main',
    { class: 'login-page' },
    brandHeader(),
    h(
      'section',
      { class: 'card login-card', testid: 'invite-page' },
      h('h1', {}, 'Consult invitation'),
      status,
      retry,
    ),
  );
  ctx.root.replaceChildren(card);

  const open = async () => {
    retry.hidden = true;
    status.className = 'muted';
    status.textContent = 'Opening your invitation…';
    try {
      let grant = redeemedGrant(inviteToken);
      if (!grant) {
        grant = await redeemInvite(inviteToken);
        keepRedeemedGrant(inviteToken, grant);
      }
      if (!ctx.isCurrent()) return;
      inner = consultPage(ctx, { token: grant.token, title: grant.consultTitle });
    } catch (err) {
      if (!ctx.isCurrent()) return;
      status.className = 'message message-error';
      status.setAttribute('role', 'alert');
      status.dataset.testid = 'invite-error';
      status.textContent = inviteError(err);
      retry.hidden = !retryable(err);
    }
  };
  retry.addEventListener('click', () => void open());
  void open();
  return () => inner?.();
}
