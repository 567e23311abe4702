/**
 * Injected into every joiner page before its own scripts: records when the first video
 * frame is presented (requestVideoFrameCallback) on any <video> in the page. Joiners do not
 * capture, so every video there is remote. The start is the page's first WebSocket (recorded
 * by wrapping the constructor, the same for every page) or its first Socket.IO HTTP request
 * (Resource Timing, same clock), whichever came first. It also records when the first
 * WebSocket's "open" was handled and the main thread's long tasks (over 50 ms) in between.
 */
export const FIRST_FRAME_HOOK = `(() => {
  const state = { firstFrame: null, via: null, socketStart: null, socketOpen: null, longTasks: [] };
  window.__benchJoin = state;
  const NativeWebSocket = window.WebSocket;
  window.WebSocket = class extends NativeWebSocket {
    constructor(...args) {
      const first = state.socketStart === null;
      if (first) state.socketStart = performance.now();
      super(...args);
      if (first) {
        this.addEventListener('open', () => { state.socketOpen = performance.now(); }, { once: true });
      }
    }
  };
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) state.longTasks.push({ at: e.startTime, ms: e.duration });
    }).observe({ type: 'longtask', buffered: true });
  } catch {}
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
  const start = marks[0].at;
  // Main-thread tasks over 50 ms between the start and the first frame: those that began
  // after the start, and what was left of the one running at the start (the socket's creator).
  const after = s.longTasks.filter((t) => t.at >= start && t.at < s.firstFrame);
  const creator = s.longTasks.find((t) => t.at < start && t.at + t.ms > start);
  return {
    ms: s.firstFrame - start,
    via: s.via,
    start: marks[0].what,
    openHandledMs: s.socketOpen === null ? null : s.socketOpen - start,
    longTasks: after.length,
    longestTaskMs: after.reduce((m, t) => Math.max(m, t.ms), 0),
    creatorTailMs: creator ? creator.at + creator.ms - start : 0,
  };
})()`;
