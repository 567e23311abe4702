/**
 * The consult page: joins with a join grant (from the URL, the dashboards or an invite link),
 * shows the waiting room to those who must be admitted, and gives hosts the lobby panel,
 * Remove on each participant and End consult. Everyone joined has the chat and a live quality
 * indicator per tile; a logged-in host also has the private notes and outcome.
 */
import { RoomClient } from '../RoomClient';
import type { ConnectionState, LocalState, RemoteStat, TransportStat } from '../types';
import type { EndReason, LobbyEntryInfo } from '../../../src/protocol';
import { TileView, initials, roleLabel } from '../tiles';
import { decodeToken, isExpired } from '../token';
import { EXPIRED_LINK } from '../joinErrors';
import type { TokenClaims } from '../token';
import { describeError } from '../request';
import { invitePanel } from '../components/invites';
import { LobbyPanel } from '../components/lobby';
import { WaitingRoomExtras } from '../components/waitingRoom';
import type { AppContext } from '../context';
import { Auth } from '../auth';
import type { Cleanup } from '../router';
import { h } from '../dom';
import { consultLayout } from './consultLayout';
import { ConsultChrome } from './consultChrome';
import { DeviceMenu } from '../components/deviceMenu';
import { Stage } from '../stage';
import { ChatLog } from '../chat';
import { ChatPanel } from '../components/chatPanel';
import { NotesEditor } from '../components/notesEditor';
import { QualityBoard } from '../liveQuality';
import { JoinPreview } from '../joinPreview';
import type { QualityView } from '../liveQuality';

/** Something that happened on the page, for tests (e.g. that no participant ever left). */
interface PageEvent {
  at: number;
  type: 'state' | 'transportState' | 'peerRemoved' | 'iceRestart' | 'remoteVideo';
  detail: string;
}

interface ConsultTestHook {
  readonly peerId: string | null;
  getRemoteStats(): Promise<RemoteStat[]>;
  /** Each transport's selected candidate pair (udp / tcp) and ICE restarts. */
  getTransportStats(): Promise<TransportStat[]>;
  /** ICE restarts applied on this page. */
  readonly iceRestarts: number;
  /** Drops the signalling connection as a network failure would; it then reconnects. */
  dropSignalling(): void;
  readonly events: readonly PageEvent[];
  /** The local producers and the track each sends (a device switch keeps the producer). */
  readonly localProducers: { source: string; producerId: string; trackId: string | null }[];
  /** The client's last signalling and media set-up steps (Date.now()). */
  readonly trace: readonly { at: number; step: string }[];
  /** The gateway node the page's signalling goes to now. */
  readonly server: string;
}

declare global {
  interface Window {
    __consult: ConsultTestHook;
  }
}

export interface ConsultPageOptions {
  /** A join grant; null shows the paste-a-token form. */
  token: string | null;
  /** The consult's title, when known (invite links tell it). */
  title?: string;
}

const BANNERS: Partial<Record<ConnectionState, string>> = {
  reconnecting: 'Reconnecting to the consult…',
  failed: 'The media connection failed. Trying to restore it…',
  left: 'You have left the consult.',
};

const END_REASONS: Record<EndReason, string> = {
  joined_from_another_connection: 'You joined this consult from another window or device.',
  ended_by_host: 'The host has ended the consult.',
  removed_by_host: 'The host removed you from the consult.',
  invite_revoked: 'Your invitation has been revoked.',
  access_revoked: 'Your session has ended (logged out, account changed or disabled). Log in again.',
  cancelled: 'The consult was cancelled.',
  everyone_left: 'The consult has ended.',
  interrupted: 'The consult was interrupted.',
};

/** Reasons after which joining again cannot work: the consult (or the invitation) is over. */
const FINAL_REASONS = new Set<EndReason>([
  'ended_by_host',
  'cancelled',
  'everyone_left',
  'invite_revoked',
  'access_revoked',
]);

function safeDecode(token: string): TokenClaims | null {
  try {
    return decodeToken(token);
  } catch {
    return null;
  }
}

