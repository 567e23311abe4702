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

/**
 * Optional (BENCH_JOIN_BREAKDOWN=1; it polls getStats, so it costs the page a little): where
 * the time between a video consumer's start and its first frame goes. Records, on the page's
 * clock, each peer connection's first remote video track and its "connected", then polls the
 * inbound video stream every 20 ms for its first packet, first frame received, first key frame
 * decoded and first frame decoded, with the key-frame requests (PLI, FIR) and NACKs the
 * browser had sent by then, and when the first <video> entered the page; the gateway client's
 * "resumed video" step is read from its trace.
 */
export const BREAKDOWN_HOOK = `(() => {
  const b = { track: null, connected: null, firstPacket: null, firstFrameReceived: null,
    firstKeyFrameDecoded: null, firstDecoded: null, atKeyFrame: null, videoAdded: null, polls: 0 };
  window.__benchBreakdown = b;
  // Long animation frames with their scripts: which work holds the main thread during a join.
  b.frames = [];
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) b.frames.push(e);
    }).observe({ type: 'long-animation-frame', buffered: true });
  } catch {}
  new MutationObserver((_, obs) => {
    if (!document.querySelector('video')) return;
    b.videoAdded = performance.now();
    obs.disconnect();
  }).observe(document, { subtree: true, childList: true });
  const Native = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Native {
    constructor(...args) {
      super(...args);
      const pc = this;
      pc.addEventListener('track', (e) => {
        if (e.track.kind === 'video' && b.track === null) b.track = performance.now();
      });
      pc.addEventListener('connectionstatechange', () => {
        if (pc.connectionState === 'connected' && b.connected === null) b.connected = performance.now();
      });
      const poll = async () => {
        if (pc.connectionState === 'closed') return;
        const stats = await pc.getStats().catch(() => null);
        const now = performance.now();
        b.polls++;
        stats && stats.forEach((r) => {
          if (r.type !== 'inbound-rtp' || r.kind !== 'video') return;
          if (b.firstPacket === null && r.packetsReceived > 0) b.firstPacket = now;
          if (b.firstFrameReceived === null && r.framesReceived > 0) b.firstFrameReceived = now;
          if (b.firstKeyFrameDecoded === null && r.keyFramesDecoded > 0) {
            b.firstKeyFrameDecoded = now;
            b.atKeyFrame = { pli: r.pliCount, fir: r.firCount, nack: r.nackCount,
              packets: r.packetsReceived, lost: r.packetsLost, frameWidth: r.frameWidth };
          }
          if (b.firstDecoded === null && r.framesDecoded > 0) b.firstDecoded = now;
        });
        const done = window.__benchJoin && window.__benchJoin.firstFrame !== null && b.firstDecoded !== null;
        if (!done) setTimeout(poll, 20);
      };
      setTimeout(poll, 20);
    }
  };
})();`;

/** Evaluated in the page after its first frame: the breakdown's marks, relative to the join's start. */
export const READ_BREAKDOWN = `(() => {
  const b = window.__benchBreakdown;
  const s = window.__benchJoin;
  if (!b || !s) return null;
  const io = performance.getEntriesByType('resource').find((e) => e.name.includes('/socket.io/'));
  const start = Math.min(io ? io.startTime : Infinity, s.socketStart ?? Infinity);
  const trace = window.__consult ? window.__consult.trace : [];
  const resumed = trace.find((t) => t.step === 'resumed video');
  const rel = (t) => (t === null || t === undefined ? null : Math.round(t - start));
  return {
    track: rel(b.track),
    resumed: resumed ? rel(resumed.at - performance.timeOrigin) : null,
    connected: rel(b.connected),
    firstPacket: rel(b.firstPacket),
    firstFrameReceived: rel(b.firstFrameReceived),
    firstKeyFrameDecoded: rel(b.firstKeyFrameDecoded),
    firstDecoded: rel(b.firstDecoded),
    videoAdded: rel(b.videoAdded),
    presented: rel(s.firstFrame),
    originMs: Math.round(performance.timeOrigin + start),
    atKeyFrame: b.atKeyFrame,
    frames: (b.frames || [])
      .filter((f) => f.startTime + f.duration > start && f.startTime < s.firstFrame)
      .map((f) => ({
        at: rel(f.startTime),
        ms: Math.round(f.duration),
        render: f.renderStart ? Math.round(f.startTime + f.duration - f.renderStart) : 0,
        scripts: f.scripts
          .filter((x) => x.duration >= 10)
          .map((x) => x.invoker + ' ' + (x.sourceFunctionName || '') + '@' + x.sourceCharPosition + ' ' +
            Math.round(x.duration) + (x.forcedStyleAndLayoutDuration ? '/layout ' + Math.round(x.forcedStyleAndLayoutDuration) : '')),
      })),
    steps: trace.map((t) => t.step + ' ' + rel(t.at - performance.timeOrigin)).join(', '),
  };
})()`;

/**
 * Publisher pages (BENCH_JOIN_BREAKDOWN=1): keeps every peer connection so READ_PUBLISHER can
 * tell how each system's sender answered the joins' key-frame requests (PLIs received against
 * key frames encoded) and what its encoder was held to.
 */
export const PUBLISHER_HOOK = `(() => {
  const pcs = [];
  window.__benchPcs = pcs;
  const Native = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Native {
    constructor(...args) { super(...args); pcs.push(this); }
  };
})();`;

/** Evaluated in a publisher page: its video senders' key-frame and encoder figures, per layer. */
export const READ_PUBLISHER = `(async () => {
  const out = [];
  for (const pc of window.__benchPcs || []) {
    const stats = await pc.getStats().catch(() => null);
    stats && stats.forEach((r) => {
      if (r.type !== 'outbound-rtp' || r.kind !== 'video') return;
      out.push({ rid: r.rid, w: r.frameWidth, fps: r.framesPerSecond, pli: r.pliCount, fir: r.firCount,
        keyFrames: r.keyFramesEncoded, limited: r.qualityLimitationReason,
        encodeMs: r.framesEncoded ? Math.round((1000 * r.totalEncodeTime) / r.framesEncoded) : null,
        active: r.active });
    });
  }
  return out;
})()`;
