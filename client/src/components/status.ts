/** Consult status badges and labels. */
import type { ConsultStatus } from '../api';
import { h } from '../dom';

const LABELS: Record<ConsultStatus, string> = {
  scheduled: 'Scheduled',
  open: 'Waiting room open',
  live: 'Live',
  ended: 'Ended',
  cancelled: 'Cancelled',
};

export function statusLabel(status: ConsultStatus): string {
  return LABELS[status];
}

export function statusBadge(status: ConsultStatus): HTMLElement {
  return h(
    'span',
    { class: `status status-${status}`, testid: 'consult-status', dataset: { status } },
    LABELS[status],
  );
}

/** Consults that can still be joined, changed or cancelled. */
export const ACTIVE_STATUSES: readonly ConsultStatus[] = ['scheduled', 'open', 'live'];
