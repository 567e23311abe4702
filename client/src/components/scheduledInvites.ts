/**
 * The invite links made when a consult was scheduled, one per guest entered: each to copy,
 * with a QR code to open it on a phone, and whether the gateway e-mailed it.
 */
import QRCode from 'qrcode';
import type { ScheduledInvite } from '../api';
import { h } from '../dom';
import { copy } from './invites';

const EMAILED: Record<ScheduledInvite['emailed'], string> = {
  sent: 'E-mailed to',
  failed: 'The e-mail could not be sent: send this link yourself to',
  not_configured: 'Send this link to',
  no_address: 'No e-mail address given: send this link to',
};

export function scheduledInvites(invites: ScheduledInvite[]): HTMLElement {
  return h(
    'section',
    { class: 'scheduled-invites', testid: 'scheduled-invites' },
    h('h3', {}, invites.length === 1 ? 'Invite link for the guest' : 'Invite links for the guests'),
    ...invites.map((invite) => {
      const input = h('input', {
        readonly: true,
        value: invite.url,
        testid: 'scheduled-invite-url',
        'aria-label': `Invite link for ${invite.name}`,
      });
      const copied = h('span', { class: 'muted', role: 'status' });
      const qr = h('img', {
        class: 'invite-qr',
        testid: 'scheduled-invite-qr',
        alt: `QR code of the invite link for ${invite.name}: scan it with a phone camera`,
        width: '160',
        height: '160',
      });
      QRCode.toDataURL(invite.url, { margin: 1, width: 160 })
        .then((src) => {
          qr.src = src;
        })
        .catch(() => qr.remove());
      const whom =
        invite.email && invite.emailed !== 'no_address'
          ? `${invite.name} (${invite.email})`
          : invite.name;
      return h(
        'div',
        {
          class: 'scheduled-invite',
          testid: 'scheduled-invite',
          dataset: { emailed: invite.emailed, guestId: invite.guestId },
        },
        h('p', {}, `${EMAILED[invite.emailed]} ${whom}.`),
        h(
          'div',
          { class: 'copy-row' },
          input,
          h(
            'button',
            {
              type: 'button',
              class: 'secondary',
              testid: 'scheduled-invite-copy',
              on: {
                click: () =>
                  void copy(invite.url, input).then((ok) => {
                    copied.textContent = ok ? 'Copied.' : 'Press Ctrl+C to copy.';
                  }),
              },
            },
            'Copy',
          ),
          copied,
        ),
        qr,
      );
    }),
  );
}
