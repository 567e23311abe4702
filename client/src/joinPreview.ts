/**
 * The consult page before it is built: the join's remote media plays here as soon as it
 * arrives, so the first frame is not kept waiting behind the page's building and drawing (a
 * long task on the main thread, which a first frame's presentation needs). The page, built
 * right after that frame, adopts these elements into its tiles: no second element, no blank.
 */
import { remoteMediaElement } from './tiles';
import type { RemotePeerView, RemoteTrack } from './types';

/** Calls `then` once `video` has presented a frame (or, without frame callbacks, has data). */
function onFirstFrame(video: HTMLVideoElement, then: () => void): void {
  const v = video as Partial<Pick<HTMLVideoElement, 'requestVideoFrameCallback'>>;
  if (typeof v.requestVideoFrameCallback === 'function') video.requestVideoFrameCallback(then);
  else video.addEventListener('loadeddata', then, { once: true });
}

export class JoinPreview {
  /** Where the media plays until the page is built. */
  readonly el: HTMLElement;
  private readonly media = new Map<string, HTMLMediaElement>();
  private readonly peers = new Map<string, RemotePeerView>();
  /** Videos added whose sender sends (camera or screen on): a first frame is on its way. */
  private expected = 0;
  /** A remote video has presented its first frame here. */
  shown = false;

  /** `firstFrame` is called once, at the first remote video frame presented. */
  constructor(private readonly firstFrame: () => void) {
    this.el = document.createElement('div');
    this.el.className = 'join-preview';
  }

  /** The latest roster entry of a participant (whether their camera and screen are on). */
  peer(view: RemotePeerView): void {
    this.peers.set(view.peerId, view);
  }

  /** Plays a remote track of the join. */
  add(t: RemoteTrack): void {
    const media = remoteMediaElement(t);
    this.media.set(t.consumerId, media);
    this.el.append(media);
    // Muted video always plays; audio where the browser allows it (the tile offers
    // "enable sound" otherwise, once adopted).
    media.play().catch(() => undefined);
    if (!(media instanceof HTMLVideoElement)) return;
    const view = this.peers.get(t.peerId);
    if (view && !(t.source === 'screen' ? view.screenOn : view.cameraOn)) return;
    this.expected += 1;
    onFirstFrame(media, () => {
      if (this.shown) return;
      this.shown = true;
      this.firstFrame();
    });
  }

  /** True while a remote video's first frame is on its way and none was shown yet. */
  get awaitingFrame(): boolean {
    return this.expected > 0 && !this.shown;
  }

  /** The element playing consumer `consumerId`, handed over to the page (once). */
  take(consumerId: string): HTMLMediaElement | undefined {
    const media = this.media.get(consumerId);
    this.media.delete(consumerId);
    return media;
  }

  /** Stops what the page did not adopt (its consumer closed before the page was built). */
  dispose(): void {
    for (const media of this.media.values()) {
      media.srcObject = null;
      media.remove();
    }
    this.media.clear();
    this.el.remove();
  }
}
