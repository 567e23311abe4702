/**
 * The "schedule a consult" form: title, pseudonymous patient reference, start and end, the
 * host doctor, invited specialists (accounts) and external guests (name, optional e-mail).
 */
import type { Api, Colleague, Consult, User } from '../api';
import { field, fromLocalInput, h, select, toLocalInput, uid } from '../dom';
import { busy, messageBox } from './message';
import { scheduledInvites } from './scheduledInvites';

export interface ConsultFormOptions {
  api: Api;
  /** Everyone who may be picked (inactive and admin accounts are left out here). */
  people: (User | Colleague)[];
  /** Doctors schedule their own consults: the host is fixed to them. */
  fixedHostId?: string;
  onCreated(consult: Consult): void;
}

/** The next half hour from now, as a Date. */
function nextSlot(now = new Date()): Date {
  const d = new Date(now);
  d.setSeconds(0, 0);
  d.setMinutes(d.getMinutes() < 30 ? 30 : 60);
  return d;
}

export function consultForm(opts: ConsultFormOptions): HTMLFormElement {
  const active = opts.people.filter((u) => !('disabled' in u && u.disabled));
  const doctors = active.filter((u) => u.role === 'doctor');
  const invitable = active.filter((u) => u.role === 'specialist' || u.role === 'doctor');

  const title = h('input', { testid: 'consult-title', required: true, maxlength: 200 });
  const patient = h('input', {
    testid: 'consult-patient',
    required: true,
    maxlength: 64,
    autocomplete: 'off',
    placeholder: 'e.g. MRN-7f3a…',
  });
  const start = h('input', { type: 'datetime-local', testid: 'consult-start', required: true });
  const end = h('input', { type: 'datetime-local', testid: 'consult-end', required: true });
  const resetTimes = () => {
    const s = nextSlot();
    start.value = toLocalInput(s);
    end.value = toLocalInput(new Date(s.getTime() + 30 * 60_000));
  };
  resetTimes();
  let lastStart = start.value;
  // Moving the start moves the end with it (keeping the duration).
  start.addEventListener('change', () => {
    const prev = Date.parse(lastStart);
    const next = Date.parse(start.value);
    const endMs = Date.parse(end.value);
    if (Number.isFinite(prev) && Number.isFinite(next) && Number.isFinite(endMs)) {
      end.value = toLocalInput(new Date(endMs + (next - prev)));
    }
    lastStart = start.value;
  });

  const host = select(
    { testid: 'consult-host', required: true },
    [
      ['', 'Choose a doctor…'],
      ...doctors.map((d) => [d.id, 'email' in d ? `${d.name} (${d.email})` : d.name] as const),
    ],
    opts.fixedHostId,
  );

  const specialists = h('fieldset', { class: 'checklist', testid: 'consult-specialists' });
  const renderSpecialists = () => {
    const checked = new Set(
      [...specialists.querySelectorAll<HTMLInputElement>('input:checked')].map((i) => i.value),
    );
    const hostId = opts.fixedHostId ?? host.value;
    const choices = invitable.filter((u) => u.id !== hostId);
    specialists.replaceChildren(h('legend', {}, 'Invite specialists'));
    if (!choices.length) specialists.append(h('p', { class: 'muted' }, 'No specialists yet.'));
    for (const u of choices) {
      const id = uid('spec');
      specialists.append(
        h(
          'div',
          { class: 'check' },
          h('input', {
            type: 'checkbox',
            id,
            value: u.id,
            testid: `consult-specialist-${u.id}`,
            checked: checked.has(u.id),
          }),
          h(
            'label',
            { for: id },
            u.name,
            h('span', { class: 'muted' }, ` · ${u.role === 'doctor' ? 'Doctor' : 'Specialist'}`),
          ),
        ),
      );
    }
  };
  host.addEventListener('change', renderSpecialists);
  renderSpecialists();

  const guestRows = h('div', { class: 'guest-rows' });
  const addGuest = () => {
    const name = h('input', { testid: 'guest-name', maxlength: 80, required: true });
    const email = h('input', { type: 'email', testid: 'guest-email', maxlength: 254 });
    const row = h(
      'div',
      { class: 'guest-row' },
      field('Guest name', name),
      field('E-mail (optional)', email),
      h(
        'button',
        {
          type: 'button',
          class: 'link-button',
          'aria-label': 'Remove this guest',
          on: { click: () => row.remove() },
        },
        'Remove',
      ),
    );
    guestRows.append(row);
    name.focus();
  };
  const addGuestButton = h(
    'button',
    { type: 'button', class: 'secondary', testid: 'guest-add', on: { click: addGuest } },
    'Add external guest',
  );

  const message = messageBox('consult-form-message');
  /** The invite links of the consult just scheduled. */
  const invitesSlot = h('div', { class: 'span-2' });
  const submit = h(
    'button',
    { type: 'submit', class: 'primary', testid: 'consult-create' },
    'Schedule consult',
  );

  const form = h(
    'form',
    { class: 'form-grid', novalidate: true, 'aria-label': 'Schedule a consult' },
    field('Title', title),
    field('Patient reference', patient, 'Pseudonymous (e.g. an MRN hash). No patient names.'),
    field('Starts', start),
    field('Ends', end),
    opts.fixedHostId ? null : field('Host doctor', host),
    h('div', { class: 'span-2' }, specialists),
    h(
      'fieldset',
      { class: 'span-2 guests' },
      h('legend', {}, 'External guests'),
      h(
        'p',
        { class: 'muted' },
        'People without an account: each gets an invite link when you schedule (e-mailed too if the clinic set up e-mail).',
      ),
      guestRows,
      addGuestButton,
    ),
    h('div', { class: 'span-2 form-actions' }, message.el, submit),
    invitesSlot,
  );

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    message.clear();
    invitesSlot.replaceChildren();
    const scheduledStart = fromLocalInput(start.value);
    const scheduledEnd = fromLocalInput(end.value);
    const hostId = opts.fixedHostId ?? host.value;
    const problems: string[] = [];
    if (!title.value.trim()) problems.push('a title');
    if (!patient.value.trim()) problems.push('a patient reference');
    if (!scheduledStart || !scheduledEnd) problems.push('a start and an end');
    if (!hostId) problems.push('a host doctor');
    if (problems.length) {
      message.error(new Error(`Please enter ${problems.join(', ')}.`));
      return;
    }
    if (Date.parse(scheduledEnd!) <= Date.parse(scheduledStart!)) {
      message.error(new Error('The end must be after the start.'));
      return;
    }
    const guests = [...guestRows.querySelectorAll('.guest-row')]
      .map((row) => ({
        name: row.querySelector<HTMLInputElement>('[data-testid="guest-name"]')!.value.trim(),
        email:
          row.querySelector<HTMLInputElement>('[data-testid="guest-email"]')!.value.trim() || null,
      }))
      .filter((g) => g.name);
    const specialistIds = [...specialists.querySelectorAll<HTMLInputElement>('input:checked')].map(
      (i) => i.value,
    );
    void busy(submit, async () => {
      try {
        const consult = await opts.api.createConsult({
          title: title.value.trim(),
          patientRef: patient.value.trim(),
          scheduledStart: scheduledStart!,
          scheduledEnd: scheduledEnd!,
          hostId,
          specialistIds,
          guests,
        });
        title.value = '';
        patient.value = '';
        guestRows.replaceChildren();
        for (const box of specialists.querySelectorAll<HTMLInputElement>('input:checked'))
          box.checked = false;
        message.success(`Scheduled “${consult.title}”.`);
        invitesSlot.replaceChildren(
          ...(consult.invites.length ? [scheduledInvites(consult.invites)] : []),
        );
        opts.onCreated(consult);
      } catch (err) {
        message.error(err);
      }
    });
  });
  return form;
}
