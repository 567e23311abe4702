/**
 * The browser build sees the protocol module and browser typings only: no server file (which
 * would drag mediasoup, express or the store into the bundle's types) and no Node typings
 * (a dependency's @types can pull them in, as @types/qrcode did).
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe("the client's type check", () => {
  it('reads no file under src/ outside src/protocol, and no Node typings', () => {
    const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
    const files = execFileSync(
      process.execPath,
      [tsc, '-p', 'client/tsconfig.json', '--listFilesOnly'],
      { cwd: root, encoding: 'utf8' },
    )
      .split('\n')
      .filter(Boolean)
      .map((f) => path.relative(root, f));
    expect(files.some((f) => f.startsWith('client/src/'))).toBe(true);
    const server = files.filter((f) => f.startsWith('src/') && !f.startsWith('src/protocol/'));
    expect(server).toEqual([]);
    expect(files.filter((f) => f.includes('@types/node/'))).toEqual([]);
  }, 60_000);
});
