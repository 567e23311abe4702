/**
 * Sink agent: one UDP socket that is never read, for the consumers whose packets are not
 * counted. Once its port is handed out the process blocks, so the kernel drops what
 * arrives at the full socket without waking anyone (cheaper than reading it). The bench
 * ends this process when done; it also ends itself after its lifetime.
 */
import dgram from 'node:dgram';
import { serveAgent } from '../lib/agent.js';

const lifetime = Number(process.env.BENCH_AGENT_LIFETIME_MS ?? 15 * 60_000);

async function open() {
  const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 64 * 1024 });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  setTimeout(() => {
    socket.removeAllListeners('message');
    const cell = new Int32Array(new SharedArrayBuffer(4));
    const until = Date.now() + lifetime;
    while (Date.now() < until) Atomics.wait(cell, 0, 0, 1000);
    process.exit(0);
  }, 100);
  return { port: socket.address().port };
}

serveAgent({ open });
