/** Getting a join grant for a consult and opening the consult page with it. */
import { ApiError, errorMessage } from '../api';
import type { AppContext } from '../context';
import { formatDateTime } from '../dom';
import { unlockAlerts } from '../alerts';
import { h } from '../dom';
import { keepPrecheck } from '../precheck';
import { busy } from './message';
import type { MessageBox } from './message';
import { PrecallCheck } from './precall';

const ISO_INSTANT = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})/g;

/** The server's message with ISO instants shown in local time ("the waiting room opens at …"). */
export function joinErrorMessage(err: unknown): string {
  const text = errorMessage(err);
  if (!(err instanceof ApiError) || err.status !== 409) return text;
  return text.replace(ISO_INSTANT, (iso) => formatDateTime(iso));
}

/** The consult page's URL for a join grant. */
export function consultUrl(token: string): string {
  return `/consult?token=${encodeURIComponent(token)}`;
}

/**
 * POST /consults/:id/join, then the consult page in this tab; errors go to `message`. From the
 * host's click, `alerts` also allows waiting-room sounds and asks for notification permission.
 */
export async function startConsult(
  ctx: AppContext,
  consultId: string,
  button: HTMLButtonElement,
  message: MessageBox,
  opts: { alerts?: boolean } = {},
): Promise<void> {
  if (opts.alerts) unlockAlerts();
  message.clear();
  await busy(button, async () => {
    try {
      const grant = await ctx.api.joinConsult(consultId);
      if (ctx.isCurrent()) ctx.navigate(consultUrl(grant.token));
    } catch (err) {
      message.show('error', joinErrorMessage(err));
    }
  });
}

/**
 * The host's pre-call check before starting: gets a join grant, runs the check, and starts
 * the consult with its result (kept for the join, so the record has it).
 */
export function precallPanel(ctx: AppContext, consultId: string, message: MessageBox): HTMLElement {
  const el = h(
    'div',
    { class: 'panel precall-panel', testid: 'precall-panel' },
    'Preparing the check…',
  );
  void (async () => {
    try {
      const grant = await ctx.api.joinConsult(consultId);
      if (!ctx.isCurrent() || !el.isConnected) return;
      const check = new PrecallCheck({
        token: grant.token,
        continueLabel: 'Start consult',
        onContinue: (result) => {
          unlockAlerts();
          keepPrecheck(consultId, result);
          ctx.navigate(consultUrl(grant.token));
        },
      });
      el.replaceChildren(check.el);
    } catch (err) {
      el.remove();
      message.show('error', joinErrorMessage(err));
    }
  })();
  return el;
}
