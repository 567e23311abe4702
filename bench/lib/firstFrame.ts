/**
 * Injected into every joiner page before its own scripts: records when the first video
 * frame is presented (requestVideoFrameCallback) on any <video> in the page. Joiners do not
 * capture, so every video there is remote. The start is the page's first WebSocket (recorded
 * by wrapping the constructor, the same for every page) or its first Socket.IO HTTP request
 * (Resource Timing, same clock), whichever came first.
 */
export const FIRST_FRAME_HOOK = `(() => {
  const state = { firstFrame: null, via: null, socketStart: null };
  window.__benchJoin = state;
  const NativeWebSocket = window.WebSocket;
  window.WebSocket = class extends NativeWebSocket {
    constructor(...args) {
      if (state.socketStart === null) state.socketStart = performance.now();
      super(...args);
    }
  };
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
  const marks = [
    io ? { at: io.startTime, what: 'socket.io request' } : null,
    s.socketStart !== null ? { at: s.socketStart, what: 'websocket' } : null,
  ].filter(Boolean).sort((a, b) => a.at - b.at);
  if (!marks.length) return { error: 'no start mark' };
  return { ms: s.firstFrame - marks[0].at, via: s.via, start: marks[0].what };
})()`;
