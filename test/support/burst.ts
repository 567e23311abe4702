/**
 * Sends a burst of HTTP requests from a separate process, as an attacker on another machine
 * would: the test process's own event loop then measures only the gateway's work.
 */
import { spawn } from 'node:child_process';

export interface BurstRequest {
  path: string;
  body: unknown;
  headers?: Record<string, string>;
}

export interface BurstResult {
  status: number;
  retryAfter: string | null;
  body: { error?: { code: string; message: string } };
}

// Runs in the child: reads the requests from stdin, sends them all at once, prints the results.
const SCRIPT = `
let input = '';
for await (const chunk of process.stdin) input += chunk;
const { base, requests } = JSON.parse(input);
process.stdout.write('sending\\n');
const results = await Promise.all(requests.map(async (r) => {
  const res = await fetch(base + r.path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...r.headers },
    body: JSON.stringify(r.body),
  });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() };
}));
process.stdout.write(JSON.stringify(results) + '\\n');
`;

/** Starts the burst; `sending` resolves when the child starts sending, `done` with every response. */
export function burstFromAnotherProcess(
  base: string,
  requests: BurstRequest[],
): { sending: Promise<void>; done: Promise<BurstResult[]> } {
  const child = spawn(process.execPath, ['--input-type=module', '-e', SCRIPT], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  let markSending!: () => void;
  const sending = new Promise<void>((resolve) => (markSending = resolve));
  child.stdout.on('data', (d) => {
    out += d;
    if (out.startsWith('sending\n')) markSending();
  });
  const done = new Promise<BurstResult[]>((resolve, reject) =>
    child.once('exit', (code) => {
      markSending();
      const lines = out.trim().split('\n');
      if (code !== 0 || lines.length < 2) reject(new Error(`burst failed (exit ${code}): ${out}`));
      else resolve(JSON.parse(lines[1]!) as BurstResult[]);
    }),
  );
  child.stdin.end(JSON.stringify({ base, requests }));
  return { sending, done };
}
