/**
 * A tiny History API router: one handler decides what to show for the current URL; in-app
 * links (`<a href="/…">`) and navigate() change the URL without a page load.
 */

/** Undoes what a page set up (timers, sockets, media) when another page replaces it. */
export type Cleanup = () => void;

export type Resolve = (url: URL) => Cleanup | void | Promise<Cleanup | void>;

export class Router {
  private cleanup: Cleanup | null = null;
  /** Bumped on every render, so a slow async page cannot overwrite a newer one. */
  private generation = 0;

  constructor(private readonly resolve: Resolve) {
    window.addEventListener('popstate', () => void this.render());
    document.addEventListener('click', (event) => this.onClick(event));
  }

  /** Goes to `path` (may include a query) and renders it. */
  navigate(path: string, opts: { replace?: boolean } = {}): void {
    if (opts.replace) history.replaceState(null, '', path);
    else history.pushState(null, '', path);
    void this.render();
  }

  /** True while `generation` is still the page being shown. */
  isCurrent(generation: number): boolean {
    return generation === this.generation;
  }

  get currentGeneration(): number {
    return this.generation;
  }

  async render(): Promise<void> {
    const generation = ++this.generation;
    const previous = this.cleanup;
    this.cleanup = null;
    previous?.();
    try {
      const cleanup = await this.resolve(new URL(window.location.href));
      if (generation === this.generation) this.cleanup = cleanup ?? null;
      else cleanup?.();
    } catch (err) {
      console.error('page failed to render', err);
    }
  }

  private onClick(event: MouseEvent): void {
    if (event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const a = (event.target as Element | null)?.closest?.('a');
    if (!a || a.target || a.hasAttribute('download')) return;
    const href = a.getAttribute('href');
    if (!href || !href.startsWith('/') || href.startsWith('//') || href.startsWith('/api/')) return;
    event.preventDefault();
    this.navigate(href);
  }
}
