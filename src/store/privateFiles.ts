/**
 * The gateway's files hold password hashes, clinical notes, chat and its signing secret: only
 * the account running it may read them. Directories are 0700, files 0600; modes left wider by an
 * older version or by hand are tightened at start, and each change is reported.
 */
import fs from 'node:fs';
import path from 'node:path';

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** A mode the gateway tightened: what it was and what it is now. */
export interface ModeFix {
  path: string;
  was: string;
  now: string;
}

const octal = (mode: number) => `0${(mode & 0o777).toString(8)}`;

/** Creates `dir` (and missing parents) as 0700, or tightens an existing one; returns the fix made. */
export function ensurePrivateDir(dir: string): ModeFix | null {
  fs.mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  if (fs.statSync(dir).mode & 0o1000) {
    // /tmp and the like: closing it would break every other user of the machine.
    throw new Error(
      `${dir} is a shared directory (sticky bit): point DATA_DIR at a directory of the gateway's own`,
    );
  }
  return tighten(dir, PRIVATE_DIR_MODE);
}

/** Tightens `file` to 0600 if it exists and others may read it; returns the fix made. */
export function ensurePrivateFile(file: string): ModeFix | null {
  return tighten(file, PRIVATE_FILE_MODE);
}

/**
 * Creates an empty 0600 database file if there is none, so SQLite (which gives its -wal and -shm
 * files the mode of the database file) never makes any of the three readable by others.
 */
export function precreatePrivateFile(file: string): void {
  fs.closeSync(fs.openSync(file, fs.constants.O_CREAT | fs.constants.O_WRONLY, PRIVATE_FILE_MODE));
}

/** The database file and the journals SQLite keeps beside it. */
export function databaseFiles(file: string): string[] {
  return [file, `${file}-wal`, `${file}-shm`, `${file}-journal`];
}

/**
 * Makes the data directory, the database's directory and every file the gateway keeps private,
 * before anything is opened. Returns what it had to tighten, for the caller to log.
 */
export function securePrivateFiles(dataDir: string, databasePath: string): ModeFix[] {
  const fixes: (ModeFix | null)[] = [ensurePrivateDir(dataDir)];
  if (databasePath !== ':memory:') {
    const dbDir = path.dirname(databasePath);
    // A DATABASE_PATH outside DATA_DIR may sit in a shared directory: create it private, but
    // only the files themselves are ours to tighten there.
    if (!fs.existsSync(dbDir)) fixes.push(ensurePrivateDir(dbDir));
    for (const f of databaseFiles(databasePath)) fixes.push(ensurePrivateFile(f));
  }
  fixes.push(
    ensurePrivateFile(path.join(dataDir, 'jwt-secret')),
    tighten(path.join(dataDir, 'tls'), PRIVATE_DIR_MODE),
    ensurePrivateFile(path.join(dataDir, 'tls', 'self-signed.key')),
    ensurePrivateFile(path.join(dataDir, 'tls', 'self-signed.crt')),
  );
  return fixes.filter((f): f is ModeFix => f !== null);
}

function tighten(target: string, mode: number): ModeFix | null {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  if ((stat.mode & 0o777 & ~mode) === 0) return null;
  fs.chmodSync(target, mode);
  return { path: target, was: octal(stat.mode), now: octal(mode) };
}
