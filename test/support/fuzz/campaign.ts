/**
 * A signalling fuzz campaign against a running gateway: a host, an admitted participant and a
 * guest waiting in the lobby send every client event with hostile payloads at once, while
 * unauthenticated connections keep knocking. Afterwards it checks that the server still serves
 * and that nothing changed that the senders had no right to change.
 */
import Database from 'better-sqlite3';
import { mintJoinToken } from '../../../src/auth/tokens.js';
import { io } from 'socket.io-client';
import { clientEventNames, clientEvents, type ClientEvent } from '../../../src/protocol/index.js';
import { errorCodes, type JoinResponse } from '../../../src/protocol/index.js';
import type { Peer } from '../../../src/sfu/Peer.js';
import { audioRtpParameters, connectClient, type TestClient } from '../client.js';
import { joinAdmitted, joinAsHost } from '../consult.js';
import type { TestGateway } from '../gateway.js';
import { HUGE_STRING, PayloadGenerator, Prng, type IdPool } from './payloads.js';

/**
 * Gateway settings for a fuzz run: the per-socket and chat rate limits (tested on their own in
 * limits.test.ts) are lifted, so hostile payloads reach the parsers and handlers behind them.
 */
export const FUZZ_GATEWAY_ENV: Record<string, string> = {
  SOCKET_EVENTS_PER_SECOND: '10000',
  SOCKET_EVENT_BURST: '100000',
  CHAT_MESSAGES_PER_WINDOW: '10000',
  CHAT_WINDOW_SECONDS: '1',
  CHAT_BURST: '10000',
  CHAT_MAX_PER_CONSULT: '1000000',
};

export interface FuzzOptions {
  count: number;
  seed: number;
  /** Messages awaiting their ack at any time, across all sockets. */
  concurrency?: number;
  /** Every this many messages, an unauthenticated connection attempt. */
  knockEvery?: number;
  onProgress?: (sent: number) => void;
}

export interface FuzzReport {
  seed: number;
  sent: number;
  sentByEvent: Record<string, number>;
  /** 'ok', or the error code, for every ack received. */
  acksByCode: Record<string, number>;
  /** Messages sent without a callable ack (none expected). */
  unacked: number;
  unauthenticatedAttempts: number;
  durationMs: number;
  messagesPerSecond: number;
  /** Peak resident memory of this process (gateway and fuzzing clients) and of the media worker. */
  peakRssBytes: number;
  workerPeakRssBytes: number | null;
  /** Everything that went wrong; empty means the server kept serving and kept its state. */
  problems: string[];
}

/** Codes an ack may carry: the documented ones but `internal` (a handler that broke), plus the rate limiter's. */
const ACCEPTED_CODES = new Set<string>([
  ...errorCodes.filter((c) => c !== 'internal'),
  'rate_limited',
]);

type ActorName = 'host' | 'participant' | 'lobby';

interface Actor {
  name: ActorName;
  client: TestClient;
  /** Valid payloads of these events would end the fixture legitimately: never sent valid. */
  protectedEvent(event: ClientEvent, payload: Record<string, unknown> | undefined): boolean;
  ok: Partial<Record<ClientEvent, number>>;
}

type Shape = 'normal' | 'noAck' | 'badAck' | 'extraArg' | 'noPayload';

const dbCounts = (file: string) => {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const n = (table: string) =>
      (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
    const statuses = db.prepare('SELECT id, status FROM consults ORDER BY id').all();
    return { users: n('users'), consults: n('consults'), invites: n('invites'), statuses };
  } finally {
    db.close();
  }
};

const pollutedKeys = () =>
  Object.getOwnPropertyNames(Object.prototype).filter((k) =>
    ['polluted', 'isAdmin', 'role', 'a'].includes(k),
  );

