/**
 * Invite links for a consult (host or admin): create one for an external guest, copy its URL,
 * and see or revoke the existing ones (revoking also disconnects a guest who used it).
 */
import type { Api, Consult, Invite } from '../api';
import { field, formatDateTime, h } from '../dom';
import { busy, messageBox } from './message';

function inviteState(i: Invite): { label: string; key: string } {
  if (i.revokedAt) return { label: 'Revoked', key: 'revoked' };
  if (Date.parse(i.expiresAt) <= Date.now()) return { label: 'Expired', key: 'expired' };
  if (i.firstUsedAt) {
    const uses = i.maxUses > 1 ? ` (${i.uses} of ${i.maxUses} people)` : '';
    const key = i.uses >= i.maxUses ? 'used' : 'active';
    return { label: `Opened ${formatDateTime(i.firstUsedAt)}${uses}`, key };
  }
  return { label: 'Not opened yet', key: 'active' };
}

/** Copies to the clipboard, or selects the text for Ctrl+C when the browser does not allow it. */
export async function copy(text: string, input: HTMLInputElement): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // No clipboard permission (or not a secure context): select it for Ctrl+C instead.
    input.focus();
    input.select();
    return false;
  }
}

export function invitePanel(api: Api, consult: Consult): HTMLElement {
  const name = h('input', { testid: 'invite-name', maxlength: 80, required: true });
  const email = h('input', { type: 'email', testid: 'invite-email', maxlength: 254 });
  // Each person who opens the link waits in the lobby as their own guest.
  const people = h('input', {
    type: 'number',
    testid: 'invite-max-uses',
    min: '1',
    max: '20',
    value: '1',
  });
  const create = h(
    'button',
    { type: 'submit', class: 'primary', testid: 'invite-create' },
    'Create link',
  );
  const message = messageBox('invite-message');
  const result = h('div', { class: 'invite-result', hidden: true });
  const list = h('ul', { class: 'invite-list', testid: 'invite-list' });

  const showUrl = (url: string, guest: string) => {
    const input = h('input', {
      readonly: true,
      value: url,
      testid: 'invite-url',
      'aria-label': `Invite link for ${guest}`,
      on: { focus: () => input.select() },
    });
    const copied = h('span', { class: 'muted', role: 'status' });
    const copyButton = h(
      'button',
      {
        type: 'button',
        class: 'secondary',
        testid: 'invite-copy',
        on: {
          click: () =>
            void copy(url, input).then((ok) => {
              copied.textContent = ok ? 'Copied.' : 'Press Ctrl+C to copy.';
            }),
        },
      },
      'Copy',
    );
    result.replaceChildren(
      h('p', {}, `Send this link to ${guest}. It opens the consult’s waiting room.`),
      h('div', { class: 'copy-row' }, input, copyButton, copied),
    );
    result.hidden = false;
  };

  const renderList = (items: Invite[]) => {
    list.replaceChildren();
    if (!items.length) {
      list.append(h('li', { class: 'muted' }, 'No invite links yet.'));
      return;
    }
    for (const invite of [...items].reverse()) {
      const state = inviteState(invite);
      const revoke = h(
        'button',
        {
          type: 'button',
          class: 'danger-outline',
          testid: 'invite-revoke',
          'aria-label': `Revoke the invite for ${invite.guestName}`,
          on: {
            click: () =>
              void busy(revoke, async () => {
                try {
                  await api.revokeInvite(consult.id, invite.id);
                  await refresh();
                } catch (err) {
                  message.error(err);
                }
              }),
          },
        },
        'Revoke',
      );
      list.append(
        h(
          'li',
          {
            class: 'invite',
            testid: 'invite-row',
            dataset: { inviteId: invite.id, state: state.key },
          },
          h('span', { class: 'invite-guest' }, invite.guestName),
          h('span', { class: `invite-state invite-${state.key}` }, state.label),
          h('span', { class: 'muted' }, `expires ${formatDateTime(invite.expiresAt)}`),
          state.key === 'revoked' || state.key === 'expired' ? null : revoke,
        ),
      );
    }
  };

  async function refresh(): Promise<void> {
    try {
      renderList((await api.listInvites(consult.id)).items);
    } catch (err) {
      message.error(err);
    }
  }

  const form = h(
    'form',
    { class: 'invite-form', novalidate: true, 'aria-label': `Invite a guest to ${consult.title}` },
    field('Guest’s name', name),
    field('E-mail (optional)', email),
    field('People who may use the link', people),
    create,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    message.clear();
    const guestName = name.value.trim();
    if (!guestName) {
      message.error(new Error('Enter the guest’s name as it should appear in the consult.'));
      name.focus();
      return;
    }
    void busy(create, async () => {
      try {
        const res = await api.createInvite(consult.id, {
          guestName,
          email: email.value.trim() || null,
          maxUses: Number(people.value) || 1,
        });
        showUrl(res.url, res.invite.guestName);
        name.value = '';
        email.value = '';
        people.value = '1';
        await refresh();
      } catch (err) {
        message.error(err);
      }
    });
  });

  void refresh();
  return h(
    'div',
    { class: 'invite-panel', testid: 'invite-panel' },
    h('h4', {}, 'Invite an external specialist'),
    form,
    message.el,
    result,
    h('h5', {}, 'Invite links'),
    list,
  );
}
