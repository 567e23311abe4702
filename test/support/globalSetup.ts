/** Builds the server and client once per run, so process and browser tests use current code. */
import { execFileSync } from 'node:child_process';

export default function setup(): void {
  if (process.env.SKIP_TEST_BUILD === '1') return;
  execFileSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' });
}
