import { applySpeaker } from './devicePrefs';
import type { Role } from '../../src/protocol';
import type { QualityLevel, QualityReading } from './quality';
import type { RemotePeerView, RemoteTrack, RemoteVideoState } from './types';

/** What the video-quality badge says for each simulcast spatial layer (0 is the lowest). */
const LAYER_LABELS = ['Low', 'SD', 'HD'] as const;

export function layerLabel(spatialLayer: number): string {
  return LAYER_LABELS[Math.min(Math.max(spatialLayer, 0), LAYER_LABELS.length - 1)] ?? 'Low';
}

const ROLE_LABELS: Record<Role, string> = {
  admin: 'Admin',
  doctor: 'Doctor',
  specialist: 'Specialist',
  guest: 'Invited guest',
};

export function roleLabel(role: Role): string {
  return ROLE_LABELS[role];
}

export function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  const letters = parts.length > 1 ? [parts[0], parts[parts.length - 1]] : parts;
  return letters.map((p) => (p ?? '').charAt(0).toUpperCase()).join('') || '?';
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className?: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

interface Tile {
  root: HTMLElement;
  media: HTMLElement;
  audio: HTMLElement;
  avatar: HTMLElement;
  name: HTMLElement;
  role: HTMLElement;
  muted: HTMLElement;
  cameraOff: HTMLElement;
  screen: HTMLElement;
  quality: HTMLElement;
  qualityLabel: HTMLElement;
  /** "Poor connection — video paused" over the video. */
  videoPaused: HTMLElement;
  /** The forwarded camera layer: Low / SD / HD. */
  layer: HTMLElement;
  /** Video consumers the server paused for this client's bandwidth. */
  pausedVideos: Set<string>;
  remove: HTMLButtonElement | null;
  /** The server's word on their link. */
  connection: RemotePeerView['connection'];
  /** The last quality level given for them, and the figures behind it. */
  rated: { level: QualityLevel; title: string };
  /** Per video element: frames decoded when last looked at, and since when that count holds. */
  frames: Map<string, { count: number; since: number }>;
}

/** A playing remote video with no new frame for this long is frozen: never rated "good". */
export const FROZEN_MS = 3000;

export interface TileOptions {
  /** Called when remote audio cannot autoplay (the page shows an "enable sound" button). */
  onAutoplayBlocked: () => void;
  /** For hosts: each remote tile gets a Remove button that calls this. */
  onRemove?: (peerId: string, displayName: string) => void;
  /** Called when a tile comes, goes or changes what it shows (the stage lays out again). */
  onChange?: () => void;
}

/** A muted, inline-playing <video> (or an autoplaying <audio>) for a remote track, not yet shown. */
export function remoteMediaElement(t: RemoteTrack): HTMLMediaElement {
  const stream = new MediaStream([t.track]);
  if (t.kind === 'audio') {
    const audio = el('audio');
    audio.autoplay = true;
    audio.setAttribute('autoplay', '');
    audio.dataset.consumerId = t.consumerId;
    audio.dataset.source = t.source;
    audio.srcObject = stream;
    return audio;
  }
  const video = el('video');
  video.dataset.testid = 'remote-video';
  video.dataset.consumerId = t.consumerId;
  video.dataset.source = t.source;
  video.autoplay = true;
  video.playsInline = true;
  video.muted = true;
  for (const attr of ['autoplay', 'playsinline', 'muted']) video.setAttribute(attr, '');
  video.srcObject = stream;
  return video;
}

/** Renders one tile per remote participant into `container`. */
export class TileView {
  private readonly tiles = new Map<string, Tile>();

  constructor(
    private readonly container: HTMLElement,
    private readonly options: TileOptions,
  ) {}

  upsertPeer(view: RemotePeerView): void {
    const tile = this.ensure(view.peerId);
    tile.name.textContent = view.displayName;
    tile.avatar.textContent = initials(view.displayName);
    tile.role.textContent = roleLabel(view.role);
    tile.role.dataset.role = view.role;
    tile.root.dataset.role = view.role;
    tile.root.dataset.mic = view.micOn ? 'on' : 'off';
    tile.root.dataset.camera = view.cameraOn ? 'on' : 'off';
    tile.muted.hidden = view.micOn;
    tile.cameraOff.hidden = view.cameraOn;
    tile.screen.hidden = !view.screenOn;
    tile.root.setAttribute('aria-label', `${view.displayName}, ${roleLabel(view.role)}`);
    tile.connection = view.connection;
    tile.root.dataset.connection = view.connection;
    this.renderQuality(tile);
    tile.remove?.setAttribute('aria-label', `Remove ${view.displayName} from the consult`);
    this.options.onChange?.();
  }

