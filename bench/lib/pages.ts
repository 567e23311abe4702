/**
 * Bundles the bench's browser pages (bench/pages) with Vite into node_modules/.cache, out of
 * the way of lint, format checks and git.
 */
import path from 'node:path';
import { build } from 'vite';
import { BENCH_ROOT } from './agent.js';

export async function buildPages(): Promise<string> {
  const root = path.join(BENCH_ROOT, 'bench', 'pages');
  const outDir = path.join(BENCH_ROOT, 'node_modules', '.cache', 'telemed-bench', 'pages');
  await build({
    configFile: false,
    root,
    base: '/',
    logLevel: 'warn',
    build: {
      outDir,
      emptyOutDir: true,
      target: 'es2022',
      rollupOptions: {
        input: {
          bare: path.join(root, 'bare.html'),
          janus: path.join(root, 'janus.html'),
          fanout: path.join(root, 'fanout.html'),
        },
      },
    },
  });
  return outDir;
}
