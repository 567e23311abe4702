/**
 * Settings of cluster mode, read from the same environment as the rest of the config.
 * `REDIS_URL` switches cluster mode on; without it the gateway is one node, as before.
 */
import os from 'node:os';
import { z } from 'zod';

const emptyToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);
const ip = z.union([z.ipv4(), z.ipv6()], { error: 'must be an IPv4 or IPv6 address' });

function port(fallback: number) {
  return z.preprocess(
    emptyToUndefined,
    z.coerce
      .number({ error: 'must be a port between 1024 and 65535' })
      .int({ error: 'must be a port between 1024 and 65535' })
      .min(1024, { error: 'must be a port between 1024 and 65535' })
      .max(65535, { error: 'must be a port between 1024 and 65535' })
      .default(fallback),
  );
}

/** A whole number from `min` to `max`, `fallback` when unset. */
function integer(min: number, max: number, fallback: number) {
  const error = `must be an integer between ${min} and ${max}`;
  return z.preprocess(
    emptyToUndefined,
    z.coerce
      .number({ error })
      .int({ error })
      .min(min, { error })
      .max(max, { error })
      .default(fallback),
  );
}

export const clusterSchema = z.object({
  /** redis:// or rediss:// URL of the cluster's Redis; set, it turns cluster mode on. */
  REDIS_URL: z.preprocess(
    emptyToUndefined,
    z.url({ protocol: /^rediss?$/, error: 'must be a redis:// or rediss:// URL' }).optional(),
  ),
  /** This node's name in the cluster (unique per node); default: the host name. */
  NODE_ID: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,64}$/, {
        error: 'must be 1-64 letters, digits, dots, dashes or underscores',
      })
      .default(() =>
        os
          .hostname()
          .replace(/[^A-Za-z0-9._-]/g, '-')
          .slice(0, 64),
      ),
  ),
  /** A node silent (no heartbeat) this long is dead; it heartbeats every third of it. */
  NODE_DEAD_AFTER_SECONDS: integer(1, 600, 15),
  /** SIGTERM or `npm run drain`: the node exits once its participants moved, or after this long. */
  DRAIN_TIMEOUT_SECONDS: integer(0, 3600, 60),
  /** Address the pipe transports to other nodes bind to; default: RTC_LISTEN_IP. */
  PIPE_LISTEN_IP: z.preprocess(emptyToUndefined, ip.optional()),
  /** Address other nodes send pipe media to; default: ANNOUNCED_IP, else PIPE_LISTEN_IP. */
  PIPE_ANNOUNCED_IP: z.preprocess(emptyToUndefined, ip.optional()),
  /** UDP port range of the pipe transports (one port per pipe; open it between the nodes). */
  PIPE_PORT_MIN: port(42000),
  PIPE_PORT_MAX: port(42999),
  /** A pipe link to another node that carries nothing any more stays open this long for the next one. */
  PIPE_LINGER_SECONDS: integer(0, 3600, 30),
  /**
   * A producer piped from another node that nobody here consumes (piped ahead of a join, or
   * its last consumer here went) stays piped this long for the next consumer.
   */
  PIPE_HOLD_SECONDS: integer(0, 600, 10),
});

export interface ClusterSettings {
  redisUrl: string;
  nodeId: string;
  deadAfterMs: number;
  /** How long a draining node waits for its participants to move before it stops anyway. */
  drainTimeoutMs: number;
  pipe: { listenIp: string; announcedIp: string | undefined; portMin: number; portMax: number };
  /** How long an unused pipe link stays open for the consult's next piped producer. */
  pipeLingerMs: number;
  /** How long a producer piped here with no consumer here stays piped for the next one. */
  pipeHoldMs: number;
}

/** What the cluster settings need from the media settings they default to. */
export interface RtcAddresses {
  listenIp: string;
  announcedIp: string | undefined;
}

/**
 * Parses the cluster settings: `settings` is null without REDIS_URL (one node); `problems`
 * lists every bad value in the config loader's format.
 */
export function parseClusterSettings(
  env: NodeJS.ProcessEnv,
  rtc: RtcAddresses | undefined,
): { settings: ClusterSettings | null; nodeId: string; problems: string[] } {
  const parsed = clusterSchema.safeParse(env);
  if (!parsed.success) {
    return {
      settings: null,
      nodeId: '',
      problems: parsed.error.issues.map((issue) => {
        const key = String(issue.path[0] ?? '');
        const given =
          key === 'REDIS_URL' || env[key] === undefined ? '' : ` (got ${JSON.stringify(env[key])})`;
        return `${key}: ${issue.message}${given}`;
      }),
    };
  }
  const c = parsed.data;
  const problems: string[] = [];
  if (c.PIPE_PORT_MIN > c.PIPE_PORT_MAX) {
    problems.push(`PIPE_PORT_MIN: must not be above PIPE_PORT_MAX (${c.PIPE_PORT_MAX})`);
  }
  if (!c.REDIS_URL || !rtc) return { settings: null, nodeId: c.NODE_ID, problems };
  const listenIp = c.PIPE_LISTEN_IP ?? rtc.listenIp;
  const wildcard = listenIp === '0.0.0.0' || listenIp === '::';
  const announcedIp = c.PIPE_ANNOUNCED_IP ?? (wildcard ? rtc.announcedIp : undefined);
  if (wildcard && !announcedIp) {
    problems.push(
      `PIPE_ANNOUNCED_IP: pipe transports listen on ${listenIp}; set the address other nodes reach this one at`,
    );
  }
  return {
    settings: {
      redisUrl: c.REDIS_URL,
      nodeId: c.NODE_ID,
      deadAfterMs: c.NODE_DEAD_AFTER_SECONDS * 1000,
      drainTimeoutMs: c.DRAIN_TIMEOUT_SECONDS * 1000,
      pipe: { listenIp, announcedIp, portMin: c.PIPE_PORT_MIN, portMax: c.PIPE_PORT_MAX },
      pipeLingerMs: c.PIPE_LINGER_SECONDS * 1000,
      pipeHoldMs: c.PIPE_HOLD_SECONDS * 1000,
    },
    nodeId: c.NODE_ID,
    problems,
  };
}
