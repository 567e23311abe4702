/** The data directory is made private, but never a directory the whole machine shares. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensurePrivateDir, securePrivateFiles } from '../../src/store/privateFiles.js';

describe('private files', () => {
  it('refuses to close a shared (sticky) directory such as /tmp', () => {
    const shared = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-shared-'));
    try {
      fs.chmodSync(shared, 0o1777);
      expect(() => ensurePrivateDir(shared)).toThrow(/shared directory.*DATA_DIR/);
      expect(fs.statSync(shared).mode & 0o7777).toBe(0o1777);
    } finally {
      fs.rmSync(shared, { recursive: true, force: true });
    }
  });

  it('reports each mode it tightened, and nothing on a second pass', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gw-priv-'));
    try {
      fs.chmodSync(dir, 0o755);
      const db = path.join(dir, 'gateway.db');
      fs.writeFileSync(`${db}-wal`, '', { mode: 0o640 });
      expect(securePrivateFiles(dir, db)).toEqual([
        { path: dir, was: '0755', now: '0700' },
        { path: `${db}-wal`, was: '0640', now: '0600' },
      ]);
      expect(securePrivateFiles(dir, db)).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
