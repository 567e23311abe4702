/**
 * `npm run fuzz -- --count 100000 [--seed N] [--concurrency N]`: runs the signalling fuzz
 * campaign against a gateway started in this process on loopback, prints its figures, and
 * exits 1 if the server crashed, stopped serving or changed state it must not.
 */
import { parseArgs } from 'node:util';
import { startTestGateway } from '../gateway.js';
import { FUZZ_GATEWAY_ENV, runFuzz } from './campaign.js';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '10000' },
    seed: { type: 'string' },
    concurrency: { type: 'string', default: '24' },
  },
});
const count = Number(values.count);
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
const concurrency = Number(values.concurrency);
if (![count, seed, concurrency].every((n) => Number.isInteger(n) && n >= 0) || count < 1) {
  console.error('usage: npm run fuzz -- --count N [--seed N] [--concurrency N] (whole numbers)');
  process.exit(2);
}

const mib = (bytes: number | null) =>
  bytes === null ? 'n/a' : `${(bytes / 2 ** 20).toFixed(0)} MiB`;
const gw = await startTestGateway(FUZZ_GATEWAY_ENV);
console.log(`fuzzing ${gw.url}: ${count} messages, seed ${seed}, ${concurrency} in flight`);
let exitCode = 1;
try {
  const report = await runFuzz(gw, {
    count,
    seed,
    concurrency,
    onProgress: (sent) => {
      if (sent % 10_000 === 0) console.log(`  ${sent} sent`);
    },
  });
  console.log(`\nsent          ${report.sent} (${report.unacked} without a callable ack)`);
  console.log(`duration      ${(report.durationMs / 1000).toFixed(1)} s`);
  console.log(`rate          ${report.messagesPerSecond} messages/s`);
  console.log(
    `knocks        ${report.unauthenticatedAttempts} unauthenticated connection attempts`,
  );
  console.log(
    `peak RSS      ${mib(report.peakRssBytes)} (gateway + fuzzer), worker ${mib(report.workerPeakRssBytes)}`,
  );
  console.log('acks by code');
  for (const [code, n] of Object.entries(report.acksByCode).sort((a, b) => b[1] - a[1]))
    console.log(`  ${code.padEnd(18)} ${n}`);
  if (report.problems.length) {
    console.log(`\nPROBLEMS (seed ${seed}):`);
    for (const p of report.problems) console.log(`  - ${p}`);
  } else {
    console.log('\nno crash, no state change');
    exitCode = 0;
  }
} finally {
  await gw.stop();
}
process.exit(exitCode);