  removePeer(peerId: string): void {
    const tile = this.tiles.get(peerId);
    if (!tile) return;
    for (const media of tile.root.querySelectorAll<HTMLMediaElement>('video, audio')) {
      media.srcObject = null;
    }
    tile.root.remove();
    this.tiles.delete(peerId);
    this.options.onChange?.();
  }

  /**
   * Shows a remote track in its participant's tile: in `adopted` when given (the element that
   * already plays it, made by remoteMediaElement before the page was built), else in a new one.
   */
  addTrack(t: RemoteTrack, adopted?: HTMLMediaElement): void {
    const tile = this.ensure(t.peerId);
    const media = adopted ?? remoteMediaElement(t);
    if (media instanceof HTMLAudioElement) {
      applySpeaker(media); // the speaker chosen in the pre-call check
      tile.audio.append(media);
      this.play(media);
      return;
    }
    tile.media.append(media);
    this.updateLayout(tile);
    media.play().catch(() => undefined);
  }

  removeTrack(peerId: string, consumerId: string): void {
    const tile = this.tiles.get(peerId);
    const nodes = (tile?.root ?? this.container).querySelectorAll<HTMLMediaElement>(
      `[data-consumer-id="${CSS.escape(consumerId)}"]`,
    );
    for (const node of nodes) {
      node.srcObject = null;
      node.remove();
    }
    if (!tile) return;
    tile.pausedVideos.delete(consumerId);
    if (tile.layer.dataset.consumerId === consumerId) this.showLayer(tile, null);
    this.updateLayout(tile);
  }

  /**
   * Shows what the server forwards of a remote video: "Poor connection — video paused" while
   * it is paused for this client's bandwidth (audio goes on), and the camera's layer.
   */
  setRemoteVideo(v: RemoteVideoState): void {
    const tile = this.tiles.get(v.peerId);
    if (!tile) return;
    if (v.paused) tile.pausedVideos.add(v.consumerId);
    else tile.pausedVideos.delete(v.consumerId);
    const video = tile.media.querySelector<HTMLElement>(
      `video[data-consumer-id="${CSS.escape(v.consumerId)}"]`,
    );
    if (video) video.dataset.paused = String(v.paused);
    if (video?.dataset.source !== 'screen') {
      tile.layer.dataset.consumerId = v.consumerId;
      this.showLayer(tile, v.paused ? null : v.spatialLayer);
    }
    this.updateLayout(tile);
  }

  setQuality(peerId: string, reading: QualityReading | null): void {
    const tile = this.tiles.get(peerId);
    if (!tile) return;
    const level = reading?.level ?? 'unknown';
    tile.rated = {
      level,
      title: reading
        ? `Network ${level}: ${(reading.loss * 100).toFixed(1)}% loss, ${reading.jitterMs.toFixed(0)} ms jitter`
        : 'Network quality: no media yet',
    };
    this.renderQuality(tile);
  }

  /** Shows a level with the figures behind it as the tooltip (e.g. the server's samples). */
  showQuality(peerId: string, level: QualityLevel, title: string): void {
    const tile = this.tiles.get(peerId);
    if (!tile) return;
    tile.rated = { level, title };
    this.renderQuality(tile);
  }

  /**
   * The quality badge: "reconnecting" while the server says their link is down, else the
   * level rated for them, except that a frozen picture is never shown as "good".
   */
  private renderQuality(tile: Tile): void {
    let { level, title }: { level: QualityLevel | 'reconnecting'; title: string } = tile.rated;
    if (tile.connection === 'reconnecting') {
      level = 'reconnecting';
      title = 'Their connection dropped; reconnecting…';
    } else if (level === 'good') {
      const frozenMs = this.frozenFor(tile);
      if (frozenMs >= FROZEN_MS) {
        level = 'poor';
        title = `No new picture from them for ${Math.round(frozenMs / 1000)} s`;
      }
    }
    tile.quality.dataset.quality = level;
    tile.qualityLabel.textContent = level === 'unknown' ? '—' : level;
    tile.quality.title = title;
  }

  /** How long the longest-stuck playing video of the tile has shown no new frame, ms. */
  private frozenFor(tile: Tile): number {
    const now = performance.now();
    let longest = 0;
    const seen = new Set<string>();
    for (const video of tile.media.querySelectorAll<HTMLVideoElement>('video')) {
      const id = video.dataset.consumerId ?? '';
      seen.add(id);
      const count = video.getVideoPlaybackQuality?.().totalVideoFrames ?? 0;
      const last = tile.frames.get(id);
      if (!last || last.count !== count) {
        tile.frames.set(id, { count, since: now });
        continue;
      }
      // Paused for bandwidth, or their camera is off: no frames are expected.
      const expected =
        video.dataset.paused !== 'true' &&
        (video.dataset.source === 'screen' || tile.root.dataset.camera !== 'off');
      if (expected) longest = Math.max(longest, now - last.since);
      else last.since = now;
    }
    for (const id of tile.frames.keys()) if (!seen.has(id)) tile.frames.delete(id);
    return longest;
  }

