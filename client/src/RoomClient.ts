import type { Device, types as ms } from 'mediasoup-client';
import { io } from 'socket.io-client';
import type {
  ConsumeResponse,
  JoinResponse,
  MediaSource,
  Precheck,
  ResumedState,
  ServerToClientEvents,
  TransportResponse,
} from '../../src/protocol';
import {
  keepRouterCapabilitiesAhead,
  newDevice,
  readCapabilitiesAhead,
  routerCapabilitiesAhead,
} from './device';
import { Emitter } from './emitter';
import { NODE_GONE_AFTER_FAILURES, RECONNECT, nodeAnswers } from './failover';
import {
  captureSize,
  getScreenTrack,
  getUserTracks,
  keepResolution,
  producerOptions,
  updateEncodings,
  watchCaptureSize,
} from './media';
import { networkType } from './network';
import { precheckFor } from './precheck';
import { refusal } from './joinErrors';
import { PeerDirectory } from './peers';
import type { PeerUpdate } from './peers';
import { worst } from './quality';
import { RequestError, describeError, request, sentLargeMessageRecently } from './request';
import type { ConsultSocket, RequestData, RequestName, ResponseData } from './request';
import { IceRecovery, NetworkWatch, restartOnOwnPath, selectedPair } from './resilience';
import { canResume, planResume } from './resume';
import type { LocalMedia } from './resume';
import { keepResumeSecret, storedResumeSecret } from './seat';
import { mediaArrived, newSession, remoteStats, sampleQuality, transportState } from './session';
import { refitCamera } from './simulcast';
import { saveDevicePrefs } from './devicePrefs';
import { openDevice } from './media';
import type { ConsumerEntry, Direction, Session, VideoState } from './session';
import { decodeToken } from './token';
import type { TokenClaims } from './token';
import type {
  ClientError,
  ConnectionState,
  LocalState,
  RemotePeerView,
  RemoteStat,
  RoomEvents,
  TransportStat,
} from './types';

export type * from './types';

type Phase =
  | 'idle'
  | 'connecting'
  | 'waiting'
  | 'joined'
  | 'reconnecting'
  | 'failed'
  | 'left'
  | 'ended'
  | 'denied';

const FATAL_CODES = new Set([
  'unauthorized',
  'forbidden',
  'not_found',
  'bad_request',
  'denied_recently',
]);
const QUALITY_INTERVAL_MS = 2000;
/** What `newProducer` tells. */
type ProducerNews = Parameters<ServerToClientEvents['newProducer']>[0];
/**
 * After a move off a draining node, how long the old session's media may overlap the new one's
 * while the new consumers wait for their first packets and frames.
 */
const HANDOVER_MEDIA_WAIT_MS = 4000;
const MAX_SERVER_DISCONNECTS = 5;

/** The signalling socket, to this page's server or (in a cluster, after a failover) `url`. */
function openSocket(url: string | undefined, token: string): ConsultSocket {
  const opts = {
    auth: { token },
    forceNew: true,
    ...RECONNECT,
    // WebSocket from the start (no long-polling phase to upgrade from, ~50 ms off a join);
    // long-polling only where the WebSocket fails to open (a proxy that blocks it).
    transports: ['websocket', 'polling'],
    tryAllTransports: true,
  };
  return url === undefined ? io(opts) : io(url, opts);
}
/**
 * Nothing received for this long on the receive transport is our own stall. Longer than the
 * send side's: when all we receive comes from one sender whose uplink dropped, the server
 * says so (`peerConnection`) within ~1 s, and that is no reason to restart our ICE.
 */
const RECV_STALL_MS = 2500;
/**
 * The transports' traffic watch (stats read every 100 ms) starts once the page shows the first
 * remote frame (`mediaShown`), or this long after a transport connected when no remote video
 * is on its way (alone, audio only, cameras off): not while the join's first frame decodes.
 */
const WATCH_AFTER_CONNECT_MS = 1500;
/** The latest the watch starts after a transport connected, even with a video still on its way. */
const WATCH_BY_MS = 5000;

/** Media and signalling for one participant of a consult. UI-agnostic; talk to it via events. */
export class RoomClient extends Emitter<RoomEvents> {
  private socket: ConsultSocket | null = null;
  private session: Session | null = null;
  private phase: Phase = 'idle';
  private token: string | null = null;
  private displayName: string | undefined;
  /** Proves to the server that this client holds its seat (sent with every join). */
  private resumeSecret: string | undefined;
  private tokenClaims: TokenClaims | null = null;
  private ownPeerId: string | null = null;
  private readonly peers = new PeerDirectory();
  private readonly local: Partial<Record<MediaSource, MediaStreamTrack>> = {};
  /** Send transports being opened, per session: on first publish, not at join. */
  private readonly pendingSend = new WeakMap<Session, Promise<ms.Transport | undefined>>();
  private mediaPromise: Promise<void> | null = null;
  /** Bumped on every join and teardown, so a stale getUserMedia result is discarded. */
  private mediaEpoch = 0;
  private serverDisconnects = 0;
  /** In a cluster: the other nodes' URLs from the last join (where to go if ours is gone). */
  private entryPoints: string[] = [];
  /** The node our socket goes to (undefined: this page's server). */
  private nodeUrl: string | undefined;
  /** Moved to another node since the last join: none of our transports exist there. */
  private moved = false;
  /** The last loaded Device and the router capabilities it loaded (every node's are the same). */
  private loaded: { caps: string; device: Device } | null = null;
  /** Failed reconnects to the current node in a row (moving to another one after a few). */
  private failedReconnects = 0;
  /**
   * Set while the session moves to another node (its node drains): the old session and socket
   * keep their media flowing until the new session is up, then close (make-before-break).
   */
  private handover: {
    session: Session;
    socket: ConsultSocket;
    /** Producers announced to the old connection while the new one joins. */
    announced: ProducerNews[];
  } | null = null;
  private micMuted = false;
  private cameraOff = false;
  private screenPending = false;
  /** Device switches run one after another. */
  private deviceSwitch: Promise<void> = Promise.resolve();
  /** The encodings each camera producer sends now, to refit them when the capture size changes. */
  private readonly cameraEncodings = new WeakMap<ms.Producer, ms.RtpEncodingParameters[]>();
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private qualityTimer: ReturnType<typeof setInterval> | null = null;
  private lastState: ConnectionState = 'disconnected';
  private iceRestartCount = 0;
  /** The last signalling steps, wall-clock: where a reconnect's or a failover's time goes. */
  private readonly steps: { at: number; step: string }[] = [];
  /** Restarts ICE when the browser comes back online or changes network. */
  private readonly networkWatch = new NetworkWatch(() => {
    const s = this.session;
    if (!s?.ready || s.closed) return;
    for (const recovery of Object.values(s.recovery)) recovery.networkChanged();
  });

  get peerId(): string | null {
    return this.ownPeerId;
  }

  get claims(): TokenClaims | null {
    return this.tokenClaims;
  }

  get connectionState(): ConnectionState {
    return this.lastState;
  }

  /** True while connecting, waiting in the lobby, joined or rejoining. */
  get active(): boolean {
    return (
      this.phase === 'connecting' ||
      this.phase === 'waiting' ||
      this.phase === 'joined' ||
      this.phase === 'reconnecting'
    );
  }

  /** True while connecting, joined or rejoining with exactly this token. */
  isActiveWith(token: string): boolean {
    return this.active && this.token === token;
  }

  get localState(): LocalState {
    return {
      micMuted: this.micMuted,
      cameraOff: this.cameraOff,
      sharing: Boolean(this.local.screen),
      hasMic: Boolean(this.local.mic),
      hasCamera: Boolean(this.local.camera),
      joined: this.phase === 'joined',
    };
  }

