/** docs/signalling.md is the protocol's reference: it must describe every event of the map. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { clientEventNames, clientEvents } from '../../src/protocol/index.js';

const doc = readFileSync(new URL('../../docs/signalling.md', import.meta.url), 'utf8');
/** The events named in the first column of the "Client → server" table. */
const documented = (() => {
  const section = doc.split('### Client → server')[1]?.split('\n## ')[0] ?? '';
  return new Set([...section.matchAll(/^\| `(\w+)`/gm)].map((m) => m[1]));
})();

describe('docs/signalling.md', () => {
  it('documents every client → server event of the protocol map, and no other', () => {
    expect([...documented].sort()).toEqual([...clientEventNames].sort());
  });

  it('names each entry by its key', () => {
    for (const [key, entry] of Object.entries(clientEvents)) expect(entry.name).toBe(key);
  });
});
