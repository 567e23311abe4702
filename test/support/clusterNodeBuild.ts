/**
 * Test cluster nodes run plain JavaScript: src/ and test/support/ transformed file by file with
 * esbuild (the transform tsx applies, done once instead of at every node start) into
 * dist/test-node/<hash>/, where <hash> covers every input. Each file is transformed from the
 * very text that was hashed, so an edit anywhere in src/ or test/support/ (even during a build)
 * gives a new hash and a node never runs stale code; a build is published by renaming a finished
 * directory, so a node never runs half a build either.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { transform, version, type TransformOptions } from 'esbuild';

const root = path.resolve(import.meta.dirname, '../..');
const outRoot = path.join(root, 'dist/test-node');
const sourceDirs = ['src', 'test/support'];
/** Builds unused this long are removed when a new one is published. */
const keepUnusedMs = 60 * 60_000;

const options: TransformOptions = {
  loader: 'ts',
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: 'inline',
};

let built: Promise<string> | undefined;

/** The compiled clusterNode.js for the sources as they are now (built on the first call). */
export function clusterNodeScript(): Promise<string> {
  built ??= compile();
  return built;
}

function sources(): string[] {
  return sourceDirs
    .flatMap((dir) =>
      fs
        .readdirSync(path.join(root, dir), { recursive: true, encoding: 'utf8' })
        .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
        .map((f) => path.join(dir, f)),
    )
    .sort();
}

async function compile(): Promise<string> {
  const tsconfigRaw = fs.readFileSync(path.join(root, 'tsconfig.json'), 'utf8');
  const files = sources().map((file) => ({
    file,
    text: fs.readFileSync(path.join(root, file), 'utf8'),
  }));
  const hash = createHash('sha256').update(JSON.stringify({ version, options, tsconfigRaw }));
  for (const { file, text } of files) hash.update(JSON.stringify([file, text]));
  const dir = path.join(outRoot, hash.digest('hex').slice(0, 16));
  const script = path.join(dir, 'test/support/clusterNode.js');
  if (fs.existsSync(script)) {
    // Marks it used, so pruning leaves it alone.
    const now = new Date();
    fs.utimesSync(dir, now, now);
    return script;
  }
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  try {
    await Promise.all(
      files.map(async ({ file, text }) => {
        const out = path.join(tmp, file.replace(/\.ts$/, '.js'));
        const { code } = await transform(text, {
          ...options,
          sourcefile: path.join(root, file),
          tsconfigRaw,
        });
        await fs.promises.mkdir(path.dirname(out), { recursive: true });
        await fs.promises.writeFile(out, code);
      }),
    );
    fs.renameSync(tmp, dir);
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    // Another test file published the same build first.
    if (fs.existsSync(script)) return script;
    throw err;
  }
  prune(dir);
  return script;
}
function prune(keep: string) {
  for (const name of fs.readdirSync(outRoot)) {
    const dir = path.join(outRoot, name);
    if (dir === keep) continue;
    try {
      if (Date.now() - fs.statSync(dir).mtimeMs > keepUnusedMs)
        fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      // Removed by another test file meanwhile.
    }
  }
}