  /**
   * Connects with `token` and joins its consult. A no-op while already active with the same
   * token; with a different token the current consult is left first. Throws on a bad token.
   */
  async join(token: string, displayName?: string): Promise<void> {
    const claims = decodeToken(token);
    if (this.isActiveWith(token)) return;
    if (this.socket) await this.leave();
    this.token = token;
    this.tokenClaims = claims;
    this.displayName = displayName?.trim() || undefined;
    // After a page reload this tab may still have a seat on the server (grace period).
    this.resumeSecret = storedResumeSecret(claims);
    this.setPhase('connecting');
    this.serverDisconnects = 0;
    const epoch = ++this.mediaEpoch;
    this.mediaPromise = claims.grants.publish ? this.acquireLocalMedia(epoch) : Promise.resolve();
    this.entryPoints = [];
    this.nodeUrl = undefined;
    this.moved = false;
    const socket = openSocket(undefined, token);
    this.socket = socket;
    this.bindSocket(socket);
    this.networkWatch.start();
    // While the server checks the grant and the join travels (not in this task, which would
    // hold back the handshake): the device then loads without the browser's probe.
    socket.io.once('open', () => {
      this.mark('engine open');
      readCapabilitiesAhead(claims.grants.publish);
    });
  }

  /** Sends `leave`, disconnects and releases local media. */
  async leave(): Promise<void> {
    const socket = this.socket;
    if (!socket) return;
    const wasJoined = Boolean(this.session) && socket.connected;
    this.setPhase('left');
    if (wasJoined) await request(socket, 'leave', {}, 3000).catch(() => undefined);
    this.forgetSeat();
    this.teardown();
    this.setPhase('left');
  }

  /** Best-effort synchronous shutdown (page unload). */
  close(): void {
    if (this.socket) this.teardown();
  }

  async setMicMuted(muted: boolean): Promise<void> {
    this.micMuted = muted;
    await this.applyPaused('mic', muted);
  }

  async setCameraOff(off: boolean): Promise<void> {
    this.cameraOff = off;
    await this.applyPaused('camera', off);
  }

  async toggleScreenShare(): Promise<void> {
    if (this.local.screen) await this.stopScreenShare();
    else await this.startScreenShare();
  }

  /** inbound-rtp counters of every live consumer (for tests and diagnostics). */
  async getRemoteStats(): Promise<RemoteStat[]> {
    return this.session ? remoteStats(this.session) : [];
  }

  /** Each transport's state, ICE restarts and selected candidate pair (for tests and diagnostics). */
  async getTransportStats(): Promise<TransportStat[]> {
    const s = this.session;
    if (!s) return [];
    const stats = (['send', 'recv'] as const).map(
      async (direction): Promise<TransportStat | null> => {
        const t = s.transports[direction];
        if (!t || t.closed) return null;
        const report = await t.getStats().catch(() => null);
        return {
          direction,
          transportId: t.id,
          connectionState: t.connectionState,
          iceRestarts: s.recovery[direction]?.restarts ?? 0,
          selected: report ? selectedPair(report) : null,
        };
      },
    );
    return (await Promise.all(stats)).filter((t): t is TransportStat => t !== null);
  }

  /** ICE restarts applied since this client was created. */
  get iceRestarts(): number {
    return this.iceRestartCount;
  }

  /** The gateway node this client's signalling goes to (another after a drain or a failover). */
  get server(): string {
    return this.nodeUrl ?? location.origin;
  }

  /** The last 100 signalling and media set-up steps with their times (Date.now()), for tests and drills. */
  get trace(): readonly { at: number; step: string }[] {
    return this.steps;
  }

  private mark(step: string): void {
    this.steps.push({ at: Date.now(), step });
    if (this.steps.length > 100) this.steps.shift();
  }

  /**
   * Drops the signalling connection the way a network failure does (the server sees the
   * socket close, Socket.IO reconnects and the session is resumed). For tests and drills.
   */
  dropSignalling(): void {
    this.socket?.io.engine?.close();
  }

  // --- host controls (need the admit / end grants; the server checks them) ---

  /** Lets a waiting participant in. Throws RequestError (e.g. not_found if they left). */
  async admit(peerId: string): Promise<void> {
    await this.hostRequest('admit', { peerId });
  }

  /** Turns a waiting participant away; they see `reason`. */
  async deny(peerId: string, reason?: string): Promise<void> {
    await this.hostRequest('deny', reason ? { peerId, reason } : { peerId });
  }

  /** Host: a short message to someone in the waiting room ("5 minutes"). */
  async messageWaiting(peerId: string, text: string): Promise<void> {
    const s = this.session;
    if (!s || s.closed || this.phase !== 'joined') {
      throw new RequestError('lobbyMessage', 'not_joined', 'You are not in the consult.');
    }
    await this.req(s, 'lobbyMessage', { peerId, text });
  }

  /**
   * Asks again for a camera or microphone that was refused, in use or missing (the user fixed
   * it), and sends what it gets if joined. Devices already open are kept.
   */
  async retryLocalMedia(): Promise<void> {
    if (!this.active || !this.tokenClaims?.grants.publish) return;
    const { mic, camera, error } = await getUserTracks();
    if (error) this.emit('error', { code: 'media', message: error, fatal: false });
    if (!this.active) {
      mic?.stop();
      camera?.stop();
      return;
    }
    for (const [source, track] of [
      ['mic', mic],
      ['camera', camera],
    ] as const) {
      if (!track) continue;
      if (this.local[source]) {
        track.stop();
        continue;
      }
      track.enabled = source === 'mic' ? !this.micMuted : !this.cameraOff;
      this.local[source] = track;
      const s = this.session;
      if (s?.ready && !s.closed && this.phase === 'joined') await this.produce(s, source, track);
    }
    this.emit('localMedia', this.local.camera ? new MediaStream([this.local.camera]) : null);
    this.emit('localState', this.localState);
  }

  /**
   * Switches to another camera or microphone mid-call: opens it, sends it on the existing
   * producer with replaceTrack (the others keep seeing and hearing us, no re-join), refits
   * the camera's simulcast layers to the new capture size, and remembers the choice. If the
   * device cannot be opened the old one stays and an error says why.
   */
  switchDevice(source: 'mic' | 'camera', deviceId: string): Promise<void> {
    const run = this.deviceSwitch.then(() => this.replaceDevice(source, deviceId));
    this.deviceSwitch = run.catch(() => undefined);
    return run;
  }

  /** The local producers and the track each sends now (for tests and diagnostics). */
  get localProducers(): { source: MediaSource; producerId: string; trackId: string | null }[] {
    const s = this.session;
    if (!s || s.closed) return [];
    return [...s.producers].map(([source, p]) => ({
      source,
      producerId: p.id,
      trackId: p.track?.id ?? null,
    }));
  }

  /** The camera or microphone track this page captures now, if any. */
  localTrack(source: 'mic' | 'camera'): MediaStreamTrack | undefined {
    return this.local[source];
  }

  private async replaceDevice(source: 'mic' | 'camera', deviceId: string): Promise<void> {
    if (!this.active || !this.tokenClaims?.grants.publish) return;
    await this.mediaPromise;
    saveDevicePrefs(
      source === 'mic' ? { micId: deviceId } : { cameraId: deviceId, facingMode: undefined },
    );
    let track: MediaStreamTrack;
    try {
      track = await openDevice(source, deviceId);
    } catch (err) {
      this.emit('error', { code: 'media', message: (err as Error).message, fatal: false });
      return;
    }
    if (!this.active) return track.stop();
    track.enabled = source === 'mic' ? !this.micMuted : !this.cameraOff;
    const old = this.local[source];
    this.local[source] = track;
    const s = this.session;
    const producer = s?.producers.get(source);
    try {
      if (s && producer && !producer.closed) {
        await producer.replaceTrack({ track });
        if (source === 'camera') {
          s.producing = s.producing
            .then(() => this.refitCamera(s, producer))
            .catch(() => undefined);
          await s.producing;
        }
      } else if (s?.ready && !s.closed && this.phase === 'joined') {
        await this.produce(s, source, track);
      }
    } catch (err) {
      // The old device keeps sending.
      this.local[source] = old;
      track.stop();
      this.reportError(err, `Could not switch your ${source === 'mic' ? 'microphone' : 'camera'}`);
      return;
    }
    if (old !== track) old?.stop();
    if (source === 'camera') this.emit('localMedia', new MediaStream([track]));
    this.emit('localState', this.localState);
  }

  /** While waiting: reopens camera and microphone (the pre-call check chose other ones). */
  reopenLocalMedia(): void {
    if (this.phase !== 'waiting' || !this.tokenClaims?.grants.publish) return;
    for (const source of ['mic', 'camera'] as const) {
      this.local[source]?.stop();
      delete this.local[source];
    }
    const epoch = ++this.mediaEpoch;
    this.mediaPromise = this.acquireLocalMedia(epoch);
  }