  setActiveSpeaker(peerId: string | null): void {
    for (const [id, tile] of this.tiles) tile.root.classList.toggle('speaking', id === peerId);
  }

  /** Retries playback of every remote audio element (after a user gesture). */
  resumeAudio(): void {
    for (const audio of this.container.querySelectorAll('audio')) this.play(audio);
  }

  private play(media: HTMLMediaElement): void {
    media.play().catch((err: unknown) => {
      if (err instanceof DOMException && err.name === 'NotAllowedError')
        this.options.onAutoplayBlocked();
    });
  }

  private showLayer(tile: Tile, spatialLayer: number | null): void {
    tile.layer.hidden = spatialLayer === null;
    tile.layer.textContent = spatialLayer === null ? '' : layerLabel(spatialLayer);
    tile.layer.dataset.layer = spatialLayer === null ? '' : String(spatialLayer);
    tile.layer.title = spatialLayer === null ? '' : `Receiving ${layerLabel(spatialLayer)} video`;
  }

  private updateLayout(tile: Tile): void {
    const hasScreen = tile.media.querySelector('video[data-source="screen"]') !== null;
    const hasVideo = tile.media.querySelector('video') !== null;
    tile.media.classList.toggle('has-screen', hasScreen);
    tile.media.classList.toggle('has-video', hasVideo);
    const paused = tile.pausedVideos.size > 0;
    tile.videoPaused.hidden = !paused;
    tile.root.dataset.video = paused ? 'paused' : hasVideo ? 'on' : 'none';
    this.options.onChange?.();
  }

  private ensure(peerId: string): Tile {
    const existing = this.tiles.get(peerId);
    if (existing) return existing;
    const root = el('article', 'tile remote');
    root.dataset.peerId = peerId;
    root.dataset.testid = 'remote-tile';
    const media = el('div', 'media');
    const placeholder = el('div', 'placeholder');
    const avatar = el('span', 'avatar', '?');
    placeholder.append(avatar);
    const videoPaused = el('div', 'video-paused');
    videoPaused.dataset.testid = 'video-paused';
    videoPaused.setAttribute('role', 'status');
    videoPaused.append(
      el('strong', undefined, 'Poor connection — video paused'),
      el('span', undefined, 'Audio continues. Video resumes when your connection improves.'),
    );
    videoPaused.hidden = true;
    media.append(placeholder, videoPaused);

    const bar = el('footer', 'tile-bar');
    const who = el('div', 'who');
    const name = el('span', 'name', 'Participant');
    const role = el('span', 'role');
    who.append(name, role);
    const badges = el('div', 'badges');
    const muted = el('span', 'badge badge-muted', 'Muted');
    muted.dataset.badge = 'muted';
    const cameraOff = el('span', 'badge badge-camera', 'Camera off');
    cameraOff.dataset.badge = 'camera-off';
    const screen = el('span', 'badge badge-screen', 'Sharing screen');
    screen.dataset.badge = 'screen';
    screen.hidden = true;
    const layer = el('span', 'badge badge-layer');
    layer.dataset.testid = 'video-layer';
    layer.hidden = true;
    const quality = el('span', 'quality');
    quality.dataset.testid = 'quality';
    quality.dataset.quality = 'unknown';
    quality.title = 'Network quality: no media yet';
    const bars = el('span', 'bars');
    bars.setAttribute('aria-hidden', 'true');
    bars.append(el('i'), el('i'), el('i'));
    const qualityLabel = el('span', 'quality-label', '—');
    quality.append(bars, qualityLabel);
    badges.append(muted, cameraOff, screen, layer, quality);
    bar.append(who, badges);
    const onRemove = this.options.onRemove;
    let remove: HTMLButtonElement | null = null;
    if (onRemove) {
      const button = el('button', 'remove danger-outline small', 'Remove');
      button.type = 'button';
      button.dataset.testid = 'remove-button';
      button.addEventListener('click', () => onRemove(peerId, name.textContent ?? ''));
      bar.append(button);
      remove = button;
    }

    const audio = el('div', 'audio-sinks');
    audio.hidden = true;
    root.append(media, bar, audio);
    this.container.append(root);
    const tile: Tile = {
      root,
      media,
      audio,
      avatar,
      name,
      role,
      muted,
      cameraOff,
      screen,
      quality,
      qualityLabel,
      videoPaused,
      layer,
      pausedVideos: new Set(),
      remove,
      connection: 'connected',
      rated: { level: 'unknown', title: 'Network quality: no media yet' },
      frames: new Map(),
    };
    this.tiles.set(peerId, tile);
    this.options.onChange?.();
    return tile;
  }
}
