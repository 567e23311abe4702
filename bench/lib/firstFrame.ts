/**
 * Injected into every joiner page before its own scripts: records when the first video
 * frame is presented (requestVideoFrameCallback) on any <video> in the page. Joiners do not
 * capture, so every video there is remote. The start mark is the first Socket.IO request
 * (Resource Timing, same clock) or, on the Janus page, a mark set just before its WebSocket.
 */
export const FIRST_FRAME_HOOK = `(() => {
  const state = { firstFrame: null, via: null };
  window.__benchJoin = state;
  const seen = new WeakSet();
  const watch = (v) => {
    if (seen.has(v)) return;
    seen.add(v);
    if ('requestVideoFrameCallback' in v) {
      v.requestVideoFrameCallback((now, meta) => {
        if (state.firstFrame === null) {
          state.firstFrame = meta && meta.presentationTime ? meta.presentationTime : now;
          state.via = 'requestVideoFrameCallback';
        }
      });
    } else {
      v.addEventListener('loadeddata', () => {
        if (state.firstFrame === null) { state.firstFrame = performance.now(); state.via = 'loadeddata'; }
      }, { once: true });
    }
  };
  const scan = () => document.querySelectorAll('video').forEach(watch);
  new MutationObserver(scan).observe(document, { subtree: true, childList: true });
})();`;

/** Evaluated in the page: the join interval in ms, or null while no frame yet. */
export const READ_JOIN = `(() => {
  const s = window.__benchJoin;
  if (!s || s.firstFrame === null) return null;
  const io = performance.getEntriesByType('resource').find((e) => e.name.includes('/socket.io/'));
  const mark = performance.getEntriesByName('bench:signal-start')[0];
  const start = io ? io.startTime : mark ? mark.startTime : null;
  if (start === null) return { error: 'no start mark' };
  return { ms: s.firstFrame - start, via: s.via, start: io ? 'socket.io request' : 'mark' };
})()`;
