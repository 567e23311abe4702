/** Number, time and reason formatting shared by the record, audit and consult pages. */

const clock = new Intl.DateTimeFormat(undefined, {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});
const clockShort = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dateTime = new Intl.DateTimeFormat(undefined, {
  year: 'numeric',
  month: 'short',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});

/** "14:03:27" (local time). */
export function formatClock(iso: string | number): string {
  return clock.format(new Date(iso));
}

/** "14:03" (local time). */
export function formatClockShort(iso: string | number): string {
  return clockShort.format(new Date(iso));
}

/** "3 Dec 2026, 14:03:27" (local time). */
export function formatFull(iso: string | number): string {
  return dateTime.format(new Date(iso));
}

/** A length of time: "45 s", "4 min 05 s", "1 h 02 min". */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const pad = (n: number) => String(n).padStart(2, '0');
  if (s < 3600) return `${Math.floor(s / 60)} min ${pad(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${pad(Math.floor((s % 3600) / 60))} min`;
}

/** An offset from a start time as "+m:ss" or "+h:mm:ss". */
export function formatOffset(ms: number): string {
  const s = Math.floor(Math.abs(ms) / 1000);
  const sign = ms < 0 && s > 0 ? '−' : '+';
  const pad = (n: number) => String(n).padStart(2, '0');
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${sign}${h}:${pad(m)}:${pad(s % 60)}` : `${sign}${m}:${pad(s % 60)}`;
}

/** A figure with its unit, or "—" when unknown: `figure(12.345, 'ms')` → "12.3 ms". */
export function figure(value: number | null | undefined, unit: string, digits = 1): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  const rounded = Number(value.toFixed(digits));
  return `${rounded.toLocaleString(undefined, { maximumFractionDigits: digits })}${unit ? `\u202f${unit}` : ''}`;
}

const REASONS: Record<string, string> = {
  ended_by_host: 'ended by the host',
  everyone_left: 'everyone left after the scheduled end',
  interrupted: 'the gateway stopped while the consult was live',
  cancelled: 'cancelled',
  left: 'left',
  disconnected: 'connection lost',
  removed: 'removed by the host',
  removed_by_host: 'removed by the host',
  replaced: 'joined again from another connection',
  consult_ended: 'the consult ended',
  empty: 'everyone had left',
  media_server_restarted: 'the media server restarted',
  gateway_shutdown: 'the gateway shut down',
  invite_revoked: 'the invitation was revoked',
  access_revoked: "the participant's access was revoked",
  moved: 'moved to another gateway node, without a break',
  node_lost: 'their gateway node failed; they went on through another',
};

/** A readable phrase for a server reason code ("ended_by_host" → "ended by the host"). */
export function reasonText(reason: string | null | undefined): string {
  if (!reason) return '';
  return REASONS[reason] ?? reason.replace(/_/g, ' ');
}

/** A participant's name for tiles and the lobby: the chosen one, with the vouched one when it differs. */
export function personLabel(p: { displayName: string; verifiedName?: string }): string {
  return p.verifiedName && p.verifiedName !== p.displayName
    ? `${p.displayName} (${p.verifiedName})`
    : p.displayName;
}
