/** Getting a join grant for a consult and opening the consult page with it. */
import { ApiError, errorMessage } from '../api';
import type { AppContext } from '../context';
import { formatDateTime } from '../dom';
import { busy } from './message';
import type { MessageBox } from './message';

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

/** POST /consults/:id/join, then the consult page in this tab; errors go to `message`. */
export async function startConsult(
  ctx: AppContext,
  consultId: string,
  button: HTMLButtonElement,
  message: MessageBox,
): Promise<void> {
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