function sentence(text: string): string {
  const t = text.trim();
  const s = t.charAt(0).toUpperCase() + t.slice(1);
  return /[.!?]$/.test(s) ? s : `${s}.`;
}

/** States after which the call is over on this page (devices released, controls off). */
const FINISHED: ReadonlySet<ConnectionState> = new Set(['left', 'ended', 'denied']);

/** The latest the page is built when the join has not answered yet. */
const BUILD_BY_MS = 3000;

/**
 * Client events that come with a join, before its first frame: they do not start the page's
 * build (`mediaRequested` does, when no video is on its way).
 */
const UNTIL_JOINED = new Set<string>([
  'state',
  'joined',
  'trackAdded',
  'remoteVideo',
  'transportState',
  // The join answer's roster, chat and lobby, given out before its consume requests go.
  'peer',
  'chatHistory',
  'lobby',
  'activeSpeaker',
  'serverQuality',
  'quality',
  'hostMessage',
  'localState',
  'localMedia',
]);

/**
 * The longest the page waits, once the join's media is requested, for the first remote frame
 * before it is built anyway (a video that does not come is not the page's to wait for).
 */
const FIRST_FRAME_WAIT_MS = 1500;

/**
 * Joining starts first, and the page is built only after the first remote frame (played by a
 * JoinPreview until then), or once the join's media is requested when no video is on its way
 * (alone, cameras off); on a refusal, the lobby or an error; or after BUILD_BY_MS. The
 * socket's handshake, the join, the consumers' set-up and the first frame's presentation are
 * not kept waiting behind the page's building and drawing. The client keeps its events back
 * until the page listens; the page adopts the preview's media elements.
 */
export function consultPage(ctx: AppContext, opts: ConsultPageOptions): Cleanup {
  const client = new RoomClient();
  if (!opts.token) return buildConsultPage(ctx, opts, client, null, null);
  const early = client.join(opts.token);
  early.catch(() => build()); // a bad token: nothing to wait for
  const preview = new JoinPreview(() => build());
  ctx.root.replaceChildren(
    h('p', { class: 'muted', testid: 'consult-joining', role: 'status' }, 'Joining the consult…'),
    preview.el,
  );
  let cleanup: Cleanup | null = null;
  let gone = false;
  let timer = setTimeout(() => build(), BUILD_BY_MS);
  let frameTimer: ReturnType<typeof setTimeout> | undefined;
  // In a task of its own: the client finishes what it was doing (the consume requests, the
  // frame's presentation) first.
  let scheduled = false;
  function build(): void {
    if (scheduled) return;
    scheduled = true;
    clearTimeout(timer);
    clearTimeout(frameTimer);
    timer = setTimeout(() => {
      if (gone || cleanup) return;
      cleanup = buildConsultPage(ctx, opts, client, early, preview);
      client.release();
      preview.dispose();
    }, 0);
  }
  client.hold((...event) => {
    if (event[0] === 'peer') preview.peer(event[1]);
    else if (event[0] === 'trackAdded') preview.add(event[1]);
    else if (event[0] === 'mediaRequested') {
      if (!preview.awaitingFrame) build();
      else frameTimer ??= setTimeout(() => build(), FIRST_FRAME_WAIT_MS);
    } else if (!UNTIL_JOINED.has(event[0])) build();
  });
  return () => {
    gone = true;
    clearTimeout(timer);
    clearTimeout(frameTimer);
    if (cleanup) cleanup();
    else {
      client.close();
      preview.dispose();
    }
  };
}

