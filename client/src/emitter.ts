/** One event of map `E` as a tuple: its name, then its arguments. */
export type EventTuple<E extends Record<string, unknown[]>> = {
  [K in keyof E]: [K, ...E[K]];
}[keyof E];

/** A minimal typed event emitter: `E` maps event names to listener argument tuples. */
export class Emitter<E extends Record<string, unknown[]>> {
  private readonly listeners: { [K in keyof E]?: Set<(...args: E[K]) => void> } = {};
  /** Events kept back since hold(), in order; null when not holding. */
  private held: (() => void)[] | null = null;
  private onHeld: ((...event: EventTuple<E>) => void) | null = null;

  /**
   * Keeps events back until release(), so listeners added later (a page still being built)
   * miss none; `onHeld` is told each event kept back (its name and arguments).
   */
  hold(onHeld?: (...event: EventTuple<E>) => void): void {
    this.held ??= [];
    this.onHeld = onHeld ?? null;
  }

  /** Delivers the events kept back since hold(), in order, and stops holding. */
  release(): void {
    const held = this.held ?? [];
    this.held = null;
    this.onHeld = null;
    for (const deliver of held) deliver();
  }

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof E>(event: K, listener: (...args: E[K]) => void): () => void {
    const set = (this.listeners[event] ??= new Set());
    set.add(listener);
    return () => this.off(event, listener);
  }

  off<K extends keyof E>(event: K, listener: (...args: E[K]) => void): void {
    this.listeners[event]?.delete(listener);
  }

  protected emit<K extends keyof E>(event: K, ...args: E[K]): void {
    if (this.held) {
      this.held.push(() => this.emit(event, ...args));
      this.onHeld?.(...([event, ...args] as EventTuple<E>));
      return;
    }
    for (const listener of [...(this.listeners[event] ?? [])]) {
      try {
        listener(...args);
      } catch (err) {
        console.error(`listener for "${String(event)}" threw`, err);
      }
    }
  }
}