export async function runFuzz(gw: TestGateway, opts: FuzzOptions): Promise<FuzzReport> {
  const rng = new Prng(opts.seed);
  const concurrency = opts.concurrency ?? 24;
  const knockEvery = opts.knockEvery ?? 250;
  const problems: string[] = [];
  const sockets: TestClient[] = [];

  // --- the fixture: two consults, media flowing in each ---
  const hostUser = await gw.user('doctor', 'Fuzz Host');
  const participantUser = await gw.user('specialist', 'Fuzz Participant');
  const lobbyUser = await gw.user('specialist', 'Fuzz Waiting');
  const otherHostUser = await gw.user('doctor', 'Other Host');
  const consult = await gw.consult(hostUser, [participantUser, lobbyUser]);
  const other = await gw.consult(otherHostUser);

  const host = await joinAsHost(gw, consult.id, await gw.grant(consult.id, hostUser));
  const otherHost = await joinAsHost(gw, other.id, await gw.grant(other.id, otherHostUser));
  sockets.push(host.client, otherHost.client);
  const participant = await joinAdmitted(
    gw,
    consult.id,
    await gw.grant(consult.id, participantUser),
    host.client,
  );
  sockets.push(participant.client);
  const lobbyClient = await connectClient(gw.url, await gw.grant(consult.id, lobbyUser));
  sockets.push(lobbyClient);
  const waiting = await lobbyClient.call<{ peerId: string }>('join', { consultId: consult.id });

  const publish = async (c: TestClient, ssrc: number) => {
    const t = await c.call<{ id: string }>('createTransport', { direction: 'send' });
    const p = await c.call<{ producerId: string }>('produce', {
      transportId: t.id,
      kind: 'audio',
      rtpParameters: audioRtpParameters(ssrc),
      appData: { source: 'mic' },
    });
    return { transportId: t.id, producerId: p.producerId };
  };
  const hostMedia = await publish(host.client, 1111);
  const otherMedia = await publish(otherHost.client, 2222);
  const recv = await participant.client.call<{ id: string }>('createTransport', {
    direction: 'recv',
  });
  const consumed = await participant.client.call<{ consumerId: string }>('consume', {
    producerId: hostMedia.producerId,
    rtpCapabilities: (host.join as JoinResponse).routerRtpCapabilities,
  });

  const ids: IdPool = {
    consultIds: [consult.id, other.id],
    peerIds: [host.join.peerId, participant.join.peerId, waiting.peerId, otherHost.join.peerId],
    transportIds: [hostMedia.transportId, otherMedia.transportId, recv.id],
    producerIds: [hostMedia.producerId, otherMedia.producerId],
    consumerIds: [consumed.consumerId],
  };
  const gen = new PayloadGenerator(rng, ids);
  const localPeers = new Set([participant.join.peerId, waiting.peerId]);
  const peerIdOf = (p: Record<string, unknown> | undefined) => String(p?.peerId ?? '');

  const actors: Actor[] = [
    {
      name: 'host',
      client: host.client,
      protectedEvent: (e, p) =>
        e === 'endConsult' ||
        e === 'leave' ||
        (['admit', 'deny', 'removePeer'].includes(e) && localPeers.has(peerIdOf(p))),
      ok: {},
    },
    {
      name: 'participant',
      client: participant.client,
      protectedEvent: (e) => e === 'leave',
      ok: {},
    },
    { name: 'lobby', client: lobbyClient, protectedEvent: (e) => e === 'leave', ok: {} },
  ];

  const room = () => gw.rooms.rooms.get(consult.id);
  const otherRoom = () => gw.rooms.rooms.get(other.id);
  const totals = () => gw.rooms.counts();
  const before = { counts: totals(), db: dbCounts(gw.config.databasePath) };

  const serverDisconnects: string[] = [];
  for (const a of [...actors, { name: 'otherHost', client: otherHost.client }]) {
    a.client.socket.on('disconnect', (reason) => {
      if (reason !== 'io client disconnect') serverDisconnects.push(`${a.name}: ${reason}`);
    });
  }

  // --- the campaign ---
  const sentByEvent: Record<string, number> = {};
  const acksByCode: Record<string, number> = {};
  let sent = 0;
  let unacked = 0;
  let knocks = 0;
  const inFlight = new Set<Promise<void>>();
  const started = performance.now();

  const send = (actor: Actor, event: ClientEvent): boolean => {
    const shape = rng.pick<Shape>([
      'normal',
      'normal',
      'normal',
      'normal',
      'noAck',
      'badAck',
      'extraArg',
      'noPayload',
    ]);
    const payload = shape === 'noPayload' ? undefined : gen.payload(event);
    if (payload !== undefined && JSON.stringify(payload ?? null).length > HUGE_STRING + 20_000)
      return false;
    const parsed = clientEvents[event].request.safeParse(payload);
    const argsValid = shape === 'normal' || shape === 'noAck' || shape === 'noPayload';
    if (parsed.success && argsValid && actor.protectedEvent(event, parsed.data as never))
      return false;

    sentByEvent[event] = (sentByEvent[event] ?? 0) + 1;
    sent++;
    const emit = actor.client.socket.emit.bind(actor.client.socket) as (...args: unknown[]) => void;
    const args: unknown[] = shape === 'noPayload' ? [] : [payload];
    if (shape === 'noAck' || shape === 'badAck') {
      if (shape === 'badAck') args.push(rng.pick([42, 'ack', null, { fn: true }]));
      emit(event, ...args);
      unacked++;
      return true;
    }
    if (shape === 'extraArg') args.push(gen.value(1));
    const done = new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        problems.push(`${actor.name} ${event}: no ack within 15 s`);
        resolve();
      }, 15_000);
      emit(event, ...args, (res: unknown) => {
        clearTimeout(timer);
        checkAck(actor, event, shape, res);
        resolve();
      });
    });
    inFlight.add(done);
    void done.then(() => inFlight.delete(done));
    return true;
  };

  const checkAck = (actor: Actor, event: ClientEvent, shape: Shape, res: unknown) => {
    const ack = res as {
      ok?: unknown;
      data?: unknown;
      error?: { code?: unknown; message?: unknown };
    };
    if (ack?.ok === true && ack.data !== undefined) {
      acksByCode.ok = (acksByCode.ok ?? 0) + 1;
      actor.ok[event] = (actor.ok[event] ?? 0) + 1;
      if (shape === 'extraArg') problems.push(`${actor.name} ${event}: accepted an extra argument`);
      return;
    }
    const code = String(ack?.error?.code);
    acksByCode[code] = (acksByCode[code] ?? 0) + 1;
    if (ack?.ok !== false || !ACCEPTED_CODES.has(code) || typeof ack.error?.message !== 'string') {
      if (problems.length < 50)
        problems.push(
          `${actor.name} ${event}: unexpected ack ${JSON.stringify(res).slice(0, 300)}`,
        );
    }
  };

  const knock = async () => {
    knocks++;
    const token = rng.pick([
      undefined,
      '',
      'x',
      gen.string().slice(0, 2000),
      // Well-formed, for this consult, as its host, but signed with another key.
      mintJoinToken('another-secret-0123456789', {
        consultId: consult.id,
        userId: hostUser.id,
        role: 'doctor',
        name: hostUser.name,
        grants: { publish: true, subscribe: true, admit: true, end: true },
        ttlSeconds: 600,
      }),
    ]);
    const socket = io(gw.url, {
      auth: token === undefined ? {} : { token },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
    });
    const outcome = await new Promise<string>((resolve) => {
      socket.once('connect', () => resolve('connected'));
      socket.once('connect_error', (err) =>
        resolve(String((err as { data?: { code?: string } }).data?.code)),
      );
    });
    socket.close();
    if (outcome === 'connected' || !ACCEPTED_CODES.has(outcome))
      problems.push(`unauthenticated connection: ${outcome}`);
  };

  let i = 0;
  while (sent < opts.count && serverDisconnects.length === 0) {
    const event = clientEventNames[i % clientEventNames.length]!;
    i++;
    if (!send(rng.pick(actors), event)) continue;
    if (sent % knockEvery === 0) await knock();
    if (sent % 1000 === 0) opts.onProgress?.(sent);
    if (inFlight.size >= concurrency) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  const durationMs = performance.now() - started;

  // --- afterwards: the server serves, and kept what it had to keep ---
  if (serverDisconnects.length)
    problems.push(`server disconnected: ${serverDisconnects.join(', ')}`);
  const polluted = pollutedKeys();
  if (polluted.length) problems.push(`Object.prototype polluted: ${polluted.join(', ')}`);

  const r = room();
  const peers = r ? [...r.peers.keys()].sort() : [];
  const expectedPeers = [host.join.peerId, participant.join.peerId].sort();
  if (JSON.stringify(peers) !== JSON.stringify(expectedPeers))
    problems.push(
      `participants changed: ${JSON.stringify(peers)} (expected ${JSON.stringify(expectedPeers)})`,
    );
  const otherPeer: Peer | undefined = otherRoom()?.peers.get(otherHost.join.peerId);
  const otherProducer = otherPeer?.producers.get(otherMedia.producerId);
  if (!otherProducer || otherProducer.paused || otherProducer.closed)
    problems.push('the other consult’s producer was closed or paused by someone outside it');
  if (otherPeer?.transports.size !== 1) problems.push('the other consult’s transports changed');
  const okOf = (event: ClientEvent) => actors.reduce((n, a) => n + (a.ok[event] ?? 0), 0);
  const hostPeer = r?.peers.get(host.join.peerId);
  const hostOk = actors[0]!.ok;
  const hostMayHaveClosed = Boolean(hostOk.closeProducer || hostOk.createTransport);
  if (!hostMayHaveClosed && !hostPeer?.producers.has(hostMedia.producerId))
    problems.push('the host’s microphone producer was closed by someone else');
  const after = totals();
  for (const [what, event] of [
    ['transports', 'createTransport'],
    ['producers', 'produce'],
    ['consumers', 'consume'],
  ] as const) {
    if (after[what] > before.counts[what] + okOf(event))
      problems.push(
        `${what}: ${after[what]}, more than ${before.counts[what]} + ${okOf(event)} created`,
      );
  }
  if (lobbyClient.received('admitted').length || lobbyClient.received('denied').length)
    problems.push('the waiting guest was admitted or denied by someone without the right');
  const db = dbCounts(gw.config.databasePath);
  if (JSON.stringify(db) !== JSON.stringify(before.db))
    problems.push(`database changed: ${JSON.stringify(before.db)} → ${JSON.stringify(db)}`);

  // A newcomer is served as usual.
  try {
    const freshHost = await gw.user('doctor', 'Fresh Host');
    const fresh = await gw.consult(freshHost);
    const newcomer = await joinAsHost(gw, fresh.id, await gw.grant(fresh.id, freshHost));
    sockets.push(newcomer.client);
    await newcomer.client.call('createTransport', { direction: 'send' });
    const health = await fetch(`${gw.url}/healthz`);
    if (health.status !== 200) problems.push(`/healthz answered ${health.status}`);
  } catch (err) {
    problems.push(`a fresh client could not join afterwards: ${(err as Error).message}`);
  }

  let workerPeakRssBytes: number | null = null;
  try {
    workerPeakRssBytes = (await gw.pool.slots[0]!.worker.getResourceUsage()).ru_maxrss * 1024;
  } catch {
    problems.push('the media worker does not answer');
  }
  for (const s of sockets) s.close();

  return {
    seed: opts.seed,
    sent,
    sentByEvent,
    acksByCode,
    unacked,
    unauthenticatedAttempts: knocks,
    durationMs: Math.round(durationMs),
    messagesPerSecond: Math.round(sent / (durationMs / 1000)),
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    workerPeakRssBytes,
    problems,
  };
}
