/** One permission function: each action needs exactly its grant. */
import { describe, expect, it } from 'vitest';
import { assertMay, may } from '../../../src/app/permissions.js';
import { grantsFor } from '../../../src/auth/tokens.js';

describe('may()', () => {
  it('lets participants publish and subscribe, and only hosts admit, remove and end', () => {
    const participant = grantsFor(false);
    const host = grantsFor(true);
    for (const action of ['produce', 'consume'] as const) {
      expect(may(participant, action)).toBe(true);
    }
    for (const action of ['admit', 'deny', 'removePeer', 'endConsult', 'skipLobby'] as const) {
      expect(may(participant, action)).toBe(false);
      expect(may(host, action)).toBe(true);
    }
    expect(may({ ...host, publish: false }, 'produce')).toBe(false);
    expect(may({ ...host, end: false }, 'endConsult')).toBe(false);
    expect(() => assertMay(participant, 'endConsult')).toThrow(
      expect.objectContaining({ code: 'forbidden' }),
    );
  });
});
