/**
 * Every setting of the gateway, read from environment variables by one zod schema.
 * Defaults give a working single-machine gateway; each bad value gets its own message.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { parseClusterSettings, type ClusterSettings } from './cluster/settings.js';

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const emptyToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);
const optionalString = z.preprocess(emptyToUndefined, z.string().optional());
const ipv4or6 = z.union([z.ipv4(), z.ipv6()], { error: 'must be an IPv4 or IPv6 address' });

function intIn(min: number, max: number, fallback: number) {
  return z.preprocess(
    emptyToUndefined,
    z.coerce
      .number({ error: `must be an integer between ${min} and ${max}` })
      .int({ error: `must be an integer between ${min} and ${max}` })
      .min(min, { error: `must be an integer between ${min} and ${max}` })
      .max(max, { error: `must be an integer between ${min} and ${max}` })
      .default(fallback),
  );
}

export const configSchema = z
  .object({
    /** Address the HTTP(S) + Socket.IO server listens on. */
    HOST: z.preprocess(emptyToUndefined, z.string().min(1).default('127.0.0.1')),
    /** HTTP(S) port; 0 picks a free one. */
    PORT: intIn(0, 65535, 80),
    /** PEM certificate and key; without them a non-loopback HOST gets a generated self-signed pair. */
    TLS_CERT: optionalString,
    TLS_KEY: optionalString,
    /** Secret for HS256 tokens; when unset one is generated once and kept in DATA_DIR. */
    JWT_SECRET: z.preprocess(
      emptyToUndefined,
      z.string().min(16, { error: 'must be at least 16 characters' }).optional(),
    ),
    /** Where the gateway keeps its files (generated secret, certificates, database). */
    DATA_DIR: z.preprocess(emptyToUndefined, z.string().default('data')),
    /** Address the mediasoup WebRtcServers bind to. Default: 127.0.0.1 for a loopback HOST, else 0.0.0.0. */
    RTC_LISTEN_IP: z.preprocess(emptyToUndefined, ipv4or6.optional()),
    /** Address given to browsers in ICE candidates (the public / 5G-facing address). */
    ANNOUNCED_IP: optionalString,
    /**
     * A second address the media ports listen on and announce as themselves, for browsers that
     * pair no loopback candidates (Firefox). `auto`: the first LAN address when media is on the
     * default loopback address; `none`: media on RTC_LISTEN_IP only.
     */
    RTC_LAN_IP: z.preprocess(
      emptyToUndefined,
      z
        .union([z.enum(['auto', 'none']), z.ipv4(), z.ipv6()], {
          error: 'must be auto, none, or an IPv4 or IPv6 address',
        })
        .default('auto'),
    ),
    /** Worker i listens on RTC_PORT_BASE + i, UDP and TCP. */
    RTC_PORT_BASE: intIn(1024, 65000, 40000),
    /** Number of mediasoup workers; default one per core. */
    WORKERS: intIn(1, 64, os.availableParallelism()),
    /** Consumers one worker carries before a consult's next participants go on another worker. */
    WORKER_MAX_CONSUMERS: intIn(1, 100_000, 500),
    /**
     * Scheduling priority (nice) of the mediasoup workers: below 0 they run before ordinary
     * processes, so a busy machine delays media less. Needs root or CAP_SYS_NICE; 0 leaves it.
     */
    WORKER_NICE: intIn(-20, 19, -10),
    LOG_LEVEL: z.preprocess(
      emptyToUndefined,
      z.enum(logLevels, { error: `must be one of ${logLevels.join(', ')}` }).default('info'),
    ),
    /** Log level of the mediasoup workers themselves. */
    MEDIASOUP_LOG_LEVEL: z.preprocess(
      emptyToUndefined,
      z.enum(['debug', 'warn', 'error', 'none']).default('warn'),
    ),
    /**
     * Per-transport bitrate limits, bits per second. A participant sends a 720p simulcast
     * camera (~2.2 Mbit/s) and may share a screen (up to ~2.5 Mbit/s at 1080p); a receiver's
     * estimate starts where a 720p top layer (1.5 Mbit/s) fits.
     */
    MAX_INCOMING_BITRATE: intIn(100_000, 100_000_000, 5_000_000),
    INITIAL_OUTGOING_BITRATE: intIn(100_000, 100_000_000, 2_000_000),
    /**
     * Where a new simulcast video consumer starts: straight on its preferred layer, or on its
     * lowest layer until its first key frame (a small key frame; no faster join measured on
     * loopback, for slow downlinks to try).
     */
    FIRST_FRAME_LAYER: z.enum(['lowest', 'preferred']).default('preferred'),
    /** SQLite database file; default DATA_DIR/gateway.db. */
    DATABASE_PATH: optionalString,
    /** postgres://user:password@host:port/db selects PostgreSQL instead of SQLite. */
    DATABASE_URL: z.preprocess(
      emptyToUndefined,
      z
        .string()
        .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
        .optional(),
    ),
    /** Lifetime of API access tokens, seconds. */
    ACCESS_TOKEN_TTL_SECONDS: intIn(60, 24 * 3600, 15 * 60),
    /** Lifetime of refresh tokens, seconds. */
    REFRESH_TOKEN_TTL_SECONDS: intIn(300, 365 * 24 * 3600, 30 * 24 * 3600),
    /** Lifetime of join grants (Socket.IO tokens, demo links, `npm run token`), seconds. */
    JOIN_TOKEN_TTL_SECONDS: intIn(60, 24 * 3600, 4 * 3600),
    /** Default lifetime of invite links, hours. */
    INVITE_TTL_HOURS: intIn(1, 24 * 30, 24),
    /** The lobby opens this many minutes before a consult's scheduled start. */
    LOBBY_OPEN_MINUTES: intIn(0, 24 * 60, 15),
    /** A guest the host denied may not wait in the lobby again for this long (seconds; 0: at once). */
    LOBBY_DENY_COOLDOWN_SECONDS: intIn(0, 24 * 3600, 300),
    /** Failed logins allowed per account from one address / per address within LOGIN_WINDOW_SECONDS before 429. */
    LOGIN_MAX_FAILURES_PER_ACCOUNT: intIn(1, 1000, 5),
    LOGIN_MAX_FAILURES_PER_IP: intIn(1, 10000, 20),
    LOGIN_WINDOW_SECONDS: intIn(1, 24 * 3600, 15 * 60),
    /** Failures on one account from all addresses in the window after which each address gets one try. */
    LOGIN_ACCOUNT_SLOWDOWN_FAILURES: intIn(1, 1_000_000, 50),
    /** Password checks (scrypt, on libuv's 4 threads) running at once; more get 429 at once. */
    LOGIN_MAX_CONCURRENT_CHECKS: intIn(1, 64, 2),
    /** scrypt cost (N, a power of two); 2^15 uses 32 MiB per hash. */
    SCRYPT_COST: z.preprocess(
      emptyToUndefined,
      z.coerce
        .number()
        .int()
        .refine((n) => n >= 1024 && n <= 2 ** 20 && (n & (n - 1)) === 0, {
          error: 'must be a power of two between 1024 and 1048576',
        })
        .default(2 ** 15),
    ),
    /** A participant whose connection drops keeps their place this long (seconds; 0: removed at once). */
    RECONNECT_GRACE_SECONDS: intIn(0, 600, 30),
    /** An emptied consult's router is kept this long for the next join (seconds; 0: closed at once). */
    ROUTER_WARM_SECONDS: intIn(0, 3600, 15),
    /** The network check's probe transport on the media server is closed this long after it opened. */
    NETCHECK_PROBE_SECONDS: intIn(1, 60, 15),
    /** Signalling events one connection may send per second on average, and at once. */
    SOCKET_EVENTS_PER_SECOND: intIn(1, 10_000, 50),
    SOCKET_EVENT_BURST: intIn(1, 100_000, 100),
    /** Chat messages one participant may send per CHAT_WINDOW_SECONDS on average, and at once. */
    CHAT_MESSAGES_PER_WINDOW: intIn(1, 10_000, 5),
    CHAT_WINDOW_SECONDS: intIn(1, 3600, 5),
    CHAT_BURST: intIn(1, 10_000, 10),
    /** Chat messages a joining participant gets with `join` (older ones: `chatHistory`). */
    CHAT_HISTORY_ON_JOIN: intIn(0, 1000, 50),
    /** Chat messages one consult may hold in all. */
    CHAT_MAX_PER_CONSULT: intIn(1, 1_000_000, 5000),
    /** Seconds between quality samples of each participant (stored in the record, shown live). */
    QUALITY_SAMPLE_SECONDS: intIn(1, 60, 5),
    /** Consult records are purged this many days after the consult ended; 0 keeps them forever. */
    RETENTION_DAYS: intIn(0, 36500, 0),
    /** Origins allowed to call the API from other sites (comma-separated); empty: same origin only. */
    CORS_ORIGINS: z.preprocess(
      (v) => (typeof v === 'string' ? v : ''),
      z
        .string()
        .transform((v) =>
          v
            .split(',')
            .map((o) => o.trim())
            .filter(Boolean),
        )
        .pipe(z.array(z.url({ error: 'must be a comma-separated list of origins' }))),
    ),
    /**
     * Which peers may name the client in X-Forwarded-For (Express `trust proxy`: `loopback`,
     * addresses/CIDRs, a hop count, `true`); `false` or `off` uses the TCP peer's address.
     */
    TRUST_PROXY: z.preprocess(
      (v) => (v === undefined || (typeof v === 'string' && v.trim() === '') ? 'loopback' : v),
      z
        .string()
        .trim()
        .transform((v): boolean | number | string =>
          v === 'false' || v === 'off'
            ? false
            : v === 'true'
              ? true
              : /^\d+$/.test(v)
                ? Number(v)
                : v,
        ),
    ),
    /** Base URL put in invite links (default: the URL the gateway listens on). */
    PUBLIC_URL: z.preprocess(emptyToUndefined, z.url({ error: 'must be a URL' }).optional()),
    /** SMTP server for e-mailing invite links (smtp:// or smtps://user:pass@host:port); unset: links are only shown. */
    SMTP_URL: z.preprocess(
      emptyToUndefined,
      z
        .url({ error: 'must be an smtp:// or smtps:// URL' })
        .refine((u) => /^smtps?:\/\//.test(u), { error: 'must be an smtp:// or smtps:// URL' })
        .optional(),
    ),
    /** Sender of invite e-mails. */
    SMTP_FROM: z.preprocess(
      emptyToUndefined,
      z.string().min(3).max(200).default('Telemed <no-reply@localhost>'),
    ),
    /** Bearer token for /metrics and the detail of /healthz; unset: only direct loopback clients see them. */
    METRICS_TOKEN: z.preprocess(
      emptyToUndefined,
      z.string().min(16, { error: 'must be at least 16 characters' }).optional(),
    ),
    /** Built browser client served at /. */
    CLIENT_DIR: z.preprocess(emptyToUndefined, z.string().default('client/dist')),
    /** Demo accounts and links (1/0); default: on for a loopback HOST only. */
    DEMO: z.preprocess(
      emptyToUndefined,
      z
        .enum(['1', '0', 'true', 'false', 'yes', 'no'], { error: 'must be 1 or 0' })
        .transform((v) => ['1', 'true', 'yes'].includes(v))
        .optional(),
    ),
    /** Consult id of the demo links printed at start (demo mode only); empty string disables them. */
    DEMO_CONSULT_ID: z.preprocess((v) => (v === undefined ? 'demo' : v), z.string().max(128)),
  })
  .superRefine((c, ctx) => {
    if (c.RTC_PORT_BASE + c.WORKERS - 1 > 65535) {
      ctx.addIssue({
        code: 'custom',
        path: ['RTC_PORT_BASE'],
        message: `with ${c.WORKERS} workers the ports run past 65535`,
      });
    }
  });

