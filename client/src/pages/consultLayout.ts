/** The consult page's markup: top bar, video stage with call controls, and the side panel. */
import { h } from '../dom';

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

  const ui = {
    back: h('a', { class: 'back-link', href: '/', hidden: true }, '← Your consults'),
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
    tiles: h('div', { class: 'grid', id: 'tiles' }),
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
    mute: button('mute-button', 'Mute', undefined, { 'aria-pressed': 'false' }),
    camera: button('camera-button', 'Stop camera', undefined, { 'aria-pressed': 'false' }),
    screen: button('screen-button', 'Share screen', undefined, {
      'aria-pressed': 'false',
      disabled: true,
    }),
    leave: button('leave-button', 'Leave', 'danger', { disabled: true }),
    end: button('end-button', 'End consult', 'danger-outline', { hidden: true }),
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
      { class: 'topbar' },
      h(
        'div',
        { class: 'brand' },
        h('span', { class: 'brand-mark', 'aria-hidden': 'true' }),
        'Telemed consult',
      ),
      ui.back,
      ui.meta,
      ui.state,
    ),
    h(
      'main',
      { class: 'layout' },
      h(
        'section',
        { class: 'stage', 'aria-label': 'Consult' },
        ui.banner,
        ui.error,
        ui.enableAudio,
        ui.waiting,
        ui.denied,
        ui.tiles,
        h(
          'nav',
          { class: 'controls', 'aria-label': 'Call controls' },
          ui.mute,
          ui.camera,
          ui.screen,
          ui.leave,
          ui.end,
        ),
        ui.endConfirm,
      ),
      h(
        'aside',
        { class: 'panel' },
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
      ),
    ),
  ];
  return { ui, root };
}

export type ConsultUi = ReturnType<typeof consultLayout>['ui'];