  /** Removes a participant from the consult (they would have to wait in the lobby again). */
  async removeParticipant(peerId: string): Promise<void> {
    await this.hostRequest('removePeer', { peerId });
  }

  /** Ends the consult for everyone. */
  async endConsult(): Promise<void> {
    await this.hostRequest('endConsult', {});
  }

  /** Sends a chat message; resolves once the server stored it (it is then echoed as chatMessage). */
  async sendChat(text: string): Promise<ResponseData<'chatMessage'>> {
    const s = this.session;
    if (!s || s.closed || this.phase !== 'joined') {
      throw new RequestError('chatMessage', 'not_joined', 'You are not in the consult.');
    }
    return this.req(s, 'chatMessage', { text });
  }

  /** Older chat messages, before the message `before` (oldest first). */
  async loadEarlierChat(before: string): Promise<ResponseData<'chatHistory'>> {
    const s = this.session;
    if (!s || s.closed || this.phase !== 'joined') {
      throw new RequestError('chatHistory', 'not_joined', 'You are not in the consult.');
    }
    return this.req(s, 'chatHistory', { before });
  }

  private hostRequest<E extends 'admit' | 'deny' | 'removePeer' | 'endConsult'>(
    event: E,
    data: RequestData<E>,
  ): Promise<ResponseData<E>> {
    const s = this.session;
    if (!s || s.closed || this.phase !== 'joined') {
      return Promise.reject(new RequestError(event, 'not_joined', 'You are not in the consult.'));
    }
    return this.req(s, event, data);
  }

  // --- socket ---

  private bindSocket(socket: ConsultSocket): void {
    const mine = (): boolean => socket === this.socket;
    socket.on('connect', () => {
      if (!mine()) return;
      this.mark('connect');
      this.failedReconnects = 0;
      const s = this.session;
      if (s?.ready && !s.closed) {
        void this.resumeSession(socket, s);
        return;
      }
      if (this.handover) {
        // Moving off a draining node: the old session stays until this one is up.
        void this.startSession(socket, 0);
        return;
      }
      this.closeSession();
      if (this.phase !== 'connecting') this.setPhase('reconnecting');
      void this.startSession(socket, 0);
    });
    socket.on('disconnect', (reason) => {
      if (!mine() || !this.active) return;
      this.mark(`disconnect (${reason})`);
      // A joined session keeps its media while the socket reconnects: the server keeps our
      // seat for a grace period and 'connect' takes it back. Anything less is rebuilt.
      const s = this.session;
      if (!s?.ready || s.closed) this.closeSession();
      this.setPhase('reconnecting');
      if (reason === 'transport close' || reason === 'transport error') this.probeNode(socket);
      if (
        (reason === 'transport close' || reason === 'parse error') &&
        sentLargeMessageRecently(socket)
      ) {
        this.emit('error', {
          code: 'too_large',
          message:
            'The server closed the connection after a message larger than it accepts (256 KiB); reconnecting…',
          fatal: false,
        });
      }
      if (reason === 'io server disconnect') {
        // Socket.IO does not reconnect after a server-side disconnect (e.g. a gateway restart):
        // try again a few times; a refused token then ends in connect_error.
        this.serverDisconnects += 1;
        if (this.serverDisconnects > MAX_SERVER_DISCONNECTS) {
          this.fail({ code: 'disconnected', message: 'The server closed the connection.' });
          return;
        }
        this.retryTimer = setTimeout(() => {
          if (mine() && this.active) socket.connect();
        }, 1000 * this.serverDisconnects);
      }
    });
    socket.on('connect_error', (err: Error & { data?: { message?: string } }) => {
      if (!mine() || !this.active) return;
      this.mark(`connect_error (${err.message})`);
      const data = err.data as { code?: string; url?: string } | undefined;
      if (data?.code === 'node_draining' && data.url) {
        // That node is shutting down for a restart: it names another.
        this.moveTo(socket, data.url);
        return;
      }
      const message = err.data?.message ?? err.message;
      if (!socket.active) {
        const code = (err.data as { code?: string } | undefined)?.code ?? 'unauthorized';
        // The server could not check the grant now (its database or Redis is restarting):
        // not a refusal, try again a few times, as after a server-side disconnect.
        if (code === 'unavailable' && this.serverDisconnects < MAX_SERVER_DISCONNECTS) {
          this.serverDisconnects += 1;
          console.warn('server unavailable, retrying:', message);
          this.retryTimer = setTimeout(() => {
            if (mine() && this.active) socket.connect();
          }, 1000 * this.serverDisconnects);
          return;
        }
        this.fail({ code, message: refusal(code, message).message });
      } else {
        console.warn('connect_error, retrying:', message);
        this.failedReconnects += 1;
        if (this.failedReconnects >= NODE_GONE_AFTER_FAILURES) this.moveToAnotherNode(socket);
      }
    });
    socket.on('peerJoined', (m) => this.dispatch(socket, () => this.upsertPeer(m)));
    socket.on('peerLeft', ({ peerId }) => this.dispatch(socket, () => this.removePeer(peerId)));
    socket.on('peerConnection', ({ peerId, state }) =>
      this.dispatch(socket, () => this.emitPeer(this.peers.setConnection(peerId, state))),
    );
    socket.on('newProducer', (m) =>
      this.dispatch(socket, () => {
        if (m.peerId === this.ownPeerId) return;
        this.mark(`newProducer ${m.appData.source}`);
        this.emitPeer(this.peers.addProducer(m.peerId, m.producerId, m.kind, m.appData.source));
        if (this.session) void this.consume(this.session, m.peerId, m.producerId);
      }),
    );
    socket.on('producerClosed', ({ peerId, producerId }) =>
      this.dispatch(socket, () => {
        const s = this.session;
        s?.closedProducers.add(producerId);
        for (const e of [...(s?.consumers.values() ?? [])]) {
          if (e.producerId === producerId && s) this.removeConsumer(s, e.consumerId);
        }
        this.emitPeer(this.peers.removeProducer(peerId, producerId));
      }),
    );
    socket.on('producerPaused', (m) =>
      this.dispatch(socket, () => this.setProducerPaused(m.peerId, m.producerId, true)),
    );
    socket.on('producerResumed', (m) =>
      this.dispatch(socket, () => this.setProducerPaused(m.peerId, m.producerId, false)),
    );
    socket.on('consumerClosed', ({ consumerId }) =>
      this.dispatch(socket, () => {
        if (this.session) this.removeConsumer(this.session, consumerId);
      }),
    );
    socket.on('videoPaused', ({ consumerId }) =>
      this.dispatch(socket, () => this.setRemoteVideo(consumerId, { paused: true })),
    );
    socket.on('videoResumed', ({ consumerId }) =>
      this.dispatch(socket, () => this.setRemoteVideo(consumerId, { paused: false })),
    );
    socket.on('layersChanged', ({ consumerId, spatialLayer, temporalLayer }) =>
      this.dispatch(socket, () => this.setRemoteVideo(consumerId, { spatialLayer, temporalLayer })),
    );
    socket.on('activeSpeaker', ({ peerId }) =>
      this.dispatch(socket, () => this.emit('activeSpeaker', peerId)),
    );
    socket.on('consultEnded', ({ reason, message }) => {
      if (!mine() || !this.active) return;
      this.setPhase('ended');
      this.forgetSeat();
      this.teardown();
      this.setPhase('ended');
      this.emit('ended', reason, message);
    });
    // Through the join's buffer: a snapshot sent while our join was answered is newer than
    // the answer's, which must not overwrite it.
    socket.on('lobbyChanged', ({ waiting, total }) =>
      this.dispatch(socket, () => this.emit('lobby', waiting, total)),
    );
    socket.on('chatMessage', (m) => {
      if (mine() && this.active) this.emit('chatMessage', m);
    });
    socket.on('quality', ({ samples }) => {
      if (mine() && this.active) this.emit('serverQuality', samples);
    });
    socket.on('admitted', () => {
      if (!mine() || this.phase !== 'waiting') return;
      // Admitted: join again on the same socket for the full join data.
      this.closeSession();
      this.setPhase('connecting');
      void this.startSession(socket, 0);
    });
    socket.on('hostMessage', (msg) => {
      if (mine() && this.phase === 'waiting') this.emit('hostMessage', msg);
    });
    socket.on('denied', ({ reason }) => {
      if (!mine() || !this.active) return;
      this.setPhase('denied');
      this.forgetSeat();
      this.teardown();
      this.setPhase('denied');
      this.emit('denied', reason);
    });
    socket.on('migrate', ({ url }) => {
      if (mine() && this.active) this.migrate(socket, url);
    });
    socket.on('rejoinRequired', ({ reason }) => {
      if (!mine() || !this.active) return;
      console.info('rejoin required:', reason);
      this.closeSession();
      this.setPhase('reconnecting');
      void this.startSession(socket, 0);
    });
  }