type RawConfig = z.infer<typeof configSchema>;

export interface Config {
  host: string;
  port: number;
  tls: { cert: string; key: string } | 'self-signed' | null;
  jwtSecret: string;
  dataDir: string;
  rtc: {
    listenIp: string;
    announcedIp: string | undefined;
    /** Also listened on and announced as itself (Firefox on one machine); see RTC_LAN_IP. */
    lanIp: string | undefined;
    portBase: number;
    maxIncomingBitrate: number;
    initialOutgoingBitrate: number;
    firstFrameLayer: RawConfig['FIRST_FRAME_LAYER'];
  };
  workers: number;
  /** Consumers one worker carries before a consult spreads to another (WORKER_MAX_CONSUMERS). */
  workerMaxConsumers: number;
  /** The media workers' nice value (WORKER_NICE); 0 leaves them at the inherited priority. */
  workerNice: number;
  logLevel: RawConfig['LOG_LEVEL'];
  mediasoupLogLevel: RawConfig['MEDIASOUP_LOG_LEVEL'];
  clientDir: string;
  /** Demo mode: demo accounts on an empty database and demo links at start. */
  demo: boolean;
  demoConsultId: string | null;
  databasePath: string;
  /** PostgreSQL connection URL; when set, the store is PostgreSQL and databasePath is unused. */
  databaseUrl?: string;
  /** This node's id: a starting node marks only the live consults it hosted as interrupted. */
  nodeId: string;
  auth: {
    accessTtlSeconds: number;
    refreshTtlSeconds: number;
    joinTtlSeconds: number;
    scryptCost: number;
    loginMaxFailuresPerAccount: number;
    loginMaxFailuresPerIp: number;
    loginAccountSlowdownFailures: number;
    loginMaxConcurrentChecks: number;
    loginWindowSeconds: number;
  };
  consults: { lobbyOpenMinutes: number; inviteTtlHours: number; lobbyDenyCooldownSeconds: number };
  corsOrigins: string[];
  trustProxy: boolean | number | string;
  metricsToken: string | undefined;
  publicUrl: string | undefined;
  /** Invite e-mail: the SMTP server (unset: no e-mail is sent) and the sender. */
  smtp: { url: string | undefined; from: string };
  records: { sampleSeconds: number; retentionDays: number };
  reconnectGraceSeconds: number;
  routerWarmSeconds: number;
  netcheckProbeSeconds: number;
  signalling: SignallingLimits;
  /** Cluster mode (REDIS_URL set): this node's id, Redis, pipe transports; null on one node. */
  cluster: ClusterSettings | null;
}

