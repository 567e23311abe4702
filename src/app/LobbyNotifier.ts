/**
 * Tells a consult's hosts who waits: the first change at once, later ones within
 * LOBBY_NOTIFY_MS as one message (a burst of arrivals becomes one `lobbyChanged`).
 */

/** At most one `lobbyChanged` per consult per this many ms. */
export const LOBBY_NOTIFY_MS = 200;

export class LobbyNotifier {
  #timer: NodeJS.Timeout | undefined;
  #lastSent = -Infinity;

  constructor(
    private readonly send: () => void,
    private readonly now: () => number = Date.now,
  ) {}

  changed(): void {
    if (this.#timer) return;
    const wait = this.#lastSent + LOBBY_NOTIFY_MS - this.now();
    if (wait <= 0) {
      this.#flush();
      return;
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#flush();
    }, wait);
    this.#timer.unref();
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #flush(): void {
    this.#lastSent = this.now();
    this.send();
  }
}
