/**
 * The consult stage: lays the tiles out so they fill the space they have and grow with it, and
 * puts one tile in the spotlight (the others as a strip): the tile someone pinned, or else the
 * newest screen share, at once and without a click. "Show all" goes back to the grid.
 */
import { icon } from './icons';
import { gridBoxes, spotlightBoxes } from './stageLayout';
import type { Box } from './stageLayout';

const GAP = 8;

/** A tile's key: its peer id, or "local" for this participant's own tile. */
function keyOf(tile: HTMLElement): string {
  return tile.dataset.peerId ?? 'local';
}

function nameOf(tile: HTMLElement): string {
  return tile.querySelector('.name')?.textContent?.trim() || 'this participant';
}

/** Lays out the tiles in `container` (its `.tile` children) and keeps the spotlight. */
export class Stage {
  private pinned: string | null = null;
  /** Screen consumers in the order they appeared (the newest share wins the stage). */
  private screens: string[] = [];
  /** The screen share the user sent back to the grid ("Show all"). */
  private dismissedScreen: string | null = null;
  /** The pending animation frame's layout, if any. */
  private frame: number | null = null;
  /**
   * The container's size as its ResizeObserver last reported it (null before the first report).
   * Read there, never from the container's layout: that read would force the page's style and
   * layout outside the rendering step (on a join, its first one, before the first frame).
   */
  private size: { width: number; height: number } | null = null;
  private readonly resize: ResizeObserver;
  private readonly onFullscreen = () => this.schedule();

  constructor(
    private readonly container: HTMLElement,
    private readonly exit: HTMLButtonElement,
  ) {
    // Observations come in the rendering step, after layout and before paint: lay out there
    // at once (the first one comes with the first rendering of the container).
    this.resize = new ResizeObserver((entries) => {
      const box = entries[entries.length - 1]?.contentRect;
      if (!box) return;
      this.size = { width: Math.round(box.width), height: Math.round(box.height) };
      this.cancelFrame();
      this.layout();
    });
    this.resize.observe(container);
    exit.addEventListener('click', () => {
      if (this.pinned) this.pinned = null;
      else this.dismissedScreen = this.screens[this.screens.length - 1] ?? null;
      this.schedule();
    });
    document.addEventListener('fullscreenchange', this.onFullscreen);
  }

  /** The tile in the spotlight (peer id or "local"), or null for the grid. */
  get spotlight(): string | null {
    return this.container.dataset.spotlight || null;
  }

  /** Pins a tile to the stage (null unpins). */
  pin(key: string | null): void {
    this.pinned = key;
    this.schedule();
  }

  /**
   * Lays out again in the next rendering step, before paint (many changes, one layout). Not
   * before the container's first size report: that report lays out.
   */
  schedule(): void {
    if (this.frame !== null) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = null;
      if (this.size) this.layout();
    });
  }

  private cancelFrame(): void {
    if (this.frame === null) return;
    cancelAnimationFrame(this.frame);
    this.frame = null;
  }

  destroy(): void {
    this.cancelFrame();
    this.resize.disconnect();
    document.removeEventListener('fullscreenchange', this.onFullscreen);
  }

  private tiles(): HTMLElement[] {
    return [...this.container.children].filter(
      (c): c is HTMLElement => c instanceof HTMLElement && c.classList.contains('tile'),
    );
  }

  private chooseSpotlight(tiles: HTMLElement[]): HTMLElement | null {
    if (this.pinned) {
      const pinned = tiles.find((t) => keyOf(t) === this.pinned);
      if (pinned) return pinned;
      this.pinned = null;
    }
    const live = new Map<string, HTMLElement>();
    for (const tile of tiles) {
      for (const v of tile.querySelectorAll<HTMLElement>('video[data-source="screen"]')) {
        if (v.dataset.consumerId) live.set(v.dataset.consumerId, tile);
      }
    }
    this.screens = this.screens.filter((id) => live.has(id));
    for (const id of live.keys()) if (!this.screens.includes(id)) this.screens.push(id);
    const newest = this.screens[this.screens.length - 1];
    if (!newest || newest === this.dismissedScreen) return null;
    return live.get(newest) ?? null;
  }

  private layout(): void {
    const tiles = this.tiles();
    for (const tile of tiles) this.decorate(tile);
    const spot = this.chooseSpotlight(tiles);
    const { width, height } = this.size ?? { width: 0, height: 0 };
    this.container.dataset.layout = spot ? 'spotlight' : 'grid';
    this.container.dataset.spotlight = spot ? keyOf(spot) : '';
    this.exit.hidden = !spot;
    const place = (tile: HTMLElement, box: Box | undefined) => {
      if (!box) return;
      tile.style.left = `${Math.round(box.x)}px`;
      tile.style.top = `${Math.round(box.y)}px`;
      tile.style.width = `${Math.round(box.w)}px`;
      tile.style.height = `${Math.round(box.h)}px`;
    };
    if (spot) {
      const others = tiles.filter((t) => t !== spot);
      const boxes = spotlightBoxes(others.length, width, height, GAP);
      place(spot, boxes.spot);
      others.forEach((t, i) => place(t, boxes.strip[i]));
    } else {
      const boxes = gridBoxes(tiles.length, width, height, GAP);
      tiles.forEach((t, i) => place(t, boxes[i]));
    }
    for (const tile of tiles) {
      tile.classList.toggle('spot', tile === spot);
      tile.classList.toggle('in-strip', spot !== null && tile !== spot);
      const pin = tile.querySelector<HTMLButtonElement>('.pin-button');
      const pinnedHere = this.pinned === keyOf(tile);
      pin?.setAttribute('aria-pressed', String(pinnedHere));
      pin?.setAttribute(
        'aria-label',
        pinnedHere ? `Unpin ${nameOf(tile)}` : `Show ${nameOf(tile)} large`,
      );
      tile
        .querySelector('.fullscreen-button')
        ?.setAttribute('aria-label', `Show ${nameOf(tile)} full screen`);
    }
  }

  /** Adds the pin and full-screen buttons to a tile the first time it is laid out. */
  private decorate(tile: HTMLElement): void {
    if (tile.querySelector('.tile-actions')) return;
    const pin = document.createElement('button');
    pin.type = 'button';
    pin.className = 'tile-action pin-button';
    pin.dataset.testid = 'pin-button';
    pin.append(icon('pin'));
    pin.addEventListener('click', () => {
      const key = keyOf(tile);
      this.pin(this.pinned === key ? null : key);
    });
    const full = document.createElement('button');
    full.type = 'button';
    full.className = 'tile-action fullscreen-button';
    full.dataset.testid = 'fullscreen-button';
    full.append(icon('fullscreen'));
    full.addEventListener('click', () => {
      if (document.fullscreenElement) void document.exitFullscreen().catch(() => undefined);
      else void tile.requestFullscreen?.().catch(() => undefined);
    });
    const actions = document.createElement('div');
    actions.className = 'tile-actions';
    actions.append(pin, full);
    tile.append(actions);
  }
}
