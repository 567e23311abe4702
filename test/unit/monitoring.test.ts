/** Which addresses count as "this machine" for monitoring without a token. */
import { describe, expect, it } from 'vitest';
import { isLoopbackAddress, sameSecret } from '../../src/http/monitoring.js';

describe('isLoopbackAddress', () => {
  it('accepts 127.0.0.0/8 and ::1, also IPv4-mapped', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1'])
      expect(isLoopbackAddress(a), a).toBe(true);
  });
  it('refuses every other address, and look-alikes', () => {
    for (const a of [
      undefined,
      '',
      '10.0.0.1',
      '192.168.1.7',
      '::ffff:10.0.0.1',
      '128.0.0.1',
      '127.0.0.1.evil',
      '1127.0.0.1',
      '::2',
      'fe80::1',
      '0.0.0.0',
    ])
      expect(isLoopbackAddress(a), String(a)).toBe(false);
  });
});

describe('sameSecret', () => {
  it('is true only for the identical string', () => {
    expect(sameSecret('abcdefghijklmnop', 'abcdefghijklmnop')).toBe(true);
    expect(sameSecret('abcdefghijklmnoq', 'abcdefghijklmnop')).toBe(false);
    expect(sameSecret('abcdefghijklmno', 'abcdefghijklmnop')).toBe(false);
    expect(sameSecret('', 'abcdefghijklmnop')).toBe(false);
  });
});
