/**
 * The record's Network column: the browser's speed class ("4g", also reported by a wired
 * desktop) is not a network type, so it reads "network type unknown"; a real type is shown.
 */
import { describe, expect, it } from 'vitest';
import { networkLabel, networkType } from '../../client/src/network.js';

describe('networkLabel', () => {
  it('shows a speed class as an unknown network type, keeping the class in the tooltip', () => {
    for (const value of ['4g', '3g', '2g', 'slow-2g']) {
      const label = networkLabel(value);
      expect(label.text).toBe('network type unknown');
      expect(label.title).toContain(`"${value}"`);
    }
  });

  it('shows a network type as it is, and a dash when there is none', () => {
    expect(networkLabel('wifi')).toEqual({ text: 'wifi', title: '' });
    expect(networkLabel('ethernet').text).toBe('ethernet');
    expect(networkLabel(null).text).toBe('—');
    expect(networkLabel(undefined).text).toBe('—');
  });
});

describe('networkType', () => {
  const nav = (connection: object | undefined) => ({ connection }) as unknown as Navigator;

  it('prefers the network type over the speed class', () => {
    expect(networkType(nav({ type: 'wifi', effectiveType: '4g' }))).toBe('wifi');
    expect(networkType(nav({ effectiveType: '4g' }))).toBe('4g');
    expect(networkType(nav(undefined))).toBeUndefined();
  });
});