function buildConsultPage(
  ctx: AppContext,
  opts: ConsultPageOptions,
  client: RoomClient,
  early: Promise<void> | null,
  preview: JoinPreview | null,
): Cleanup {
  let claims: TokenClaims | null = null;
  if (opts.token) claims = safeDecode(opts.token);

  const { ui, root } = consultLayout({ tokenGiven: opts.token !== null });
  ctx.root.replaceChildren(...root);
  document.body.classList.add('room-page');
  document.title = `${opts.title ?? 'Consult'} · Telemed`;
  ui.localVideo.muted = true;
  ui.meta.textContent = opts.title ?? '';

  /** The consult is over for good: no re-join. */
  let over = false;
  let endedByMe = false;
  /** This page had a camera or microphone during the call (released at the end). */
  let hadMedia = false;
  // The chat's messages are kept from the join on; the panels are built after the first frame.
  const chatLog = new ChatLog();
  let lobby: LobbyPanel | null = null;
  let lastLobby: { entries: LobbyEntryInfo[]; total: number } = { entries: [], total: 0 };
  let chat: ChatPanel | null = null;
  let panelsMounted = false;
  let panelTimer: ReturnType<typeof setTimeout> | null = null;
  const quality = new QualityBoard();
  let notes: NotesEditor | null = null;
  /** The record page's address, once we know this account may see it. */
  let recordHref: string | null = null;
  const chrome = new ConsultChrome(ui, {
    toggleMic: () => void client.setMicMuted(!client.localState.micMuted),
    toggleCamera: () => void client.setCameraOff(!client.localState.cameraOff),
  });
  // Built after the first frame (mountPanels), with the side panels: the device menu and
  // the waiting room's extras.
  let devices: DeviceMenu | null = null;
  let waitingExtras: WaitingRoomExtras | null = null;
  const stage = new Stage(ui.tiles, ui.spotlightExit);
  const tiles = new TileView(ui.tiles, {
    onChange: () => stage.schedule(),
    onAutoplayBlocked: () => {
      ui.enableAudio.hidden = false;
    },
    onRemove: (peerId, name) => {
      if (!claims?.grants.admit) return;
      client
        .removeParticipant(peerId)
        .catch((err: unknown) =>
          showError(`Could not remove ${name || 'the participant'}: ${describeError(err).message}`),
        );
    },
  });
  ui.tiles.classList.toggle('can-remove', false);

  const events: PageEvent[] = [];
  const logEvent = (type: PageEvent['type'], detail: string) => {
    events.push({ at: Date.now(), type, detail });
    if (events.length > 500) events.shift();
  };
  window.__consult = {
    get peerId() {
      return client.peerId;
    },
    getRemoteStats: () => client.getRemoteStats(),
    getTransportStats: () => client.getTransportStats(),
    get iceRestarts() {
      return client.iceRestarts;
    },
    dropSignalling: () => client.dropSignalling(),
    events,
    get localProducers() {
      return client.localProducers;
    },
    get trace() {
      return client.trace;
    },
    get server() {
      return client.server;
    },
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

  function showBanner(text: string | undefined, opts: { rejoin?: boolean; home?: boolean } = {}) {
    ui.banner.hidden = !text;
    ui.bannerText.textContent = text ?? '';
    ui.bannerRejoin.hidden = !opts.rejoin;
    ui.bannerHome.hidden = !(opts.home && ctx.auth.user);
    ui.bannerRecord.hidden = !(opts.home && recordHref);
  }

  function renderLocalQuality(view: QualityView | null): void {
    ui.localQuality.dataset.quality = view?.level ?? 'unknown';
    ui.localQualityLabel.textContent = !view || view.level === 'unknown' ? '—' : view.level;
    ui.localQuality.title = view
      ? view.title.replace(/^Network/, 'Your connection')
      : 'Your connection: no figures yet';
  }

  /** What renderState last drew, so a repeated event changes nothing. */
  let drawn = '';

  function renderState(state: ConnectionState): void {
    const key = `${state}|${over}|${client.active}|${claims?.sub ?? ''}|${recordHref ?? ''}`;
    if (key === drawn) return;
    drawn = key;
    ui.state.textContent = state;
    ui.state.dataset.state = state;
    document.body.dataset.state = state;
    if (state !== 'ended' && state !== 'denied') {
      showBanner(BANNERS[state], { rejoin: state === 'left', home: state === 'left' });
    }
    ui.waiting.hidden = state !== 'waiting';
    if (state !== 'denied') ui.denied.hidden = true;
    const joined = state === 'connected' || state === 'reconnecting' || state === 'connecting';
    const hosting = Boolean(claims?.grants.admit) && client.active && state !== 'waiting';
    lobby?.setVisible(hosting);
    chrome.setLobby(hosting, lastLobby.total);
    chrome.setInCall(client.active || state === 'failed');
    ui.end.hidden = !(claims?.grants.end && joined);
    if (ui.end.hidden) ui.endConfirm.hidden = true;
    renderAfter(state);
    ui.tiles.classList.toggle('can-remove', Boolean(claims?.grants.admit));
    ui.join.disabled = over;
    ui.join.textContent = over
      ? 'Consult ended'
      : state === 'left' || state === 'ended' || state === 'denied'
        ? 'Re-join consult'
        : state === 'waiting'
          ? 'Waiting…'
          : client.active
            ? 'Joined'
            : 'Join consult';
    renderLocal(client.localState);
  }

  function renderLocal(s: LocalState): void {
    if (s.hasMic || s.hasCamera) hadMedia = true;
    const finished = FINISHED.has(client.connectionState);
    chrome.renderControls(s, { active: client.active, finished });
    devices?.setEnabled(s.joined && !finished && Boolean(claims?.grants.publish));
    renderChat(s.joined);
    if (!s.joined) renderLocalQuality(null);
    ui.localMuted.hidden = !(s.micMuted && s.hasMic);
    ui.localCameraOff.hidden = !(s.cameraOff && s.hasCamera);
    ui.localSharing.hidden = !s.sharing;
    ui.localTile.dataset.camera = s.hasCamera && !s.cameraOff ? 'on' : 'off';
  }

  function renderChat(joined: boolean): void {
    if (!chat) return;
    const state = client.connectionState;
    chat.setEnabled(
      joined,
      state === 'ended'
        ? 'The consult has ended; the chat is closed.'
        : state === 'left'
          ? 'You have left the consult.'
          : undefined,
    );
    chat.el.hidden = !joined && chatLog.messages.length === 0;
  }

  /** After leaving or the end: devices released and what happens next. */
  function renderAfter(state: ConnectionState): void {
    if (!FINISHED.has(state)) {
      chrome.showAfter(null);
      return;
    }
    const host = Boolean(claims?.grants.end);
    const next =
      state === 'denied'
        ? 'You can close this window.'
        : !over && state === 'left'
          ? 'You can re-join while the consult goes on.'
          : host && recordHref
            ? 'The consult record (participants, chat, timeline and your notes) is ready: “View the record” above.'
            : host
              ? 'The consult record is on your dashboard.'
              : 'You can close this window. The clinic will contact you about any next steps.';
    chrome.showAfter({ released: hadMedia, next });
  }

  function renderTokenInfo(token: string): void {
    ui.tokenInfo.classList.remove('invalid');
    if (!token) {
      ui.tokenInfo.textContent = '';
      return;
    }
    try {
      const c = decodeToken(token);
      const expired = isExpired(c) ? ' · this token has expired' : '';
      const where = opts.token ? '' : ` · consult ${c.consultId}`;
      ui.tokenInfo.textContent = `${c.name} · ${roleLabel(c.role)}${where}${expired}`;
      if (expired) ui.tokenInfo.classList.add('invalid');
    } catch (err) {
      ui.tokenInfo.textContent = (err as Error).message;
      ui.tokenInfo.classList.add('invalid');
    }
  }

  // --- actions ---

  /** The grant: given, or pasted (a whole link with ?token= is accepted too). */
  const currentToken = () => {
    if (opts.token) return opts.token;
    const pasted = ui.token.value.trim();
    return /[?&]token=([^&\s]+)/.exec(pasted)?.[1] ?? pasted;
  };

  async function join(): Promise<void> {
    const pastedInvite = opts.token ? null : /[?&]invite=([^&\s]+)/.exec(ui.token.value);
    if (pastedInvite) {
      ctx.navigate(`/?invite=${pastedInvite[1]}`);
      return;
    }
    const token = currentToken();
    if (!token) {
      showError('Paste the invitation link you were sent (by e-mail or text message) first.');
      ui.token.focus();
      return;
    }
    const peek = safeDecode(token);
    if (peek && isExpired(peek)) {
      showError(EXPIRED_LINK.message);
      return;
    }
    const displayName = opts.token ? '' : ui.name.value.trim();
    try {
      const c = decodeToken(token);
      if (client.isActiveWith(token)) return;
      showClaims(c, displayName);
      await client.join(token, displayName || undefined);
    } catch (err) {
      showError((err as Error).message);
    }
  }

  function showClaims(c: TokenClaims, displayName: string): void {
    claims = c;
    clearError();
    const shownName = displayName || c.name;
    ui.localName.textContent = `${shownName} (you)`;
    ui.localAvatar.textContent = initials(shownName);
    ui.localRole.textContent = roleLabel(c.role);
    ui.localRole.hidden = false;
    if (!opts.title) ui.meta.textContent = `Consult ${c.consultId}`;
    ui.meta.title = ui.meta.textContent ?? '';
    ui.enableAudio.hidden = true;
  }

  ui.form.addEventListener('submit', (event) => {
    event.preventDefault();
    void join();
  });
  ui.bannerRejoin.addEventListener('click', () => void join());
  ui.token.addEventListener('input', () => renderTokenInfo(ui.token.value.trim()));
  ui.errorDismiss.addEventListener('click', clearError);
  ui.mute.addEventListener('click', () => void client.setMicMuted(!client.localState.micMuted));
  ui.camera.addEventListener('click', () => void client.setCameraOff(!client.localState.cameraOff));
  ui.localTile.addEventListener('dblclick', () => stage.pin(stage.spotlight ? null : 'local'));
  ui.screen.addEventListener('click', () => void client.toggleScreenShare());
  ui.leave.addEventListener('click', () => void client.leave());
  ui.end.addEventListener('click', () => {
    ui.endConfirm.hidden = false;
    ui.endYes.focus();
  });
  ui.endNo.addEventListener('click', () => {
    ui.endConfirm.hidden = true;
  });
  ui.endYes.addEventListener('click', () => {
    ui.endYes.disabled = true;
    endedByMe = true;
    client
      .endConsult()
      .catch((err: unknown) => {
        endedByMe = false;
        showError(`Could not end the consult: ${describeError(err).message}`);
      })
      .finally(() => {
        ui.endYes.disabled = false;
        ui.endConfirm.hidden = true;
      });
  });
  ui.enableAudio.addEventListener('click', () => {
    ui.enableAudio.hidden = true;
    tiles.resumeAudio();
  });
  const onPageHide = () => client.close();
  window.addEventListener('pagehide', onPageHide);

  // --- client events ---

  client.on('state', (state) => {
    logEvent('state', state);
    renderState(state);
    if (state !== 'connecting' && state !== 'connected' && state !== 'reconnecting') {
      mountPanels();
    }
  });
  client.on('localState', renderLocal);
  client.on('error', ({ message }) => showError(message));
  client.on('joined', () => {
    clearError();
    // Alone or nobody sends video: nothing to wait for; otherwise the first frame (or 2 s).
    if (!ui.tiles.querySelector('.tile.remote[data-camera="on"]')) mountPanels();
    else panelTimer ??= setTimeout(mountPanels, 2000);
  });
  // The first remote frame is on screen: now the side panels and the transports' watch.
  ui.tiles.addEventListener(
    'playing',
    (event) => {
      if ((event.target as HTMLElement).dataset.testid === 'remote-video') {
        setTimeout(() => {
          mountPanels();
          client.mediaShown();
        }, 0);
      }
    },
    true,
  );
  // A camera or microphone problem the user can fix (allow it, close the other app): retry.
  const retryMedia = h(
    'button',
    { type: 'button', class: 'secondary small', testid: 'media-retry', hidden: true },
    'Try again',
  );
  ui.errorText.after(retryMedia);
  client.on('error', ({ code }) => {
    retryMedia.hidden = code !== 'media';
  });
  retryMedia.addEventListener('click', () => {
    clearError();
    retryMedia.hidden = true;
    void client.retryLocalMedia();
  });
  // Refused for good (damaged or expired link, ended consult): say so, offer no re-join.
  client.on('error', ({ code, fatal, message }) => {
    if (!fatal || !['unauthorized', 'forbidden', 'not_found'].includes(code)) return;
    over = true;
    showBanner(message, { home: true });
    renderState(client.connectionState);
  });
  client.on('localMedia', (stream) => {
    ui.localVideo.srcObject = stream;
    if (stream) ui.localVideo.play().catch(() => undefined);
  });
  client.on('peer', (view) => tiles.upsertPeer(view));
  client.on('peerRemoved', (peerId) => {
    logEvent('peerRemoved', peerId);
    tiles.removePeer(peerId);
    quality.forget(peerId);
  });
  client.on('trackAdded', (track) => tiles.addTrack(track, preview?.take(track.consumerId)));
  client.on('trackRemoved', ({ peerId, consumerId }) => tiles.removeTrack(peerId, consumerId));
  client.on('remoteVideo', (video) => {
    logEvent('remoteVideo', JSON.stringify(video));
    tiles.setRemoteVideo(video);
  });
  client.on('iceRestart', ({ direction, reason }) =>
    logEvent('iceRestart', `${direction} ${reason}`),
  );
  client.on('transportState', ({ direction, state }) =>
    logEvent('transportState', `${direction} ${state}`),
  );
  // The server's figures (RTT, loss, bitrate) when they come; this browser's own otherwise.
  client.on('quality', ({ peerId, reading }) => {
    const view = quality.fromBrowser(peerId, reading);
    if (view) tiles.showQuality(peerId, view.level, view.title);
  });
  client.on('serverQuality', (samples) => {
    for (const [peerId, view] of quality.fromServer(samples)) {
      if (peerId === client.peerId) renderLocalQuality(view);
      else tiles.showQuality(peerId, view.level, view.title);
    }
  });
  client.on('chatHistory', (history, hasMore) => chatLog.loadHistory(history, hasMore));
  client.on('chatMessage', (message) => chatLog.add(message));
  client.on('activeSpeaker', (peerId) => {
    ui.tiles.dataset.speaker = peerId ?? '';
    tiles.setActiveSpeaker(peerId);
    ui.localTile.classList.toggle('speaking', peerId !== null && peerId === client.peerId);
  });
  client.on('lobby', (entries, total) => {
    lastLobby = { entries, total };
    lobby?.update(entries, total);
    chrome.setLobby(!ui.lobbyToggle.hidden, total);
  });
  client.on('ended', (reason, message) => {
    over = FINAL_REASONS.has(reason);
    const fallback = reason
      ? `The consult has ended (${String(reason).replace(/_/g, ' ')}).`
      : 'The consult has ended.';
    const text =
      endedByMe && reason === 'ended_by_host'
        ? 'You ended the consult for everyone.'
        : `${END_REASONS[reason] ?? fallback}${message ? ` “${message}”` : ''}`;
    showBanner(text, { home: true });
    renderState(client.connectionState);
  });
  client.on('denied', (reason) => {
    ui.denied.replaceChildren(
      h('h2', {}, 'You were not admitted to this consult'),
      h('p', {}, sentence(reason)),
      h('p', {}, 'If you think this is a mistake, contact the doctor who invited you.'),
    );
    ui.denied.hidden = false;
  });

  /**
   * The chat, the lobby, the device menu, the waiting room's extras and (for logged-in hosts)
   * notes and invites, after the first frame: before it the page has only the stage.
   */
  function mountPanels(): void {
    if (panelsMounted || !ctx.isCurrent()) return;
    panelsMounted = true;
    if (panelTimer) clearTimeout(panelTimer);
    lobby = new LobbyPanel({
      admit: (peerId) => client.admit(peerId),
      deny: (peerId) => client.deny(peerId),
      message: (peerId, text) => client.messageWaiting(peerId, text),
    });
    lobby.update(lastLobby.entries, lastLobby.total);
    ui.lobbyPanelSlot.append(lobby.el);
    chat = new ChatPanel({
      log: chatLog,
      send: (text) => client.sendChat(text),
      loadEarlier: (before) => client.loadEarlierChat(before),
      selfId: () => claims?.sub ?? null,
    });
    ui.chatSlot.append(chat.el);
    devices = new DeviceMenu({
      switchDevice: (source, deviceId) => client.switchDevice(source, deviceId),
      current: (source) => client.localTrack(source),
      audioRoot: ui.tiles,
    });
    ui.screen.after(devices.el);
    // The waiting page: the pre-call check and the host's messages.
    waitingExtras = new WaitingRoomExtras({
      grant: () => (claims ? { token: currentToken(), consultId: claims.consultId } : null),
      reopenMedia: () => client.reopenLocalMedia(),
    });
    ui.waiting.after(waitingExtras.el);
    waitingExtras.setWaiting(client.connectionState === 'waiting');
    drawn = '';
    renderState(client.connectionState);
    renderLocal(client.localState);
    loadAccount();
  }

  // Logged-in users get a link back to their dashboard (and the consult's title).
  function loadAccount(): void {
    if (!ctx.auth.hasStoredSession) return;
    void ctx.auth.restore().then(async (user) => {
      if (!user || !ctx.isCurrent()) return;
      ui.back.href = Auth.home(user.role);
      ui.bannerHome.href = Auth.home(user.role);
      ui.back.hidden = false;
      const id = claims?.consultId;
      if (!id) return;
      try {
        const consult = await ctx.api.getConsult(id);
        if (!ctx.isCurrent()) return;
        ui.meta.textContent = consult.title;
        ui.formTitle.textContent = consult.title;
        document.title = `${consult.title} · Telemed`;
        recordHref = `/consults/${encodeURIComponent(consult.id)}/record`;
        ui.bannerRecord.href = recordHref;
        ui.meta.title = consult.title;
        renderState(client.connectionState);
        // The host (or an admin) writes the private notes during the consult.
        const manages = user.role === 'admin' || consult.hostId === user.id;
        if (manages && claims?.grants.end) mountNotes(consult.id);
        // The host (or an admin) can invite someone without leaving the call.
        if (manages) {
          ui.invitesSlot.replaceChildren(
            h(
              'details',
              { class: 'side-card', testid: 'consult-invites' },
              h('summary', {}, 'Invite an external specialist'),
              invitePanel(ctx.api, consult),
            ),
          );
        }
      } catch {
        // Not visible to this account (e.g. a pasted token): keep the id.
      }
    });
  }

  function mountNotes(consultId: string): void {
    const editor = new NotesEditor({
      load: async () => (await ctx.api.getRecord(consultId)).notes,
      save: (body) => ctx.api.saveNotes(consultId, body),
    });
    notes = editor;
    const details = h(
      'details',
      { class: 'side-card notes-card', testid: 'consult-notes' },
      h('summary', {}, 'Notes and outcome ', h('span', { class: 'muted' }, '(private)')),
      editor.el,
    );
    // Loaded on first opening (reading the record is audited).
    details.addEventListener('toggle', () => {
      if (details.open) void editor.start();
    });
    ui.notesSlot.replaceChildren(details);
  }

  client.on('state', (state) => waitingExtras?.setWaiting(state === 'waiting'));
  client.on('hostMessage', (msg) => waitingExtras?.hostMessage(msg));

  // --- start ---

  if (opts.token) {
    renderTokenInfo(opts.token);
    ui.formTitle.textContent = opts.title ?? 'Consult';
    if (claims) showClaims(claims, '');
    early?.catch((err: unknown) => showError((err as Error).message));
  } else {
    mountPanels();
  }
  renderState(client.connectionState);
  renderLocal(client.localState);
  // The preview showed the first frame already (its 'playing' came before the page listened).
  if (preview?.shown) {
    setTimeout(() => {
      mountPanels();
      client.mediaShown();
    }, 0);
  }

  return () => {
    window.removeEventListener('pagehide', onPageHide);
    if (panelTimer) clearTimeout(panelTimer);
    lobby?.destroy();
    chat?.destroy();
    waitingExtras?.destroy();
    notes?.destroy();
    stage.destroy();
    chrome.destroy();
    client.close();
    document.body.classList.remove('room-page');
    delete document.body.dataset.state;
  };
}
