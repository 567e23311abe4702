import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, isLoopback, loadConfig } from '../../src/config.js';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'gw-config-'));
const lanAddress = () =>
  Object.values(os.networkInterfaces())
    .flat()
    .find((a) => a?.family === 'IPv4' && !a.internal)?.address;

describe('loadConfig', () => {
  it('gives a working loopback gateway on defaults', () => {
    const dataDir = tmp();
    const c = loadConfig({ DATA_DIR: dataDir });
    expect(c).toMatchObject({
      host: '127.0.0.1',
      port: 80,
      tls: null,
      workers: os.availableParallelism(),
      logLevel: 'info',
      rtc: { listenIp: '127.0.0.1', announcedIp: undefined, lanIp: lanAddress(), portBase: 40000 },
      demoConsultId: 'demo',
    });
  });

  it('generates a JWT secret once and keeps it across loads', () => {
    const dataDir = tmp();
    const first = loadConfig({ DATA_DIR: dataDir }).jwtSecret;
    expect(first.length).toBeGreaterThanOrEqual(32);
    expect(loadConfig({ DATA_DIR: dataDir }).jwtSecret).toBe(first);
    expect(fs.statSync(path.join(dataDir, 'jwt-secret')).mode & 0o077).toBe(0);
    expect(loadConfig({ DATA_DIR: dataDir, JWT_SECRET: 'x'.repeat(20) }).jwtSecret).toBe(
      'x'.repeat(20),
    );
  });

  it('reads the signalling limits and the trusted proxies', () => {
    const defaults = loadConfig({ DATA_DIR: tmp() });
    expect(defaults.signalling).toEqual({
      eventsPerSecond: 50,
      eventBurst: 100,
      chat: { perSecond: 1, burst: 10, historyOnJoin: 50, maxPerConsult: 5000 },
    });
    expect(defaults.trustProxy).toBe('loopback');
    const set = (TRUST_PROXY: string) => loadConfig({ DATA_DIR: tmp(), TRUST_PROXY }).trustProxy;
    expect([set('off'), set('false'), set('true'), set('2'), set('10.0.0.0/8')]).toEqual([
      false,
      false,
      true,
      2,
      '10.0.0.0/8',
    ]);
    expect(() => loadConfig({ DATA_DIR: tmp(), SOCKET_EVENTS_PER_SECOND: '0' })).toThrow(
      /SOCKET_EVENTS_PER_SECOND/,
    );
  });

  it('starts new video consumers on their preferred layer unless FIRST_FRAME_LAYER says lowest', () => {
    expect(loadConfig({ DATA_DIR: tmp() }).rtc.firstFrameLayer).toBe('preferred');
    expect(loadConfig({ DATA_DIR: tmp(), FIRST_FRAME_LAYER: 'lowest' }).rtc.firstFrameLayer).toBe(
      'lowest',
    );
    expect(
      loadConfig({ DATA_DIR: tmp(), FIRST_FRAME_LAYER: 'preferred' }).rtc.firstFrameLayer,
    ).toBe('preferred');
    expect(() => loadConfig({ DATA_DIR: tmp(), FIRST_FRAME_LAYER: 'top' })).toThrow(ConfigError);
  });

  it('listens for the LAN with a self-signed certificate and an announced address', () => {
    const c = loadConfig({ HOST: '0.0.0.0', ANNOUNCED_IP: '203.0.113.7', DATA_DIR: tmp() });
    expect(c.tls).toBe('self-signed');
    expect(c.rtc).toMatchObject({ listenIp: '0.0.0.0', announcedIp: '203.0.113.7' });
  });

  it('adds a LAN media address only to the untouched loopback default, or when named', () => {
    const dataDir = tmp();
    const rtc = (env: Record<string, string>) => loadConfig({ DATA_DIR: dataDir, ...env }).rtc;
    expect(rtc({ RTC_LAN_IP: 'none' })).toMatchObject({ listenIp: '127.0.0.1', lanIp: undefined });
    expect(rtc({ RTC_LISTEN_IP: '127.0.0.1' }).lanIp).toBeUndefined();
    expect(rtc({ ANNOUNCED_IP: '127.0.0.2' }).lanIp).toBeUndefined();
    expect(rtc({ RTC_LAN_IP: '10.9.8.7' }).lanIp).toBe('10.9.8.7');
    expect(rtc({ RTC_LAN_IP: '127.0.0.1' }).lanIp).toBeUndefined();
    expect(rtc({ HOST: '0.0.0.0', ANNOUNCED_IP: '203.0.113.7' }).lanIp).toBeUndefined();
    expect(() => rtc({ RTC_LISTEN_IP: '0.0.0.0', RTC_LAN_IP: '10.9.8.7' })).toThrow(
      /RTC_LAN_IP: RTC_LISTEN_IP 0.0.0.0 already listens on every address/,
    );
    expect(() => rtc({ RTC_LAN_IP: 'lan' })).toThrow(/RTC_LAN_IP: must be auto, none, or an IPv4/);
  });

  it('names every bad value with its own message', () => {
    let error: unknown;
    try {
      loadConfig({
        PORT: 'eighty',
        WORKERS: '0',
        WORKER_NICE: '-25',
        LOG_LEVEL: 'loud',
        RTC_LISTEN_IP: 'not-an-ip',
        JWT_SECRET: 'short',
        TLS_CERT: '/etc/cert.pem',
        DATA_DIR: tmp(),
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    expect(problems).toMatch(/PORT: must be an integer between 0 and 65535 \(got "eighty"\)/);
    expect(problems).toMatch(/WORKERS: must be an integer between 1 and 64 \(got "0"\)/);
    expect(problems).toMatch(/WORKER_NICE: must be an integer between -20 and 19 \(got "-25"\)/);
    expect(problems).toMatch(/LOG_LEVEL: must be one of fatal, error, warn, info/);
    expect(problems).toMatch(/RTC_LISTEN_IP: must be an IPv4 or IPv6 address/);
    expect(problems).toMatch(/JWT_SECRET: must be at least 16 characters/);
    expect(problems).toMatch(/TLS_KEY: TLS_CERT and TLS_KEY must be given together/);
  });
});

describe('demo mode', () => {
  it('is on for a loopback HOST only, unless DEMO says otherwise', () => {
    const lan = { HOST: '0.0.0.0', ANNOUNCED_IP: '203.0.113.7' };
    expect(loadConfig({ DATA_DIR: tmp() }).demo).toBe(true);
    expect(loadConfig({ HOST: '::1', DATA_DIR: tmp() }).demo).toBe(true);
    expect(loadConfig({ ...lan, DATA_DIR: tmp() }).demo).toBe(false);
    expect(loadConfig({ HOST: '10.1.2.3', ANNOUNCED_IP: '10.1.2.3', DATA_DIR: tmp() }).demo).toBe(
      false,
    );
    expect(loadConfig({ DEMO: '0', DATA_DIR: tmp() }).demo).toBe(false);
    expect(loadConfig({ ...lan, DEMO: '1', DATA_DIR: tmp() }).demo).toBe(true);
    expect(() => loadConfig({ DEMO: 'maybe', DATA_DIR: tmp() })).toThrow(/DEMO: must be 1 or 0/);
  });

  it('counts as loopback only addresses no other machine reaches', () => {
    for (const host of ['localhost', '127.0.0.1', '127.8.9.10', '::1', '[::1]', '0:0:0:0:0:0:0:1'])
      expect(isLoopback(host), host).toBe(true);
    for (const host of [
      '0.0.0.0',
      '::',
      '10.0.0.1',
      '127.example.com',
      '::11',
      'fe80::1',
      'gw.local',
    ])
      expect(isLoopback(host), host).toBe(false);
  });
});