  /** Runs a server event now, or after the join completes if one is being set up. */
  private dispatch(socket: ConsultSocket, fn: () => void): void {
    if (socket !== this.socket || !this.active) return;
    const s = this.session;
    if (!s) return;
    if (s.buffer) s.buffer.push(fn);
    else fn();
  }

  private req<E extends RequestName>(
    s: Session,
    event: E,
    data: RequestData<E>,
  ): Promise<ResponseData<E>> {
    return request(s.socket, event, data);
  }

  // --- session lifecycle ---

  private joinPayload(consultId: string): RequestData<'join'> {
    const network = networkType();
    return {
      consultId,
      ...(this.displayName ? { displayName: this.displayName } : {}),
      ...(network ? { networkType: network } : {}),
      ...(this.resumeSecret ? { resumeSecret: this.resumeSecret } : {}),
      ...withPrecheck(consultId),
    };
  }

  /** Keeps the resume secret of a join ack: the next join (after a drop or reload) shows it. */
  private noteSeat(res: ResponseData<'join'>): void {
    if (res.waiting || !this.tokenClaims) return;
    // Ours is listed first; the others are where to take the seat if ours goes away.
    if (res.nodes) this.entryPoints = res.nodes.slice(1);
    this.resumeSecret = res.resumeSecret;
    keepResumeSecret(this.tokenClaims, res.resumeSecret);
  }

  /**
   * Our node does not answer (it died, or we cannot reach it): reconnect through the next
   * node of the cluster; 'connect' then joins with the resume secret, which moves the seat
   * there, and the session is rebuilt on it (the server answers `resumed` with nothing kept).
   */
  private moveToAnotherNode(old: ConsultSocket): void {
    const next = this.entryPoints.shift();
    if (!next) return;
    console.info(`our server does not answer; taking our seat through ${next}`);
    this.moveTo(old, next);
  }

  /**
   * Our node's connection closed: if that node no longer answers at all (killed), move now
   * rather than after the backoff's failed reconnects. Only with somewhere to go and a network.
   */
  private probeNode(socket: ConsultSocket): void {
    if (this.entryPoints.length === 0 || navigator.onLine === false) return;
    void nodeAnswers(this.nodeUrl ?? location.origin).then((answers) => {
      this.mark(`probe: ${answers ? 'answers' : 'gone'}`);
      if (!answers && socket === this.socket && this.active && !socket.connected) {
        this.moveToAnotherNode(socket);
      }
    });
  }

  /** Reconnects through `url` (another node of the cluster), dropping the old socket. */
  private moveTo(old: ConsultSocket, url: string): void {
    if (!this.token) return;
    this.mark(`move to ${url}`);
    this.nodeUrl = url;
    this.moved = true;
    this.failedReconnects = 0;
    old.removeAllListeners();
    old.disconnect();
    const socket = openSocket(url, this.token);
    this.socket = socket;
    if (this.session) this.session.socket = socket;
    this.bindSocket(socket);
    socket.io.once('open', () => this.mark('engine open'));
  }

  /**
   * Our node drains (`migrate`): join through `url` with the resume secret (the seat moves,
   * nobody sees us leave), build transports, consumers and producers there, and only then
   * close the old ones and the old socket. Not joined yet: just reconnect there.
   */
  private migrate(old: ConsultSocket, url: string): void {
    const s = this.session;
    if (this.handover || !this.token) return;
    if (!s?.ready || s.closed || this.phase !== 'joined') {
      this.moveTo(old, url);
      return;
    }
    console.info(`our server is restarting; moving to ${url}`);
    this.nodeUrl = url;
    const handover = { session: s, socket: old, announced: [] as ProducerNews[] };
    this.handover = handover;
    // Its events no longer matter (the new node's do); its media flows until the handover.
    old.removeAllListeners();
    // Except a producer announced to it alone: made while the new connection joined, it can
    // miss both that connection's broadcast and its join answer.
    old.on('newProducer', (m) => handover.announced.push(m));
    this.session = null;
    this.stopQualityPolling();
    const socket = openSocket(url, this.token);
    this.socket = socket;
    this.bindSocket(socket);
  }

  /** The new session is up (or could not be made): the old one's media and socket close. */
  private finishHandover(): void {
    const h = this.handover;
    if (!h) return;
    this.handover = null;
    this.closeMedia(h.session);
    h.socket.disconnect();
  }

  /** The seat is gone for good (left, ended, denied): its secret is of no further use. */
  private forgetSeat(): void {
    this.resumeSecret = undefined;
    if (this.tokenClaims) keepResumeSecret(this.tokenClaims, undefined);
  }

  private async startSession(socket: ConsultSocket, attempt: number): Promise<void> {
    this.clearRetry();
    if (socket !== this.socket || !socket.connected || !this.tokenClaims) return;
    const s = newSession(socket);
    this.session = s;
    const live = (): boolean => this.session === s && !s.closed;
    try {
      // The receive transport comes with the join answer (one round trip less), and with a
      // Device loaded before it, the consumers too (two more).
      const ahead = this.tokenClaims.grants.subscribe ? await this.deviceAhead() : undefined;
      if (!live() || !this.tokenClaims) return;
      const joinReq: RequestData<'join'> = {
        ...this.joinPayload(this.tokenClaims.consultId),
        recvTransport: true,
        ...(ahead
          ? { rtpCapabilities: ahead.rtpCapabilities as RequestData<'join'>['rtpCapabilities'] }
          : {}),
      };
      let res: ResponseData<'join'>;
      try {
        res = await this.req(s, 'join', joinReq);
      } catch (err) {
        if (!(err instanceof RequestError) || err.code !== 'conflict') throw err;
        // Still joined on the server (e.g. after rejoinRequired): leave and join afresh.
        await this.req(s, 'leave', {}).catch(() => undefined);
        res = await this.req(s, 'join', joinReq);
      }
      this.mark('join ack');
      this.moved = false;
      this.noteSeat(res);
      if (!live()) return;
      await this.setUp(s, res);
      await s.consuming;
      if (this.handover && live()) this.consumeAnnounced(s, this.handover.announced);
    } catch (err) {
      if (!live()) return;
      this.onSessionError(socket, err, attempt);
    } finally {
      // After a move off a draining node: the new session is up (or failed), the old goes
      // once the new one carries media, so the move leaves no silence (bounded: a producer
      // that sends nothing must not keep the old node up).
      if (this.handover && live()) await this.untilMediaArrives(s, live, HANDOVER_MEDIA_WAIT_MS);
      this.finishHandover();
    }
  }

  /** Consumes producers the old connection heard of during a move (unless consumed already). */
  private consumeAnnounced(s: Session, announced: ProducerNews[]): void {
    for (const m of announced) {
      if (m.peerId === this.ownPeerId || !this.peers.has(m.peerId)) continue;
      this.emitPeer(this.peers.addProducer(m.peerId, m.producerId, m.kind, m.appData.source));
      void this.consume(s, m.peerId, m.producerId);
    }
  }

