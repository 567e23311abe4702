/// <reference lib="dom" />
/**
 * How both baseline pages show a received track (the same for bare mediasoup and Janus, so
 * the join-time comparison measures the servers, not the pages).
 */
export function attach(track: MediaStreamTrack): void {
  const el = document.createElement(track.kind === 'video' ? 'video' : 'audio');
  el.autoplay = true;
  if (el instanceof HTMLVideoElement) {
    el.muted = true;
    el.playsInline = true;
    el.dataset.testid = 'remote-video';
  }
  el.srcObject = new MediaStream([track]);
  document.getElementById('media')!.append(el);
  el.play().catch(() => undefined);
}
