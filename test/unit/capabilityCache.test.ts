/**
 * The browser's kept RTP capabilities: a later join reuses what the browser answered the first,
 * and anything malformed, empty, or from another browser build is ignored (the browser is
 * asked again), so a bad entry can never break a join.
 */
import { describe, expect, it } from 'vitest';
import {
  cachedCapabilities,
  keepCapabilities,
  keepRouterCapabilities,
  keptRouterCapabilities,
} from '../../client/src/capabilityCache.js';

const AGENT = 'Mozilla/5.0 Chrome/131.0';
const CAPS = {
  codecs: [
    {
      kind: 'audio',
      mimeType: 'audio/opus',
      clockRate: 48000,
      channels: 2,
      preferredPayloadType: 111,
    },
    { kind: 'video', mimeType: 'video/VP8', clockRate: 90000, preferredPayloadType: 96 },
  ],
  headerExtensions: [{ kind: 'audio', uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', preferredId: 4 }],
} as const;

function store(init: Record<string, string> = {}) {
  const m = new Map(Object.entries(init));
  return {
    getItem: (k: string) => m.get(k) ?? null,
    setItem: (k: string, v: string) => void m.set(k, v),
    m,
  };
}

describe('kept RTP capabilities', () => {
  it('gives back what was kept, for the same browser and direction only', () => {
    const s = store();
    keepCapabilities(s, AGENT, 'recvonly', structuredClone(CAPS) as never);
    expect(cachedCapabilities(s, AGENT, 'recvonly')?.codecs?.map((c) => c.mimeType)).toEqual([
      'audio/opus',
      'video/VP8',
    ]);
    expect(cachedCapabilities(s, AGENT, 'sendonly')).toBeUndefined();
    // A browser update changes the user agent: the old answer is stale.
    expect(cachedCapabilities(s, 'Mozilla/5.0 Chrome/132.0', 'recvonly')).toBeUndefined();
  });

  it.each([
    ['not JSON', '{"agent":'],
    ['JSON null', 'null'],
    ['no capabilities', JSON.stringify({ agent: AGENT })],
    ['codecs not a list', JSON.stringify({ agent: AGENT, caps: { codecs: 'opus' } })],
    ['no codec', JSON.stringify({ agent: AGENT, caps: { codecs: [], headerExtensions: [] } })],
    [
      'a codec without a clock rate',
      JSON.stringify({
        agent: AGENT,
        caps: { codecs: [{ kind: 'audio', mimeType: 'audio/opus' }] },
      }),
    ],
    [
      'a codec of no kind',
      JSON.stringify({ agent: AGENT, caps: { codecs: [{ mimeType: 'x/y', clockRate: 1 }] } }),
    ],
  ])('ignores an entry with %s', (_, raw) => {
    const s = store({ 'telemed.rtpCapabilities.recvonly': raw });
    expect(cachedCapabilities(s, AGENT, 'recvonly')).toBeUndefined();
  });

  it('survives storage that throws (disabled or full)', () => {
    const broken = {
      getItem: () => {
        throw new Error('SecurityError');
      },
      setItem: () => {
        throw new Error('QuotaExceededError');
      },
    };
    expect(() =>
      keepCapabilities(broken, AGENT, 'recvonly', structuredClone(CAPS) as never),
    ).not.toThrow();
    expect(cachedCapabilities(broken, AGENT, 'recvonly')).toBeUndefined();
  });
});

describe('kept router capabilities', () => {
  it('gives back the kept answer and its exact text', () => {
    const s = store();
    const json = JSON.stringify(CAPS);
    keepRouterCapabilities(s, json);
    const kept = keptRouterCapabilities(s);
    expect(kept?.json).toBe(json);
    expect(kept?.caps.codecs?.length).toBe(2);
  });

  it('ignores nothing kept, text that does not parse, and capabilities without codecs', () => {
    expect(keptRouterCapabilities(store())).toBeUndefined();
    for (const bad of ['{', 'null', '"vp8"', '{"codecs":[]}', '{"codecs":"all"}']) {
      expect(
        keptRouterCapabilities(store({ 'telemed.routerRtpCapabilities': bad })),
      ).toBeUndefined();
    }
  });

  it('keeps nothing, and throws nothing, where storage refuses', () => {
    const full = {
      getItem: () => null,
      setItem: () => {
        throw new Error('QuotaExceededError');
      },
    };
    expect(() => keepRouterCapabilities(full, JSON.stringify(CAPS))).not.toThrow();
    expect(keptRouterCapabilities(full)).toBeUndefined();
  });
});
