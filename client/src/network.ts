/** What the browser tells about its network, for the consult record (Network Information API). */

interface NetworkInformation {
  effectiveType?: string;
  type?: string;
}

/**
 * `navigator.connection.type` (e.g. "wifi") when the browser tells it, else its `effectiveType`
 * (a speed class such as "4g", also given for a wired desktop); undefined if neither.
 */
export function networkType(nav: Navigator = navigator): string | undefined {
  const connection = (nav as Navigator & { connection?: NetworkInformation }).connection;
  const value = connection?.type ?? connection?.effectiveType;
  return typeof value === 'string' && value.trim() ? value.trim().slice(0, 32) : undefined;
}

/** The Network Information API's speed classes: they say how fast, not what kind of network. */
const SPEED_CLASSES = new Set(['slow-2g', '2g', '3g', '4g', '5g']);

/**
 * How the record shows a stored network value: a network type as is; a speed class as
 * "network type unknown" (with the class in the tooltip), since a wired desktop reports "4g".
 */
export function networkLabel(value: string | null | undefined): { text: string; title: string } {
  if (!value) return { text: '—', title: 'The browser did not say' };
  if (SPEED_CLASSES.has(value.toLowerCase())) {
    return {
      text: 'network type unknown',
      title: `The browser gave only a speed class ("${value}"), not the kind of network`,
    };
  }
  return { text: value, title: '' };
}
