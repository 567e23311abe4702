/** What the browser tells about its network, for the consult record (Network Information API). */

interface NetworkInformation {
  effectiveType?: string;
  type?: string;
}

/** `navigator.connection.effectiveType` (e.g. "4g") or `.type` (e.g. "wifi"); undefined if unknown. */
export function networkType(nav: Navigator = navigator): string | undefined {
  const connection = (nav as Navigator & { connection?: NetworkInformation }).connection;
  const value = connection?.effectiveType ?? connection?.type;
  return typeof value === 'string' && value.trim() ? value.trim().slice(0, 32) : undefined;
}
