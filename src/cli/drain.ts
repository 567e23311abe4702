/**
 * Operator tool: asks a cluster node to drain (as SIGTERM does): it takes nobody new, moves its
 * participants to other nodes, and exits once they have gone (or after DRAIN_TIMEOUT_SECONDS).
 * Usage: npm run drain -- [--url http://127.0.0.1:3000]   (METRICS_TOKEN from the environment,
 * else the node must be on this machine: the same access rule as /metrics)
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { GatewayError } from '../errors.js';
import { runCli } from './run.js';

const USAGE = 'usage: METRICS_TOKEN=… npm run drain -- [--url http://127.0.0.1:PORT]';

const argsSchema = z.object({
  url: z.url({ protocol: /^https?$/, error: '--url must be the node’s http(s) URL' }),
});

runCli(USAGE, async () => {
  const { values } = parseArgs({ options: { url: { type: 'string' } } });
  const { url } = argsSchema.parse({
    url: values.url ?? `http://127.0.0.1:${process.env.PORT ?? 3000}`,
  });
  const token = process.env.METRICS_TOKEN;
  const res = await fetch(new URL('/drain', url), {
    method: 'POST',
    headers: token ? { authorization: `Bearer ${token}` } : {},
  }).catch((err: Error) => {
    throw new GatewayError('unavailable', `could not reach ${url} (${err.message}): check --url`);
  });
  const body = (await res.json().catch(() => ({}))) as {
    node?: string;
    error?: { message?: string };
  };
  if (!res.ok) {
    console.error(`the node refused (${res.status}): ${body.error?.message ?? res.statusText}`);
    process.exitCode = 1;
    return;
  }
  console.log(
    `node ${body.node ?? url} is draining: its participants move to other nodes, then it exits`,
  );
});
