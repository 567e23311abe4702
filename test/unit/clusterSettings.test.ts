import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

const base = () => ({ DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'gw-cluster-config-')) });

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig({ ...base(), ...env });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('cluster settings', () => {
  it('leaves cluster mode off without REDIS_URL', () => {
    expect(loadConfig(base()).cluster).toBeNull();
  });

  it('turns cluster mode on with REDIS_URL, with defaults from the media settings', () => {
    const c = loadConfig({ ...base(), REDIS_URL: 'redis://10.0.0.5:6379' });
    expect(c.cluster).toEqual({
      redisUrl: 'redis://10.0.0.5:6379',
      nodeId: os
        .hostname()
        .replace(/[^A-Za-z0-9._-]/g, '-')
        .slice(0, 64),
      deadAfterMs: 15_000,
      drainTimeoutMs: 60_000,
      pipe: { listenIp: '127.0.0.1', announcedIp: undefined, portMin: 42000, portMax: 42999 },
      pipeLingerMs: 30_000,
      pipeHoldMs: 10_000,
    });
  });

  it('reads the node id, silence limit and pipe addresses', () => {
    const c = loadConfig({
      ...base(),
      HOST: '0.0.0.0',
      ANNOUNCED_IP: '203.0.113.7',
      REDIS_URL: 'rediss://:pw@redis.internal:6380',
      NODE_ID: 'county-hospital-1',
      NODE_DEAD_AFTER_SECONDS: '5',
      DRAIN_TIMEOUT_SECONDS: '0',
      PIPE_LISTEN_IP: '0.0.0.0',
      PIPE_ANNOUNCED_IP: '10.0.0.11',
      PIPE_PORT_MIN: '43000',
      PIPE_PORT_MAX: '43100',
      PIPE_LINGER_SECONDS: '0',
      PIPE_HOLD_SECONDS: '4',
    });
    expect(c.cluster).toMatchObject({
      nodeId: 'county-hospital-1',
      deadAfterMs: 5000,
      drainTimeoutMs: 0,
      pipe: { listenIp: '0.0.0.0', announcedIp: '10.0.0.11', portMin: 43000, portMax: 43100 },
      pipeLingerMs: 0,
      pipeHoldMs: 4000,
    });
    // Pipes on every address default to the browsers' announced address.
    const d = loadConfig({
      ...base(),
      HOST: '0.0.0.0',
      ANNOUNCED_IP: '203.0.113.7',
      REDIS_URL: 'redis://r',
      PIPE_LISTEN_IP: '0.0.0.0',
    });
    expect(d.cluster?.pipe.announcedIp).toBe('203.0.113.7');
  });

  it('names every bad cluster value, without repeating the Redis URL (it may hold a password)', () => {
    const found = problems({
      REDIS_URL: 'http://user:secret@redis',
      NODE_ID: 'no spaces',
      NODE_DEAD_AFTER_SECONDS: '0',
      DRAIN_TIMEOUT_SECONDS: '-1',
      PIPE_LISTEN_IP: 'eth0',
      PIPE_PORT_MIN: '80',
    });
    expect(found.map((p) => p.split(':')[0])).toEqual([
      'REDIS_URL',
      'NODE_ID',
      'NODE_DEAD_AFTER_SECONDS',
      'DRAIN_TIMEOUT_SECONDS',
      'PIPE_LISTEN_IP',
      'PIPE_PORT_MIN',
    ]);
    expect(found.join('\n')).not.toContain('secret');
    expect(
      problems({ REDIS_URL: 'redis://r', PIPE_PORT_MIN: '43000', PIPE_PORT_MAX: '42000' }),
    ).toEqual(['PIPE_PORT_MIN: must not be above PIPE_PORT_MAX (42000)']);
  });
});
