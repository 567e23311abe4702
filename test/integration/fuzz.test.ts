/**
 * Signalling fuzz: every client event, random and mutated payloads, several sockets at once,
 * against a real gateway. Seeded; `npm run fuzz -- --count 100000` runs the same campaign longer.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { clientEventNames } from '../../src/protocol/index.js';
import { FUZZ_GATEWAY_ENV, runFuzz } from '../support/fuzz/campaign.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

let gw: TestGateway | undefined;

afterEach(async () => {
  await gw?.stop();
  gw = undefined;
});

describe('signalling fuzz', () => {
  it('2,000 hostile messages: the server keeps serving and changes nothing it must not', async () => {
    // The campaign reads the SQLite file itself to check nothing changed that must not.
    gw = await startTestGateway({ ...FUZZ_GATEWAY_ENV, DATABASE_URL: '' });
    const report = await runFuzz(gw, { count: 2000, seed: 20261129 });

    expect(report.problems).toEqual([]);
    expect(report.sent).toBe(2000);
    // Every event was sent many times, and refused in the documented way.
    for (const event of clientEventNames)
      expect(report.sentByEvent[event], event).toBeGreaterThanOrEqual(30);
    expect(report.acksByCode.bad_request).toBeGreaterThan(500);
    expect(report.unauthenticatedAttempts).toBeGreaterThan(0);
  }, 120_000);
});
