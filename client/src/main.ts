import { RoomClient } from './RoomClient';
import type { ConnectionState, LocalState, RemoteStat } from './types';
import { TileView, initials, roleLabel } from './tiles';
import { decodeToken, isExpired, tokenFromUrl } from './token';

interface ConsultTestHook {
  readonly peerId: string | null;
  getRemoteStats(): Promise<RemoteStat[]>;
}

declare global {
  interface Window {
    __consult: ConsultTestHook;
  }
}

function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (!node) throw new Error(`#${id} is missing from index.html`);
  return node as T;
}

const ui = {
  state: byId('connection-state'),
  meta: byId('consult-meta'),
  banner: byId('banner'),
  bannerText: byId('banner-text'),
  bannerRejoin: byId<HTMLButtonElement>('banner-rejoin'),
  error: byId('error'),
  errorText: byId('error-text'),
  errorDismiss: byId<HTMLButtonElement>('error-dismiss'),
  enableAudio: byId<HTMLButtonElement>('enable-audio'),
  tiles: byId('tiles'),
  localTile: byId('local-tile'),
  localVideo: byId<HTMLVideoElement>('local-video'),
  localAvatar: byId('local-avatar'),
  localName: byId('local-name'),
  localRole: byId('local-role'),
  localMuted: byId('local-muted'),
  localCameraOff: byId('local-camera-off'),
  localSharing: byId('local-sharing'),
  mute: byId<HTMLButtonElement>('mute-button'),
  camera: byId<HTMLButtonElement>('camera-button'),
  screen: byId<HTMLButtonElement>('screen-button'),
  leave: byId<HTMLButtonElement>('leave-button'),
  form: byId<HTMLFormElement>('join-form'),
  token: byId<HTMLTextAreaElement>('token-input'),
  tokenInfo: byId('token-info'),
  name: byId<HTMLInputElement>('name-input'),
  join: byId<HTMLButtonElement>('join-button'),
};

const client = new RoomClient();
const tiles = new TileView(ui.tiles, () => {
  ui.enableAudio.hidden = false;
});

window.__consult = {
  get peerId() {
    return client.peerId;
  },
  getRemoteStats: () => client.getRemoteStats(),
};

// --- rendering ---

function showError(message: string): void {
  ui.errorText.textContent = message;
  ui.error.hidden = false;
}

function clearError(): void {
  ui.error.hidden = true;
  ui.errorText.textContent = '';
}

const BANNERS: Partial<Record<ConnectionState, string>> = {
  reconnecting: 'Reconnecting to the consult…',
  failed: 'The media connection failed. Trying to restore it…',
  left: 'You have left the consult.',
};

function renderState(state: ConnectionState): void {
  ui.state.textContent = state;
  ui.state.dataset.state = state;
  document.body.dataset.state = state;
  if (state !== 'ended') {
    const text = BANNERS[state];
    ui.banner.hidden = !text;
    ui.bannerText.textContent = text ?? '';
    ui.bannerRejoin.hidden = state !== 'left';
  }
  ui.join.textContent =
    state === 'left' || state === 'ended'
      ? 'Re-join consult'
      : client.active
        ? 'Joined'
        : 'Join consult';
  renderLocal(client.localState);
}

function renderLocal(s: LocalState): void {
  ui.mute.textContent = s.micMuted ? 'Unmute' : 'Mute';
  ui.mute.setAttribute('aria-pressed', String(s.micMuted));
  ui.mute.disabled = s.joined && !s.hasMic;
  ui.camera.textContent = s.cameraOff ? 'Start camera' : 'Stop camera';
  ui.camera.setAttribute('aria-pressed', String(s.cameraOff));
  ui.camera.disabled = s.joined && !s.hasCamera;
  ui.screen.textContent = s.sharing ? 'Stop sharing' : 'Share screen';
  ui.screen.setAttribute('aria-pressed', String(s.sharing));
  ui.screen.disabled = !s.joined && !s.sharing;
  ui.leave.disabled = !client.active;
  ui.localMuted.hidden = !(s.micMuted && s.hasMic);
  ui.localCameraOff.hidden = !(s.cameraOff && s.hasCamera);
  ui.localSharing.hidden = !s.sharing;
  ui.localTile.dataset.camera = s.hasCamera && !s.cameraOff ? 'on' : 'off';
}

