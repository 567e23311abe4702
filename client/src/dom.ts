/** Tiny DOM-building helpers shared by the pages (no framework). */

type Child = Node | string | number | null | undefined | false;
type Listener = (event: Event) => void;

export interface Props {
  class?: string;
  /** Sets data-testid. */
  testid?: string;
  dataset?: Record<string, string>;
  /** Event listeners, e.g. { click: () => … }. */
  on?: Record<string, Listener>;
  /** Any other attribute; `true` sets it empty, false/null/undefined leaves it out. */
  [attribute: string]: unknown;
}

/** Creates an element with attributes, listeners and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = String(value);
    else if (key === 'testid') node.dataset.testid = String(value);
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key === 'on') {
      for (const [event, fn] of Object.entries(value as Record<string, Listener>)) {
        node.addEventListener(event, fn);
      }
    } else if (key === 'value' && 'value' in node) (node as HTMLInputElement).value = String(value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  append(node, ...children);
  return node;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    parent.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
  }
}

/** Replaces all children of `parent`. */
export function replaceChildren(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, ...children);
}

let ids = 0;
/** A unique id for label/input pairs. */
export function uid(prefix = 'f'): string {
  return `${prefix}-${++ids}`;
}

/** A labelled form field: `<div class="field"><label/>{control}<small/></div>`. */
export function field(
  label: string,
  control: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement,
  hint?: string,
): HTMLDivElement {
  control.id ||= uid();
  const hintEl = hint ? h('small', { class: 'hint', id: `${control.id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: control.id }, label), control, hintEl);
}

/** `<select>` with options given as [value, label] pairs. */
export function select(
  props: Props,
  options: readonly (readonly [string, string])[],
  selected?: string,
): HTMLSelectElement {
  const node = h('select', props);
  for (const [value, label] of options) {
    const option = h('option', { value }, label);
    if (value === selected) option.selected = true;
    node.append(option);
  }
  return node;
}

// --- dates ---

const pad = (n: number) => String(n).padStart(2, '0');

/** A Date as the value of an `<input type="datetime-local">` (local time, minutes). */
export function toLocalInput(date: Date): string {
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(
    date.getHours(),
  )}:${pad(date.getMinutes())}`;
}

/** A datetime-local value (local time) as an ISO 8601 instant, or null when empty/invalid. */
export function fromLocalInput(value: string): string | null {
  if (!value) return null;
  const t = new Date(value).getTime();
  return Number.isFinite(t) ? new Date(t).toISOString() : null;
}

const dateFormat = new Intl.DateTimeFormat(undefined, {
  weekday: 'short',
  day: 'numeric',
  month: 'short',
  hour: '2-digit',
  minute: '2-digit',
});
const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

/** "Tue 3 Dec, 09:30 – 10:00" (the end without its date when on the same day). */
export function formatRange(startIso: string, endIso: string): string {
  const start = new Date(startIso);
  const end = new Date(endIso);
  const endText =
    start.toDateString() === end.toDateString() ? timeFormat.format(end) : dateFormat.format(end);
  return `${dateFormat.format(start)} – ${endText}`;
}

export function formatDateTime(iso: string): string {
  return dateFormat.format(new Date(iso));
}

export function startOfToday(now = new Date()): Date {
  return new Date(now.getFullYear(), now.getMonth(), now.getDate());
}
