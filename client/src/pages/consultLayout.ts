/**
 * The consult page's markup: a one-line top bar, the video stage with the call controls, and
 * the side panel (a drawer on narrow screens, opened from the control bar).
 */
import { h } from '../dom';
import { icon } from '../icons';
import type { IconName } from '../icons';

export interface ConsultLayoutOptions {
  /** The token came with the URL or from the app: no paste-a-token form. */
  tokenGiven: boolean;
}

/** Builds the page and returns it with references to every element the page updates. */
export function consultLayout(opts: ConsultLayoutOptions) {
  const button = (
    testid: string,
    label: string,
    cls?: string,
    extra: Record<string, unknown> = {},
  ) => h('button', { type: 'button', id: testid, testid, class: cls, ...extra }, label);
  /** A call control: an icon and a label (the label is hidden on phones; aria-label names it). */
  const control = (
    testid: string,
    name: IconName,
    label: string,
    cls?: string,
    extra: Record<string, unknown> = {},
  ) =>
    h(
      'button',
      { type: 'button', id: testid, testid, class: `control ${cls ?? ''}`.trim(), ...extra },
      icon(name),
      h('span', { class: 'control-label' }, label),
    );

  const ui = {
    back: h(
      'a',
      { class: 'back-link', href: '/', hidden: true, 'aria-label': 'Back to your consults' },
      '←',
      h('span', { class: 'back-text' }, ' Your consults'),
    ),
    meta: h('div', { class: 'consult-meta', testid: 'consult-meta' }),
    state: h(
      'div',
      {
        class: 'state',
        testid: 'connection-state',
        dataset: { state: 'disconnected' },
        role: 'status',
        'aria-live': 'polite',
      },
      'disconnected',
    ),
    banner: h('div', { class: 'banner', testid: 'banner', hidden: true }),
    bannerText: h('span'),
    bannerRejoin: button('banner-rejoin', 'Re-join', 'secondary', { hidden: true }),
    bannerHome: h('a', { class: 'button-link', href: '/', hidden: true }, 'Back to your consults'),
    bannerRecord: h(
      'a',
      { class: 'button-link', href: '/', hidden: true, testid: 'banner-record' },
      'View the record',
    ),
    /** What happens next, after the end (devices released, record link, …). */
    after: h('div', { class: 'after-call', testid: 'after-call', role: 'status', hidden: true }),
    error: h('div', { class: 'alert', testid: 'error-message', role: 'alert', hidden: true }),
    errorText: h('span'),
    errorDismiss: h('button', { type: 'button', class: 'link', 'aria-label': 'Dismiss' }, '×'),
    enableAudio: button(
      'enable-audio',
      'Sound is blocked by the browser: click to enable',
      'secondary',
      { hidden: true },
    ),
    waiting: h(
      'div',
      { class: 'lobby-card', testid: 'lobby-waiting', role: 'status', hidden: true },
      h('span', { class: 'pulse', 'aria-hidden': 'true' }),
      h(
        'div',
        {},
        h('h2', {}, 'Waiting for the host to admit you'),
        h(
          'p',
          {},
          'The host has been told you are here. Meanwhile you can check your camera and ' +
            'microphone in the preview below.',
        ),
      ),
    ),
    denied: h('div', {
      class: 'lobby-card denied',
      testid: 'lobby-denied',
      role: 'alert',
      hidden: true,
    }),
    tiles: h('div', { class: 'grid', id: 'tiles', role: 'group', 'aria-label': 'Participants' }),
    localTile: h('article', { class: 'tile local', id: 'local-tile', dataset: { camera: 'off' } }),
    localVideo: h('video', {
      id: 'local-video',
      testid: 'local-video',
      autoplay: true,
      playsinline: true,
      muted: true,
    }),
    localAvatar: h('span', { class: 'avatar' }, 'You'),
    localName: h('span', { class: 'name' }, 'You'),
    localRole: h('span', { class: 'role', hidden: true }),
    localMuted: h('span', { class: 'badge badge-muted', hidden: true }, 'Muted'),
    localCameraOff: h('span', { class: 'badge badge-camera', hidden: true }, 'Camera off'),
    localSharing: h('span', { class: 'badge badge-screen', hidden: true }, 'Sharing screen'),
    localQuality: h(
      'span',
      {
        class: 'quality',
        testid: 'local-quality',
        dataset: { quality: 'unknown' },
        title: 'Your connection: no figures yet',
      },
      h('span', { class: 'bars', 'aria-hidden': 'true' }, h('i'), h('i'), h('i')),
    ),
    localQualityLabel: h('span', { class: 'quality-label' }, '—'),
    mute: control('mute-button', 'mic', 'Mute', undefined, {
      'aria-pressed': 'false',
      'aria-keyshortcuts': 'M',
      'aria-label': 'Mute microphone',
    }),
    camera: control('camera-button', 'camera', 'Stop camera', undefined, {
      'aria-pressed': 'false',
      'aria-keyshortcuts': 'V',
      'aria-label': 'Stop camera',
    }),
    screen: control('screen-button', 'screen', 'Share screen', undefined, {
      'aria-pressed': 'false',
      'aria-label': 'Share your screen',
      disabled: true,
    }),
    chatToggle: control('chat-toggle', 'chat', 'Chat', 'drawer-toggle', {
      'aria-controls': 'side-panel',
      'aria-expanded': 'false',
      'aria-label': 'Open the chat',
    }),
    lobbyToggle: control('lobby-toggle', 'people', 'Waiting room', 'drawer-toggle', {
      'aria-controls': 'side-panel',
      'aria-expanded': 'false',
      'aria-label': 'Open the waiting room',
      hidden: true,
    }),
    lobbyBadge: h('span', { class: 'toggle-badge', testid: 'lobby-toggle-count', hidden: true }),
    leave: control('leave-button', 'leave', 'Leave', 'danger', {
      disabled: true,
      'aria-label': 'Leave the consult',
    }),
    end: control('end-button', 'end', 'End consult', 'danger-outline', {
      hidden: true,
      'aria-label': 'End the consult for everyone',
    }),
    panel: h('aside', {
      class: 'panel',
      id: 'side-panel',
      testid: 'side-panel',
      'aria-label': 'Chat, waiting room and notes',
    }),
    panelClose: h(
      'button',
      {
        type: 'button',
        class: 'panel-close',
        testid: 'panel-close',
        'aria-label': 'Close the panel',
      },
      icon('close'),
    ),
    spotlightExit: h(
      'button',
      {
        type: 'button',
        class: 'spotlight-exit',
        testid: 'spotlight-exit',
        'aria-label': 'Show everyone in a grid',
        hidden: true,
      },
      icon('grid'),
      h('span', {}, 'Show all'),
    ),
    endConfirm: h(
      'div',
      { class: 'confirm-bar', role: 'alertdialog', 'aria-labelledby': 'end-q', hidden: true },
      h('span', { id: 'end-q' }, 'End the consult for everyone?'),
    ),
    endYes: button('end-confirm-button', 'End for everyone', 'danger'),
    endNo: button('end-cancel-button', 'Keep consulting'),
    lobbyPanelSlot: h('div'),
    chatSlot: h('div'),
    notesSlot: h('div'),
    invitesSlot: h('div'),
    form: h('form', { id: 'join-form', autocomplete: 'off' }),
    token: h('textarea', {
      id: 'token-input',
      testid: 'token-input',
      name: 'token',
      rows: 5,
      spellcheck: 'false',
      placeholder: 'Paste the link from your invitation',
    }),
    tokenInfo: h('p', { class: 'token-info', 'aria-live': 'polite' }),
    name: h('input', {
      id: 'name-input',
      name: 'displayName',
      maxlength: 80,
      placeholder: 'As shown to others',
    }),
    join: h(
      'button',
      { type: 'submit', id: 'join-button', testid: 'join-button', class: 'primary' },
      'Join consult',
    ),
    formTitle: h('h2', {}, 'Join a consult'),
  };

  ui.banner.append(ui.bannerText, ui.bannerRejoin, ui.bannerRecord, ui.bannerHome);
  ui.lobbyToggle.append(ui.lobbyBadge);
  ui.localQuality.append(ui.localQualityLabel);
  ui.error.append(ui.errorText, ui.errorDismiss);
  ui.endConfirm.append(ui.endYes, ui.endNo);
  ui.localTile.append(
    h('div', { class: 'media' }, ui.localVideo, h('div', { class: 'placeholder' }, ui.localAvatar)),
    h(
      'footer',
      { class: 'tile-bar' },
      h('div', { class: 'who' }, ui.localName, ui.localRole),
      h(
        'div',
        { class: 'badges' },
        ui.localMuted,
        ui.localCameraOff,
        ui.localSharing,
        ui.localQuality,
      ),
    ),
  );
  ui.tiles.append(ui.localTile);
  ui.panel.append(
    ui.panelClose,
    ui.lobbyPanelSlot,
    ui.form,
    ui.chatSlot,
    ui.notesSlot,
    ui.invitesSlot,
    h(
      'p',
      { class: 'privacy' },
      'Your camera and microphone are used only while you are in the consult.',
    ),
  );
  ui.form.append(
    ui.formTitle,
    ...(opts.tokenGiven
      ? [ui.tokenInfo]
      : [
          h('label', { for: 'token-input' }, 'Invitation link'),
          ui.token,
          ui.tokenInfo,
          h(
            'label',
            { for: 'name-input' },
            'Display name ',
            h('span', { class: 'hint' }, '(optional)'),
          ),
          ui.name,
        ]),
    ui.join,
  );

  const root = [
    h(
      'header',
      { class: 'topbar room-topbar' },
      h(
        'div',
        { class: 'brand' },
        h('span', { class: 'brand-mark', 'aria-hidden': 'true' }),
        h('span', { class: 'brand-text' }, 'Telemed consult'),
      ),
      ui.back,
      ui.meta,
      ui.state,
    ),
    h(
      'main',
      { class: 'layout room' },
      h(
        'section',
        { class: 'stage', 'aria-label': 'Consult' },
        ui.banner,
        ui.after,
        ui.error,
        ui.enableAudio,
        ui.waiting,
        ui.denied,
        h('div', { class: 'stage-area' }, ui.tiles, ui.spotlightExit),
        ui.endConfirm,
        h(
          'nav',
          { class: 'controls', 'aria-label': 'Call controls' },
          ui.mute,
          ui.camera,
          ui.screen,
          ui.chatToggle,
          ui.lobbyToggle,
          ui.leave,
          ui.end,
        ),
      ),
      ui.panel,
    ),
  ];
  return { ui, root };
}

export type ConsultUi = ReturnType<typeof consultLayout>['ui'];