  /** Resolves once the session's consumers carry media, or after `timeoutMs`. */
  private async untilMediaArrives(s: Session, live: () => boolean, timeoutMs: number) {
    const end = Date.now() + timeoutMs;
    while (live() && Date.now() < end) {
      if (await mediaArrived(s).catch(() => true)) {
        this.mark('new media flowing');
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /**
   * A Device loaded with the router capabilities of this browser's last join (those of every
   * router of the gateway), so the join can carry its RTP capabilities; undefined without
   * them (a first visit) or when they do not load. A join answer with other capabilities
   * replaces the Device (setUp compares them).
   */
  private async deviceAhead(): Promise<Device | undefined> {
    const kept = routerCapabilitiesAhead();
    if (!kept) return undefined;
    if (this.loaded?.caps === kept.json) return this.loaded.device;
    const device = newDevice(Boolean(this.tokenClaims?.grants.publish));
    try {
      await device.load({ routerRtpCapabilities: kept.caps });
    } catch {
      return undefined; // the join consumes after its answer, as without them
    }
    this.loaded = { caps: kept.json, device };
    this.mark('device loaded ahead');
    return device;
  }

  /** Builds a session from join data: device, transports, consumers, then local media. */
  private async setUp(s: Session, res: ResponseData<'join'>): Promise<void> {
    const live = (): boolean => this.session === s && !s.closed;
    if (res.waiting) {
      // In the lobby until the host admits us ('admitted' → join again) or denies us.
      this.setPhase('waiting');
      this.emit('waiting', { peerId: res.peerId });
      return;
    }
    const joined: JoinResponse = res;
    this.ownPeerId = joined.peerId;
    // The answer's roster, chat and lobby at once, before anything awaits: a peerLeft,
    // chatMessage or lobbyChanged that arrives while the device loads is newer than the
    // answer and must not be overwritten by it (consume() also looks the peer up).
    for (const p of joined.peers) this.upsertPeer(p);
    this.emit('chatHistory', joined.chat ?? [], joined.chatHasMore ?? false);
    if (joined.lobby) this.emit('lobby', joined.lobby, joined.lobbyTotal ?? joined.lobby.length);
    // The first frame's path first (device, receive transport, consume requests); the page's
    // own updates (tiles, chat, lobby) while those requests travel.
    // The same capabilities (another session, another node of the cluster): the same Device.
    const caps = JSON.stringify(joined.routerRtpCapabilities);
    let device = this.loaded?.caps === caps ? this.loaded.device : undefined;
    if (!device) {
      device = newDevice(Boolean(this.tokenClaims?.grants.publish));
      await device.load({ routerRtpCapabilities: joined.routerRtpCapabilities });
      if (!live()) return;
      this.loaded = { caps, device };
      this.mark('device loaded');
    } else this.mark('device reused');
    s.device = device;
    const recvInfo =
      joined.recvTransport ?? (await this.req(s, 'createTransport', { direction: 'recv' }));
    if (!live()) return;
    this.mark('recv transport');
    this.createTransport(s, device, 'recv', recvInfo);
    const consuming: Promise<void>[] = [];
    const requested: Promise<void>[] = [];
    // The consumers the join made (already resumed), video first: its first picture waits for
    // a key frame, audio plays from its first packet. The rest are asked for.
    const made = [...(joined.consumers ?? [])].sort(
      (a, b) => Number(a.kind === 'audio') - Number(b.kind === 'audio'),
    );
    for (const c of made) {
      requested.push(
        new Promise((done) => consuming.push(this.consume(s, c.peerId, c.producerId, done, c))),
      );
    }
    for (const p of joined.peers) {
      if (p.peerId === this.ownPeerId) continue;
      for (const pr of p.producers) {
        if (made.some((c) => c.producerId === pr.producerId)) continue;
        requested.push(
          new Promise((done) => consuming.push(this.consume(s, p.peerId, pr.producerId, done))),
        );
      }
    }
    keepRouterCapabilitiesAhead(caps); // the next join (this tab's or another's) consumes at once
    // A participant who may publish opens the send transport now; one who may not never does.
    if (joined.sendTransport) this.createTransport(s, device, 'send', joined.sendTransport);
    const sending = this.tokenClaims?.grants.publish ? this.sendTransport(s) : null;
    sending?.catch(() => undefined); // reported when a produce needs it
    s.consuming = Promise.allSettled(consuming);
    this.flush(s);
    s.ready = true;
    this.serverDisconnects = 0;
    this.setPhase('joined');
    this.emit('joined', { peerId: joined.peerId });
    this.emit('localState', this.localState);
    void Promise.all(requested).then(() => {
      if (live()) this.emit('mediaRequested');
    });
    this.startQualityPolling(s);
    // A restart asked for while the session was being set up runs now.
    for (const recovery of Object.values(s.recovery)) recovery.signallingRestored();

    s.producing = this.produceLocal(s);
    await s.producing;
    if (!live()) return;
    s.mediaReady = true;
    this.updateState();
  }

  /**
   * Produces every live local track that has no producer yet, the camera first: a video's
   * first picture waits for a key frame after its producer exists, audio plays from its
   * first packet, so the microphone's round trips overlap that wait (one transport produces
   * one track at a time).
   */
  private async produceLocal(s: Session): Promise<void> {
    await this.mediaPromise;
    for (const source of ['camera', 'mic', 'screen'] as const) {
      if (this.session !== s || s.closed) return;
      const track = this.local[source];
      if (track && track.readyState === 'live' && !s.producers.has(source)) {
        await this.produce(s, source, track);
      }
    }
  }

  /**
   * The socket is back after a drop: join again and take our seat back. If the server still
   * has our transports, keep all media and reconcile what changed meanwhile; otherwise
   * rebuild the session from the join data.
   */
  private async resumeSession(socket: ConsultSocket, s: Session): Promise<void> {
    this.clearRetry();
    if (socket !== this.socket || !this.tokenClaims) return;
    s.buffer ??= [];
    const live = (): boolean => this.session === s && !s.closed;
    let res: ResponseData<'join'>;
    try {
      // On another node none of our transports exist: both come with the join answer.
      const moved = this.moved;
      const transports = moved
        ? { recvTransport: true, sendTransport: Boolean(this.tokenClaims.grants.publish) }
        : {};
      this.mark('join (resume)');
      res = await this.req(s, 'join', {
        ...this.joinPayload(this.tokenClaims.consultId),
        ...transports,
      });
      this.mark('join ack');
      if (socket === this.socket) this.moved = false;
      this.noteSeat(res);
    } catch (err) {
      // Dropped again: the next 'connect' tries again with the media still kept.
      if (!live() || (err instanceof RequestError && err.code === 'disconnected')) return;
      this.onSessionError(socket, err, 0);
      return;
    }
    if (!live()) return;
    const resumed = res.waiting || res.peerId !== this.ownPeerId ? undefined : res.resumed;
    if (!resumed || !canResume(this.localMedia(s), resumed)) {
      // Our media is gone on the server (grace period over, media worker restarted): rebuild.
      console.info('signalling back; the server did not keep our media, rebuilding it');
      const held = s.buffer ?? [];
      if (res.waiting) this.closeSession();
      else this.retireSession(s, res.peers);
      const fresh = newSession(socket);
      fresh.buffer = held;
      this.session = fresh;
      const setting = this.setUp(fresh, res);
      // The old media's teardown (its node forgot it: nothing flows on it) once the new
      // session's requests are out, not before them: closing peer connections and tiles is
      // main-thread work a failover would otherwise wait for.
      setTimeout(() => {
        this.closeMedia(s);
        this.mark('old media closed');
      }, 0);
      try {
        await setting;
      } catch (err) {
        if (this.session === fresh && !fresh.closed) this.onSessionError(socket, err, 0);
      }
      return;
    }
    try {
      await this.reconcile(s, res as JoinResponse, resumed);
    } catch (err) {
      if (live()) this.reportError(err, 'Could not restore the consult after reconnecting');
    }
  }

  /** What this session holds locally, for comparing with the server's `resumed` state. */
  private localMedia(s: Session): LocalMedia {
    return {
      transports: { send: s.transports.send?.id, recv: s.transports.recv?.id },
      producers: [...s.producers].map(([source, p]) => ({
        source,
        producerId: p.id,
        paused: source === 'mic' ? this.micMuted : source === 'camera' ? this.cameraOff : false,
      })),
      consumers: [...s.consumers.values()]
        .filter((e) => e.consumer && !e.closed)
        .map((e) => ({
          consumerId: e.consumerId,
          producerId: e.producerId,
          kind: e.kind,
          resumed: e.resumed,
          videoPaused: s.video.get(e.consumerId)?.paused ?? false,
        })),
      consumedProducers: s.consumedProducers,
    };
  }

  /** Brings a kept session in line with the server after a signalling drop. */
  private async reconcile(s: Session, joined: JoinResponse, resumed: ResumedState): Promise<void> {
    const live = (): boolean => this.session === s && !s.closed;
    this.emit('chatHistory', joined.chat ?? [], joined.chatHasMore ?? false);
    if (joined.lobby) this.emit('lobby', joined.lobby, joined.lobbyTotal ?? joined.lobby.length);
    // Who left while we were away; everyone else's producers as they are now.
    const present = new Set(joined.peers.map((p) => p.peerId));
    for (const peerId of this.peers.ids()) if (!present.has(peerId)) this.removePeer(peerId);
    for (const p of joined.peers) {
      this.peers.delete(p.peerId);
      this.upsertPeer(p);
    }
    const paused = new Map(
      joined.peers.flatMap((p) => p.producers.map((r) => [r.producerId, r.paused])),
    );
    for (const e of s.consumers.values()) e.producerPaused = paused.get(e.producerId) ?? false;
    const plan = planResume(this.localMedia(s), resumed, joined.peers);
    for (const consumerId of plan.closeConsumers) {
      const entry = s.consumers.get(consumerId);
      if (entry) s.consumedProducers.delete(entry.producerId);
      this.removeConsumer(s, consumerId);
    }
    for (const { consumerId, paused } of plan.videoPaused) {
      this.setRemoteVideo(consumerId, { paused });
    }
    for (const { peerId, producerId } of plan.consume) void this.consume(s, peerId, producerId);
    const resuming = plan.resumeConsumers.map((consumerId) => this.resumeConsumer(s, consumerId));
    this.flush(s);
    this.serverDisconnects = 0;
    this.setPhase('joined');
    this.emit('joined', { peerId: joined.peerId });
    this.emit('localState', this.localState);
    for (const recovery of Object.values(s.recovery)) recovery.signallingRestored();

    // Our producers: wait for any still being produced from before the drop, then compare.
    await s.producing;
    if (!live()) return;
    const mine = planResume(this.localMedia(s), resumed, joined.peers);
    for (const source of mine.reproduce) {
      s.producers.get(source)?.close();
      s.producers.delete(source);
    }
    const ignore = (): undefined => undefined;
    await Promise.all([
      ...resuming,
      ...mine.closeServerProducers.map((producerId) =>
        this.req(s, 'closeProducer', { producerId }).catch(ignore),
      ),
      ...mine.setPaused.map(({ producerId, paused }) =>
        this.req(s, paused ? 'pauseProducer' : 'resumeProducer', { producerId }).catch(ignore),
      ),
    ]);
    if (!live()) return;
    s.producing = this.produceLocal(s);
    await s.producing;
    if (live()) this.updateState();
  }

  /** Runs the server events held back while a join was set up. */
  private flush(s: Session): void {
    const buffered = s.buffer ?? [];
    s.buffer = null;
    for (const fn of buffered) fn();
  }

  private onSessionError(socket: ConsultSocket, err: unknown, attempt: number): void {
    const { code, message } = describeError(err);
    this.closeSession();
    const retryable = err instanceof RequestError && !FATAL_CODES.has(err.code);
    if (!retryable) {
      this.fail({ code, message: refusal(code, message).message });
      return;
    }
    this.setPhase('reconnecting');
    this.emit('error', { code, message: `Joining failed (${message}); retrying…`, fatal: false });
    if (err.code === 'disconnected') return; // the socket's 'connect' handler rejoins
    const delay = Math.min(1000 * 2 ** attempt, 10_000);
    this.retryTimer = setTimeout(() => void this.startSession(socket, attempt + 1), delay);
  }

  private clearRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  /** Closes device, transports, producers and consumers locally; removes remote peers. */
  private closeSession(): void {
    this.clearRetry();
    this.stopQualityPolling();
    const s = this.session;
    this.session = null;
    if (s) this.closeMedia(s);
    for (const peerId of this.peers.ids()) this.removePeer(peerId);
    this.ownPeerId = null;
    this.emit('lobby', [], 0);
    this.emit('activeSpeaker', null);
    this.emit('localState', this.localState);
  }

  /** Closes a session's transports, producers and consumers (and its ICE recovery) locally. */
  private closeMedia(s: Session): void {
    s.closed = true;
    for (const recovery of Object.values(s.recovery)) recovery.close();
    for (const id of [...s.consumers.keys()]) this.removeConsumer(s, id);
    for (const p of s.producers.values()) p.close();
    s.producers.clear();
    s.transports.send?.close();
    s.transports.recv?.close();
  }

  /**
   * A session being rebuilt from a join answer whose `peers` are everyone now: it stops (its
   * media is closed by the caller, later), those who left are removed, the others stay on the
   * page (no tile goes and comes back) with their producers as the answer lists them.
   */
  private retireSession(s: Session, peers: readonly { peerId: string }[]): void {
    this.clearRetry();
    this.stopQualityPolling();
    s.closed = true;
    const present = new Set(peers.map((p) => p.peerId));
    for (const peerId of this.peers.ids()) {
      if (present.has(peerId)) this.peers.delete(peerId);
      else this.removePeer(peerId);
    }
  }

  /** Ends everything: session, socket and local media. */
  private teardown(): void {
    this.networkWatch.stop();
    this.finishHandover();
    this.closeSession();
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      socket.removeAllListeners();
      socket.disconnect();
    }
    for (const source of ['mic', 'camera', 'screen'] as const) {
      this.local[source]?.stop();
      delete this.local[source];
    }
    this.mediaPromise = null;
    this.mediaEpoch += 1;
    this.emit('localMedia', null);
    this.emit('localState', this.localState);
  }

  private fail(error: Omit<ClientError, 'fatal'>): void {
    this.setPhase('failed');
    this.teardown();
    this.setPhase('failed');
    this.emit('error', { ...error, fatal: true });
  }

  private setPhase(phase: Phase): void {
    this.phase = phase;
    this.updateState();
  }

  private updateState(): void {
    const state = this.computeState();
    if (state === this.lastState) return;
    this.lastState = state;
    this.emit('state', state);
  }

  private computeState(): ConnectionState {
    switch (this.phase) {
      case 'idle':
      case 'failed':
        return 'disconnected';
      case 'connecting':
      case 'waiting':
      case 'reconnecting':
      case 'left':
      case 'ended':
      case 'denied':
        return this.phase;
      case 'joined':
        break;
    }
    return this.session ? transportState(this.session) : 'reconnecting';
  }

  // --- transports ---

  private createTransport(
    s: Session,
    device: Device,
    direction: Direction,
    info: TransportResponse,
  ): void {
    const options: ms.TransportOptions = {
      id: info.id,
      iceParameters: info.iceParameters,
      iceCandidates: info.iceCandidates,
      dtlsParameters: info.dtlsParameters,
    };
    const transport =
      direction === 'send'
        ? device.createSendTransport(options)
        : device.createRecvTransport(options);
    s.transports[direction] = transport;
    transport.on('connect', ({ dtlsParameters }, callback, errback) => {
      this.req(s, 'connectTransport', { transportId: transport.id, dtlsParameters }).then(
        () => callback(),
        (err: Error) => {
          this.reportError(err, `Could not connect the ${direction} transport`);
          errback(err);
        },
      );
    });
    transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
      const source = appData.source as MediaSource;
      this.mark(`produce req ${source}`);
      this.req(s, 'produce', {
        transportId: transport.id,
        kind,
        rtpParameters,
        appData: { source },
      }).then(({ producerId }) => callback({ id: producerId }), errback);
    });
    const recovery = new IceRecovery(
      transport,
      () => this.restartIce(s, transport),
      () => this.session === s && !s.closed && s.ready && this.phase === 'joined',
      () => (direction === 'send' ? this.sending(s) : this.receiving(s)),
      {
        watchFromStart: s.watching,
        ...(direction === 'recv' ? { stallMs: RECV_STALL_MS, quietNeedsOutbound: false } : {}),
      },
    );
    s.recovery[direction] = recovery;
    recovery.on('restarted', (reason) => {
      this.iceRestartCount += 1;
      console.info(`ICE restarted on the ${direction} transport (${reason})`);
      this.emit('iceRestart', { direction, reason });
    });
    recovery.on('stalled', () => this.updateState());
    recovery.on('quiet', () => restartOnOwnPath(s.recovery));
    recovery.on('error', (err) => {
      if (!s.closed) this.reportError(err, 'Could not restore the media connection');
    });
    recovery.on('gaveUp', () => {
      if (s.closed) return;
      this.emit('error', {
        code: 'ice_failed',
        message: 'The media connection could not be restored. Check your network connection.',
        fatal: false,
      });
    });
    transport.on('connectionstatechange', (state) => {
      if (s.closed) return;
      this.mark(`${direction} ${state}`);
      this.emit('transportState', { direction, state });
      this.updateState();
      recovery.onStateChange(state);
      if (state === 'connected' && !s.watching) this.watchLater(s, WATCH_AFTER_CONNECT_MS, 0);
    });
  }

