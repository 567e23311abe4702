/** The consult record's timeline: one readable line per event, filterable by kind. */
import { networkLabel } from '../network';
import type { RecordEvent } from '../api';
import { h } from '../dom';
import { formatClock, formatOffset, reasonText } from '../format';

/** "network wifi", or "network type unknown" when the browser gave only a speed class. */
function networkDetail(value: string): string {
  const { text, title } = networkLabel(value);
  return title ? text : `network ${text}`;
}

export type EventKind = 'consult' | 'presence' | 'lobby' | 'media' | 'other';

export interface EventText {
  kind: EventKind;
  /** The sentence shown, e.g. "Dr. Grey paused the microphone". */
  label: string;
  /** Secondary facts (reason, network, …), may be empty. */
  detail: string;
}

const SOURCES: Record<string, string> = {
  mic: 'the microphone',
  camera: 'the camera',
  screen: 'screen sharing',
};

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** Turns one stored event into a sentence (unknown types are shown by their code). */
export function describeEvent(e: RecordEvent): EventText {
  const who = e.displayName ?? 'Someone';
  const d = e.details ?? {};
  const reason = reasonText(str(d.reason));
  const source = SOURCES[str(d.source)] ?? 'a media source';
  switch (e.type) {
    case 'consult.started':
      return { kind: 'consult', label: 'Consult started', detail: '' };
    case 'consult.ended':
      return { kind: 'consult', label: 'Consult ended', detail: reason };
    case 'consult.cancelled':
      return { kind: 'consult', label: 'Consult cancelled', detail: '' };
    case 'consult.interrupted':
      return {
        kind: 'consult',
        label: 'Consult interrupted',
        detail: 'the gateway stopped while it was live; closed at the next start',
      };
    case 'participant.joined':
      return {
        kind: 'presence',
        label: `${who} joined`,
        detail: [str(d.role), str(d.networkType) && networkDetail(str(d.networkType))]
          .filter(Boolean)
          .join(' · '),
      };
    case 'participant.left':
      return { kind: 'presence', label: `${who} left`, detail: reason === 'left' ? '' : reason };
    case 'lobby.waiting':
      return { kind: 'lobby', label: `${who} is in the waiting room`, detail: str(d.role) };
    case 'lobby.admitted':
      return { kind: 'lobby', label: `${who} was admitted`, detail: '' };
    case 'lobby.denied':
      return { kind: 'lobby', label: `${who} was denied entry`, detail: str(d.reason) };
    case 'lobby.withdrew':
      return { kind: 'lobby', label: `${who} left the waiting room`, detail: '' };
    case 'lobby.removed':
      return { kind: 'lobby', label: `${who} was removed by the host`, detail: '' };
    case 'media.started':
      return { kind: 'media', label: `${who} started ${source}`, detail: '' };
    case 'media.paused':
      return { kind: 'media', label: `${who} paused ${source}`, detail: '' };
    case 'media.resumed':
      return { kind: 'media', label: `${who} resumed ${source}`, detail: '' };
    case 'media.stopped':
      return { kind: 'media', label: `${who} stopped ${source}`, detail: '' };
    default:
      return {
        kind: 'other',
        label: e.displayName ? `${e.displayName}: ${e.type}` : e.type,
        detail: '',
      };
  }
}

/**
 * The timeline list with a "media events" toggle (mic/camera changes can be many).
 * `origin` (ms) is the consult's start, for the "+m:ss" offsets.
 */
export function recordTimeline(events: RecordEvent[], origin: number | null): HTMLElement {
  const list = h('ol', { class: 'timeline', testid: 'record-timeline' });
  for (const e of events) {
    const t = describeEvent(e);
    const at = Date.parse(e.at);
    list.append(
      h(
        'li',
        {
          class: `timeline-item kind-${t.kind}`,
          testid: 'timeline-item',
          dataset: { type: e.type, kind: t.kind },
        },
        h(
          'time',
          { datetime: e.at, class: 'timeline-time', title: new Date(at).toLocaleString() },
          formatClock(at),
          origin !== null ? h('span', { class: 'offset' }, formatOffset(at - origin)) : null,
        ),
        h(
          'span',
          { class: 'timeline-text' },
          h('span', { class: 'timeline-label' }, t.label),
          t.detail ? h('span', { class: 'timeline-detail' }, t.detail) : null,
        ),
      ),
    );
  }
  if (!events.length) return h('p', { class: 'empty', testid: 'record-timeline' }, 'No events.');

  const media = events.filter((e) => e.type.startsWith('media.')).length;
  const toggle = h('input', { type: 'checkbox', id: 'timeline-media', checked: true });
  toggle.addEventListener('change', () => list.classList.toggle('hide-media', !toggle.checked));
  return h(
    'div',
    {},
    media
      ? h(
          'div',
          { class: 'check timeline-filter' },
          toggle,
          h('label', { for: 'timeline-media' }, `Show microphone and camera events (${media})`),
        )
      : null,
    list,
  );
}
