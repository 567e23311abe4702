/** An inline status line for forms and lists: errors (role=alert) and confirmations. */
import { errorMessage } from '../api';
import { h } from '../dom';

export interface MessageBox {
  el: HTMLElement;
  error(err: unknown): void;
  success(text: string): void;
  info(text: string): void;
  show(kind: 'error' | 'success' | 'info', text: string): void;
  clear(): void;
}

export function messageBox(testid?: string): MessageBox {
  const el = h('p', { class: 'message', testid, hidden: true });
  const show = (kind: 'error' | 'success' | 'info', text: string) => {
    el.className = `message message-${kind}`;
    el.setAttribute('role', kind === 'error' ? 'alert' : 'status');
    el.textContent = text;
    el.hidden = false;
  };
  return {
    el,
    error: (err) => show('error', errorMessage(err)),
    success: (text) => show('success', text),
    info: (text) => show('info', text),
    show,
    clear: () => {
      el.hidden = true;
      el.textContent = '';
    },
  };
}

/** Disables a button while `fn` runs (prevents double submits). */
export async function busy<T>(button: HTMLButtonElement, fn: () => Promise<T>): Promise<T> {
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    return await fn();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
}