  /** The page shows a remote frame: the join is done, the transports' traffic watch starts. */
  mediaShown(): void {
    const s = this.session;
    if (s?.ready && !s.closed) this.watchTraffic(s);
  }

  /** Starts the traffic watch in `ms`, later while a remote video is on its way (up to WATCH_BY_MS). */
  private watchLater(s: Session, ms: number, waited: number): void {
    setTimeout(() => {
      if (s.closed || s.watching) return;
      const spent = waited + ms;
      if (spent < WATCH_BY_MS && this.videoOnItsWay(s)) {
        this.watchLater(s, Math.min(ms, WATCH_BY_MS - spent), spent);
      } else {
        this.watchTraffic(s);
      }
    }, ms);
  }

  /** A remote video is resumed and live but its first packet has not come yet. */
  private videoOnItsWay(s: Session): boolean {
    return [...s.consumers.values()].some(
      (e) =>
        e.kind === 'video' &&
        e.consumer !== null &&
        !e.closed &&
        !e.producerPaused &&
        !s.video.get(e.consumerId)?.paused &&
        e.consumer.track.muted,
    );
  }

  /** Starts every transport's traffic watch of the session (once media flows: after the join). */
  private watchTraffic(s: Session): void {
    if (s.closed || s.watching) return;
    s.watching = true;
    for (const recovery of Object.values(s.recovery)) recovery.watchTraffic();
  }

