/** Any other path. */
import type { AppContext } from '../context';
import { h } from '../dom';

export function notFoundPage(ctx: AppContext): void {
  document.title = 'Not found · Telemed';
  ctx.root.replaceChildren(
    h(
      'main',
      { class: 'login-page' },
      h(
        'section',
        { class: 'card login-card' },
        h('h1', {}, 'Page not found'),
        h('p', {}, 'There is nothing at this address.'),
        h('a', { href: '/', class: 'button-link' }, 'Go to the start page'),
      ),
    ),
  );
}
