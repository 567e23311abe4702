/** Consult status badges and labels. */
import type { ConsultStatus } from '../api';
import { h } from '../dom';

/** A consult's status, or the record's `interrupted` (the gateway stopped while it was live). */
export type RecordStatus = ConsultStatus | 'interrupted';

const LABELS: Record<RecordStatus, string> = {
  scheduled: 'Scheduled',
  open: 'Waiting room open',
  live: 'Live',
  ended: 'Ended',
  cancelled: 'Cancelled',
  interrupted: 'Interrupted',
};

export function statusLabel(status: RecordStatus): string {
  return LABELS[status];
}

export function statusBadge(status: RecordStatus): HTMLElement {
  return h(
    'span',
    { class: `status status-${status}`, testid: 'consult-status', dataset: { status } },
    LABELS[status],
  );
}

/** Consults that can still be joined, changed or cancelled. */
export const ACTIVE_STATUSES: readonly ConsultStatus[] = ['scheduled', 'open', 'live'];