  /** Some producer is live (so the gateway sends RTCP feedback on the send transport). */
  private sending(s: Session): boolean {
    return [...s.producers.values()].some((p) => !p.closed && !p.paused);
  }

  /**
   * Some consumer should be carrying media to us now: its producer is live and the server
   * does not say its sender's link is down (a remote dropout is not a fault of our transport).
   */
  private receiving(s: Session): boolean {
    return [...s.consumers.values()].some(
      (e) =>
        e.consumer !== null &&
        !e.closed &&
        e.resumed &&
        !e.producerPaused &&
        !s.video.get(e.consumerId)?.paused &&
        !this.peers.reconnecting(e.peerId),
    );
  }

  /** New ICE parameters from the server, applied to the browser's side of the transport. */
  private async restartIce(s: Session, transport: ms.Transport): Promise<void> {
    const { iceParameters } = await this.req(s, 'restartIce', { transportId: transport.id });
    if (s.closed || transport.closed) return;
    await transport.restartIce({ iceParameters });
  }

  // --- local media ---

  private async acquireLocalMedia(epoch: number): Promise<void> {
    const { mic, camera, error } = await getUserTracks();
    if (error) this.emit('error', { code: 'media', message: error, fatal: false });
    if (epoch !== this.mediaEpoch || !this.active) {
      mic?.stop();
      camera?.stop();
      return;
    }
    if (mic) {
      mic.enabled = !this.micMuted;
      this.local.mic = mic;
    }
    if (camera) {
      camera.enabled = !this.cameraOff;
      this.local.camera = camera;
    }
    this.emit('localMedia', camera ? new MediaStream([camera]) : null);
    this.emit('localState', this.localState);
  }

  /** The session's send transport, opened on first use (shared by concurrent callers). */
  private sendTransport(s: Session): Promise<ms.Transport | undefined> {
    if (s.transports.send) return Promise.resolve(s.transports.send);
    let pending = this.pendingSend.get(s);
    if (!pending) {
      pending = this.req(s, 'createTransport', { direction: 'send' }).then((info) => {
        if (s.closed || !s.device) return undefined;
        this.mark('send transport');
        this.createTransport(s, s.device, 'send', info);
        return s.transports.send;
      });
      this.pendingSend.set(s, pending);
      // A failed attempt is not kept: the next publish tries again.
      pending.catch(() => this.pendingSend.delete(s));
    }
    return pending;
  }

  private async produce(s: Session, source: MediaSource, track: MediaStreamTrack): Promise<void> {
    const device = s.device;
    if (!device) return;
    const kind = source === 'mic' ? 'audio' : 'video';
    if (!device.canProduce(kind)) {
      this.emit('error', {
        code: 'unsupported',
        message: `This browser cannot send ${kind} in this consult.`,
        fatal: false,
      });
      return;
    }
    let transport: ms.Transport | undefined;
    try {
      transport = await this.sendTransport(s);
    } catch (err) {
      if (!s.closed) this.reportError(err, `Could not send your ${source}`);
      return;
    }
    if (!transport || s.closed) return;
    const paused = source === 'mic' ? this.micMuted : source === 'camera' ? this.cameraOff : false;
    track.enabled = !paused;
    let producer: ms.Producer;
    const options = producerOptions(source, track, device);
    // mediasoup-client adds rids to these: keep what was asked for.
    const encodings = options.encodings?.map((e) => ({ ...e })) ?? [];
    try {
      this.mark(`produce ${source}`);
      producer = await transport.produce(options);
      this.mark(`produced ${source}`);
    } catch (err) {
      if (!s.closed) this.reportError(err, `Could not send your ${source}`);
      return;
    }
    if (s.closed || this.local[source] !== track) {
      // Session replaced or the source was stopped meanwhile.
      producer.close();
      if (!s.closed) await this.req(s, 'closeProducer', { producerId: producer.id }).catch(() => 0);
      return;
    }
    s.producers.set(source, producer);
    if (source === 'camera') {
      this.cameraEncodings.set(producer, encodings);
      watchCaptureSize(producer, () => {
        s.producing = s.producing.then(() => this.refitCamera(s, producer)).catch(() => undefined);
      });
    } else if (source === 'screen') {
      await keepResolution(producer.rtpSender);
    }
    producer.on('trackended', () => {
      if (source === 'screen') void this.stopScreenShare();
      else this.emit('error', { code: 'media', message: `Your ${source} stopped.`, fatal: false });
    });
    if (paused && source !== 'screen') await this.applyPaused(source, true);
    this.updateState();
    this.emit('localState', this.localState);
  }

  /**
   * Fits the camera's simulcast layers to its new capture size: new bitrates in place when
   * the layer count stays, else the camera is produced again with the right number of layers.
   */
  private async refitCamera(s: Session, producer: ms.Producer): Promise<void> {
    const track = producer.track;
    if (s.closed || producer.closed || !track || s.producers.get('camera') !== producer) return;
    const plan = refitCamera(this.cameraEncodings.get(producer) ?? [], captureSize(track));
    if (plan.action === 'keep') return;
    if (plan.action === 'update' && producer.rtpSender) {
      await updateEncodings(producer.rtpSender, plan.encodings);
      this.cameraEncodings.set(producer, plan.encodings);
      return;
    }
    s.producers.delete('camera');
    producer.close();
    await this.req(s, 'closeProducer', { producerId: producer.id }).catch(() => undefined);
    if (this.session === s && !s.closed && this.local.camera === track) {
      await this.produce(s, 'camera', track);
    }
  }

  private async applyPaused(source: 'mic' | 'camera', paused: boolean): Promise<void> {
    const s = this.session;
    const producer = s?.producers.get(source);
    if (!s || !producer || producer.closed) {
      const track = this.local[source];
      if (track) track.enabled = !paused;
      this.emit('localState', this.localState);
      return;
    }
    if (paused) producer.pause();
    else producer.resume();
    this.emit('localState', this.localState);
    try {
      await this.req(s, paused ? 'pauseProducer' : 'resumeProducer', { producerId: producer.id });
    } catch (err) {
      if (!s.closed) this.reportError(err, `Could not ${paused ? 'pause' : 'resume'} ${source}`);
    }
  }

  private async startScreenShare(): Promise<void> {
    const s = this.session;
    if (!s || this.phase !== 'joined' || this.screenPending) return;
    this.screenPending = true;
    let track: MediaStreamTrack | null;
    try {
      track = await getScreenTrack();
    } catch (err) {
      this.reportError(err, 'Could not share the screen');
      return;
    } finally {
      this.screenPending = false;
    }
    if (!track) return;
    if (this.session !== s || s.closed) {
      track.stop();
      return;
    }
    const screen = track;
    this.local.screen = screen;
    screen.addEventListener('ended', () => {
      if (this.local.screen === screen) void this.stopScreenShare();
    });
    this.emit('localState', this.localState);
    await this.produce(s, 'screen', screen);
  }

