/** Inline editor that moves a consult's start and end (PATCH /consults/:id). */
import type { Api, Consult } from '../api';
import { field, fromLocalInput, h, toLocalInput } from '../dom';
import { busy, messageBox } from './message';

export function rescheduleForm(
  api: Api,
  consult: Consult,
  done: (updated: Consult | null) => void,
): HTMLFormElement {
  const start = h('input', {
    type: 'datetime-local',
    testid: 'reschedule-start',
    value: toLocalInput(new Date(consult.scheduledStart)),
  });
  const end = h('input', {
    type: 'datetime-local',
    testid: 'reschedule-end',
    value: toLocalInput(new Date(consult.scheduledEnd)),
  });
  const save = h('button', { type: 'submit', class: 'primary', testid: 'reschedule-save' }, 'Save');
  const message = messageBox('reschedule-message');
  const form = h(
    'form',
    { class: 'inline-form', novalidate: true, 'aria-label': `Reschedule ${consult.title}` },
    field('New start', start),
    field('New end', end),
    save,
    h('button', { type: 'button', on: { click: () => done(null) } }, 'Close'),
    message.el,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const scheduledStart = fromLocalInput(start.value);
    const scheduledEnd = fromLocalInput(end.value);
    if (
      !scheduledStart ||
      !scheduledEnd ||
      Date.parse(scheduledEnd) <= Date.parse(scheduledStart)
    ) {
      message.error(new Error('Enter a start and an end after it.'));
      return;
    }
    void busy(save, async () => {
      try {
        done(await api.updateConsult(consult.id, { scheduledStart, scheduledEnd }));
      } catch (err) {
        message.error(err);
      }
    });
  });
  return form;
}

/** A button that asks for a second click before doing something drastic. */
export function confirmButton(
  label: string,
  confirmLabel: string,
  props: { testid: string; 'aria-label'?: string },
  action: () => Promise<void>,
): HTMLButtonElement {
  let armed: ReturnType<typeof setTimeout> | null = null;
  const button = h('button', { type: 'button', class: 'danger-outline', ...props }, label);
  const disarm = () => {
    if (armed) clearTimeout(armed);
    armed = null;
    button.textContent = label;
    button.classList.remove('armed');
  };
  button.addEventListener('click', () => {
    if (!armed) {
      button.textContent = confirmLabel;
      button.classList.add('armed');
      armed = setTimeout(disarm, 5000);
      return;
    }
    disarm();
    void busy(button, action);
  });
  return button;
}