function renderTokenInfo(): void {
  const token = ui.token.value.trim();
  ui.tokenInfo.classList.remove('invalid');
  if (!token) {
    ui.tokenInfo.textContent = '';
    return;
  }
  try {
    const claims = decodeToken(token);
    const expired = isExpired(claims) ? ' · this token has expired' : '';
    ui.tokenInfo.textContent = `${claims.name} · ${roleLabel(claims.role)} · consult ${claims.consultId}${expired}`;
    if (expired) ui.tokenInfo.classList.add('invalid');
  } catch (err) {
    ui.tokenInfo.textContent = (err as Error).message;
    ui.tokenInfo.classList.add('invalid');
  }
}

// --- actions ---

async function joinFromForm(): Promise<void> {
  const token = ui.token.value.trim();
  if (!token) {
    showError('Paste the access token from your invitation first.');
    ui.token.focus();
    return;
  }
  const displayName = ui.name.value.trim();
  try {
    const claims = decodeToken(token);
    if (client.isActiveWith(token)) return;
    clearError();
    const shownName = displayName || claims.name;
    ui.localName.textContent = `${shownName} (you)`;
    ui.localAvatar.textContent = initials(shownName);
    ui.localRole.textContent = roleLabel(claims.role);
    ui.localRole.hidden = false;
    ui.meta.textContent = `Consult ${claims.consultId}`;
    ui.enableAudio.hidden = true;
    await client.join(token, displayName || undefined);
  } catch (err) {
    showError((err as Error).message);
  }
}

ui.form.addEventListener('submit', (event) => {
  event.preventDefault();
  void joinFromForm();
});
ui.bannerRejoin.addEventListener('click', () => void joinFromForm());
ui.token.addEventListener('input', renderTokenInfo);
ui.errorDismiss.addEventListener('click', clearError);
ui.mute.addEventListener('click', () => void client.setMicMuted(!client.localState.micMuted));
ui.camera.addEventListener('click', () => void client.setCameraOff(!client.localState.cameraOff));
ui.screen.addEventListener('click', () => void client.toggleScreenShare());
ui.leave.addEventListener('click', () => void client.leave());
ui.enableAudio.addEventListener('click', () => {
  ui.enableAudio.hidden = true;
  tiles.resumeAudio();
});
window.addEventListener('pagehide', () => client.close());

// --- client events ---

client.on('state', renderState);
client.on('localState', renderLocal);
client.on('error', ({ message }) => showError(message));
client.on('joined', () => clearError());
client.on('localMedia', (stream) => {
  ui.localVideo.srcObject = stream;
  if (stream) ui.localVideo.play().catch(() => undefined);
});
client.on('peer', (view) => tiles.upsertPeer(view));
client.on('peerRemoved', (peerId) => tiles.removePeer(peerId));
client.on('trackAdded', (track) => tiles.addTrack(track));
client.on('trackRemoved', ({ peerId, consumerId }) => tiles.removeTrack(peerId, consumerId));
client.on('quality', ({ peerId, reading }) => tiles.setQuality(peerId, reading));
client.on('activeSpeaker', (peerId) => {
  tiles.setActiveSpeaker(peerId);
  ui.localTile.classList.toggle('speaking', peerId !== null && peerId === client.peerId);
});
const END_REASONS: Record<string, string> = {
  joined_from_another_connection: 'You joined this consult from another window or device.',
};

client.on('ended', (reason) => {
  ui.banner.hidden = false;
  ui.bannerText.textContent =
    END_REASONS[reason] ??
    (reason ? `The consult has ended (${reason.replace(/_/g, ' ')}).` : 'The consult has ended.');
  ui.bannerRejoin.hidden = true;
});

// --- start ---

renderState(client.connectionState);
const urlToken = tokenFromUrl();
if (urlToken) {
  ui.token.value = urlToken;
  renderTokenInfo();
  void joinFromForm();
}