  private async stopScreenShare(): Promise<void> {
    const track = this.local.screen;
    if (!track) return;
    delete this.local.screen;
    track.stop();
    this.emit('localState', this.localState);
    const s = this.session;
    const producer = s?.producers.get('screen');
    if (!s || !producer) return;
    s.producers.delete('screen');
    producer.close();
    await this.req(s, 'closeProducer', { producerId: producer.id }).catch((err: unknown) => {
      if (!s.closed) this.reportError(err, 'Could not stop screen sharing');
    });
  }

  // --- remote peers and consumers ---

  private upsertPeer(info: PeerUpdate): void {
    if (info.peerId !== this.ownPeerId) this.emitPeer(this.peers.upsert(info));
  }

  private emitPeer(view: RemotePeerView | null): void {
    if (view) this.emit('peer', view);
  }

  private setProducerPaused(peerId: string, producerId: string, paused: boolean): void {
    for (const e of this.session?.consumers.values() ?? []) {
      if (e.producerId === producerId) e.producerPaused = paused;
    }
    this.emitPeer(this.peers.setPaused(peerId, producerId, paused));
  }

  private removePeer(peerId: string): void {
    const s = this.session;
    if (s) {
      for (const e of [...s.consumers.values()]) {
        if (e.peerId === peerId) this.removeConsumer(s, e.consumerId);
      }
    }
    if (this.peers.delete(peerId)) this.emit('peerRemoved', peerId);
  }

  /**
   * Consumes a producer and resumes it; `requested` is called once its resume is on its way
   * (or it failed). `made`: the consumer the join answer brought, resumed already.
   */
  private async consume(
    s: Session,
    peerId: string,
    producerId: string,
    requested?: () => void,
    made?: ConsumeResponse,
  ): Promise<void> {
    try {
      await this.consumeAndResume(s, peerId, producerId, requested, made);
    } finally {
      requested?.();
    }
  }

  private async consumeAndResume(
    s: Session,
    peerId: string,
    producerId: string,
    requested?: () => void,
    made?: ConsumeResponse,
  ): Promise<void> {
    const device = s.device;
    const transport = s.transports.recv;
    if (!device || !transport || s.consumedProducers.has(producerId)) return;
    if (!this.tokenClaims?.grants.subscribe) return;
    s.consumedProducers.add(producerId);
    let entry: ConsumerEntry | undefined;
    try {
      const res =
        made ??
        (await this.req(s, 'consume', {
          producerId,
          rtpCapabilities: device.rtpCapabilities as RequestData<'consume'>['rtpCapabilities'],
        }));
      if (s.closed) return;
      this.mark(made ? `joined with ${res.kind}` : `consume ack ${res.kind}`);
      entry = {
        consumerId: res.consumerId,
        producerId,
        peerId: res.peerId || peerId,
        kind: res.kind,
        source: res.appData.source,
        consumer: null,
        closed:
          s.closedConsumers.has(res.consumerId) ||
          s.closedProducers.has(producerId) ||
          !this.peers.has(res.peerId || peerId),
        resumed: Boolean(made),
        producerPaused: res.producerPaused,
      };
      s.consumers.set(entry.consumerId, entry);
      if (!entry.closed) {
        entry.consumer = await transport.consume({
          id: res.consumerId,
          producerId,
          kind: res.kind,
          rtpParameters: res.rtpParameters,
          appData: { peerId: entry.peerId, source: entry.source },
        });
        this.mark(`consumer ${res.kind}`);
      }
      if (entry.closed || s.closed) {
        entry.consumer?.close();
        s.consumers.delete(entry.consumerId);
        return;
      }
      const consumer = entry.consumer;
      if (!consumer) return;
      const consumerId = entry.consumerId;
      this.emitPeer(this.peers.setPaused(entry.peerId, producerId, res.producerPaused));
      consumer.on('trackended', () => this.removeConsumer(s, consumerId));
      consumer.on('transportclose', () => this.removeConsumer(s, consumerId));
      this.emit('trackAdded', {
        peerId: entry.peerId,
        consumerId,
        producerId,
        kind: entry.kind,
        source: entry.source,
        track: consumer.track,
      });
      // Bandwidth news about this consumer that came before it existed here.
      if (s.video.has(consumerId)) this.setRemoteVideo(consumerId, {});
      this.updateState();
      const resuming = made ? undefined : this.resumeConsumer(s, consumerId);
      requested?.();
      await resuming;
    } catch (err) {
      if (entry && !entry.consumer) s.consumers.delete(entry.consumerId);
      // Consumed already; only resuming it failed (resumption retries that).
      if (entry?.consumer && !entry.consumer.closed) return;
      s.consumedProducers.delete(producerId);
      // A producer that closed meanwhile is not worth an error.
      const gone =
        s.closedProducers.has(producerId) ||
        (err instanceof RequestError && err.code === 'not_found');
      if (!s.closed && !gone) this.reportError(err, 'Could not receive a participant’s media');
    }
  }

  /** Asks the server to start sending a consumer's media (consumers are created paused). */
  private async resumeConsumer(s: Session, consumerId: string): Promise<void> {
    try {
      await this.req(s, 'resumeConsumer', { consumerId });
      const entry = s.consumers.get(consumerId);
      this.mark(`resumed ${entry?.kind}`);
      if (entry) entry.resumed = true;
    } catch (err) {
      const gone = err instanceof RequestError && err.code === 'not_found';
      if (!s.closed && !gone) this.reportError(err, 'Could not receive a participant’s media');
    }
  }

  /** Records what the server forwards on a remote video and tells the UI once it is shown. */
  private setRemoteVideo(consumerId: string, patch: Partial<VideoState>): void {
    const s = this.session;
    if (!s) return;
    const state: VideoState = {
      ...(s.video.get(consumerId) ?? { paused: false, spatialLayer: null, temporalLayer: null }),
      ...patch,
    };
    s.video.set(consumerId, state);
    const entry = s.consumers.get(consumerId);
    if (!entry?.consumer || entry.closed || entry.kind !== 'video') return;
    this.emit('remoteVideo', {
      peerId: entry.peerId,
      consumerId,
      paused: state.paused,
      spatialLayer: state.spatialLayer,
    });
  }

  private removeConsumer(s: Session, consumerId: string): void {
    const entry = s.consumers.get(consumerId);
    if (!entry) {
      s.closedConsumers.add(consumerId);
      return;
    }
    entry.closed = true;
    if (!entry.consumer) return; // consume() in flight: it cleans up
    s.consumers.delete(consumerId);
    s.video.delete(consumerId);
    if (!entry.consumer.closed) entry.consumer.close();
    this.emit('trackRemoved', { peerId: entry.peerId, consumerId, kind: entry.kind });
  }

  // --- quality ---

  private startQualityPolling(s: Session): void {
    this.stopQualityPolling();
    this.qualityTimer = setInterval(() => void this.pollQuality(s), QUALITY_INTERVAL_MS);
  }

  private stopQualityPolling(): void {
    if (this.qualityTimer) clearInterval(this.qualityTimer);
    this.qualityTimer = null;
  }

  private async pollQuality(s: Session): Promise<void> {
    const perPeer = await sampleQuality(s);
    if (s.closed) return;
    for (const peerId of this.peers.ids()) {
      this.emit('quality', { peerId, reading: worst(perPeer.get(peerId) ?? []) });
    }
  }

  private reportError(err: unknown, context: string): void {
    const { code, message } = describeError(err);
    if (code === 'disconnected' && this.phase === 'reconnecting') {
      // Signalling dropped: the session is resumed (and re-synced) or rebuilt once it is back.
      console.info(`${context}: ${message}`);
      return;
    }
    console.error(context, err);
    this.emit('error', { code, message: `${context}: ${message}`, fatal: false });
  }
}

/** The pre-call check this tab ran for the consult, if any (for the record). */
function withPrecheck(consultId: string): { precheck?: Precheck } {
  const precheck = precheckFor(consultId);
  return precheck ? { precheck } : {};
}