/** Per-connection and per-participant limits of the signalling server. */
export interface SignallingLimits {
  eventsPerSecond: number;
  eventBurst: number;
  chat: { perSecond: number; burst: number; historyOnJoin: number; maxPerConsult: number };
}

export class ConfigError extends Error {
  constructor(public readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Settings whose values are never repeated in an error message. */
const SECRET_SETTINGS = new Set(['JWT_SECRET', 'METRICS_TOKEN']);

/** True for an address only this machine can reach: localhost, 127.0.0.0/8, ::1. */
export function isLoopback(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  if (isIPv4(v4)) return v4.startsWith('127.');
  // The URL parser writes an IPv6 address in its shortest form (0:0:0:0:0:0:0:1 → ::1).
  return isIPv6(h) && new URL(`http://[${h}]/`).hostname === '[::1]';
}

/** Parses the environment into a Config, or throws ConfigError listing every bad value. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = configSchema.safeParse(env);
  const problems = parsed.success
    ? []
    : parsed.error.issues.map((issue) => {
        const key = String(issue.path[0] ?? '');
        const shown = key && env[key] !== undefined && !SECRET_SETTINGS.has(key);
        const given = shown ? ` (got ${JSON.stringify(env[key])})` : '';
        return `${key}: ${issue.message}${given}`;
      });
  // Checked on the raw values so it is reported even when other values are bad too.
  problems.push(...parseClusterSettings(env, undefined).problems);
  if (Boolean(env.TLS_CERT?.trim()) !== Boolean(env.TLS_KEY?.trim())) {
    problems.push(
      `${env.TLS_CERT?.trim() ? 'TLS_KEY' : 'TLS_CERT'}: TLS_CERT and TLS_KEY must be given together`,
    );
  }
  if (!parsed.success || problems.length) throw new ConfigError(problems);
  const c = parsed.data;
  const dataDir = path.resolve(c.DATA_DIR);
  const loopback = isLoopback(c.HOST);
  const listenIp = c.RTC_LISTEN_IP ?? (loopback ? '127.0.0.1' : '0.0.0.0');
  let announcedIp = c.ANNOUNCED_IP;
  if (!announcedIp && (listenIp === '0.0.0.0' || listenIp === '::')) {
    announcedIp = firstLanAddress();
    if (!announcedIp) {
      throw new ConfigError([
        `ANNOUNCED_IP: RTC_LISTEN_IP is ${listenIp} and no LAN address was found; set the address browsers reach`,
      ]);
    }
  }
  const wildcard = listenIp === '0.0.0.0' || listenIp === '::';
  if (wildcard && c.RTC_LAN_IP !== 'auto' && c.RTC_LAN_IP !== 'none') {
    throw new ConfigError([
      `RTC_LAN_IP: RTC_LISTEN_IP ${listenIp} already listens on every address; unset RTC_LAN_IP`,
    ]);
  }
  let lanIp: string | undefined;
  if (c.RTC_LAN_IP === 'auto') {
    // Only the untouched loopback default gets a LAN address: explicit media settings are kept.
    const defaultLoopback = !c.RTC_LISTEN_IP && !c.ANNOUNCED_IP && loopback;
    lanIp = defaultLoopback ? firstLanAddress() : undefined;
  } else if (c.RTC_LAN_IP !== 'none') {
    lanIp = c.RTC_LAN_IP;
  }
  if (lanIp === listenIp) lanIp = undefined;
  const cluster = parseClusterSettings(env, { listenIp, announcedIp });
  if (cluster.problems.length) throw new ConfigError(cluster.problems);
  return {
    host: c.HOST,
    port: c.PORT,
    tls:
      c.TLS_CERT && c.TLS_KEY
        ? { cert: c.TLS_CERT, key: c.TLS_KEY }
        : loopback
          ? null
          : 'self-signed',
    jwtSecret: c.JWT_SECRET ?? persistentSecret(dataDir),
    dataDir,
    rtc: {
      listenIp,
      announcedIp,
      lanIp,
      portBase: c.RTC_PORT_BASE,
      maxIncomingBitrate: c.MAX_INCOMING_BITRATE,
      initialOutgoingBitrate: c.INITIAL_OUTGOING_BITRATE,
      firstFrameLayer: c.FIRST_FRAME_LAYER,
    },
    workers: c.WORKERS,
    workerMaxConsumers: c.WORKER_MAX_CONSUMERS,
    workerNice: c.WORKER_NICE,
    logLevel: c.LOG_LEVEL,
    mediasoupLogLevel: c.MEDIASOUP_LOG_LEVEL,
    clientDir: path.resolve(c.CLIENT_DIR),
    demo: c.DEMO ?? loopback,
    demoConsultId: c.DEMO_CONSULT_ID || null,
    databasePath: c.DATABASE_PATH
      ? path.resolve(c.DATABASE_PATH)
      : path.join(dataDir, 'gateway.db'),
    ...(c.DATABASE_URL ? { databaseUrl: c.DATABASE_URL } : {}),
    // NODE_ID is read with the cluster settings (one setting, one check): it names this node
    // in the cluster and in the store's record of which node hosts each live consult.
    nodeId: cluster.nodeId,
    auth: {
      accessTtlSeconds: c.ACCESS_TOKEN_TTL_SECONDS,
      refreshTtlSeconds: c.REFRESH_TOKEN_TTL_SECONDS,
      joinTtlSeconds: c.JOIN_TOKEN_TTL_SECONDS,
      scryptCost: c.SCRYPT_COST,
      loginMaxFailuresPerAccount: c.LOGIN_MAX_FAILURES_PER_ACCOUNT,
      loginMaxFailuresPerIp: c.LOGIN_MAX_FAILURES_PER_IP,
      loginAccountSlowdownFailures: c.LOGIN_ACCOUNT_SLOWDOWN_FAILURES,
      loginMaxConcurrentChecks: c.LOGIN_MAX_CONCURRENT_CHECKS,
      loginWindowSeconds: c.LOGIN_WINDOW_SECONDS,
    },
    consults: {
      lobbyOpenMinutes: c.LOBBY_OPEN_MINUTES,
      inviteTtlHours: c.INVITE_TTL_HOURS,
      lobbyDenyCooldownSeconds: c.LOBBY_DENY_COOLDOWN_SECONDS,
    },
    corsOrigins: c.CORS_ORIGINS,
    trustProxy: c.TRUST_PROXY,
    metricsToken: c.METRICS_TOKEN,
    records: { sampleSeconds: c.QUALITY_SAMPLE_SECONDS, retentionDays: c.RETENTION_DAYS },
    reconnectGraceSeconds: c.RECONNECT_GRACE_SECONDS,
    routerWarmSeconds: c.ROUTER_WARM_SECONDS,
    netcheckProbeSeconds: c.NETCHECK_PROBE_SECONDS,
    signalling: {
      eventsPerSecond: c.SOCKET_EVENTS_PER_SECOND,
      eventBurst: c.SOCKET_EVENT_BURST,
      chat: {
        perSecond: c.CHAT_MESSAGES_PER_WINDOW / c.CHAT_WINDOW_SECONDS,
        burst: c.CHAT_BURST,
        historyOnJoin: c.CHAT_HISTORY_ON_JOIN,
        maxPerConsult: c.CHAT_MAX_PER_CONSULT,
      },
    },
    publicUrl: c.PUBLIC_URL?.replace(/\/+$/, ''),
    cluster: cluster.settings,
    smtp: { url: c.SMTP_URL, from: c.SMTP_FROM },
  };
}

function firstLanAddress(): string | undefined {
  for (const addrs of Object.values(os.networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (a.family === 'IPv4' && !a.internal) return a.address;
    }
  }
  return undefined;
}

/** A random secret generated on first use and kept (mode 0600) so tokens survive restarts. */
function persistentSecret(dataDir: string): string {
  const file = path.join(dataDir, 'jwt-secret');
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const secret = randomBytes(32).toString('base64url');
  try {
    fs.writeFileSync(file, secret + '\n', { mode: 0o600, flag: 'wx' });
    return secret;
  } catch (err) {
    // Another process (the token CLI, a second start) wrote it first: use theirs.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST')
      return fs.readFileSync(file, 'utf8').trim();
    throw err;
  }
}
