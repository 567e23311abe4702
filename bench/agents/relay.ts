/** Relay agent: the baseline "SFU", a plain Node UDP relay copying each packet to every target. */
import dgram from 'node:dgram';
import { serveAgent } from '../lib/agent.js';

let socket: dgram.Socket | null = null;

async function start({ targets }: { targets: number[] }) {
  socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 });
  const s = socket;
  s.on('message', (msg) => {
    for (const port of targets) s.send(msg, port, '127.0.0.1');
  });
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  return { port: s.address().port };
}

function stop() {
  socket?.close();
  socket = null;
}

serveAgent({ start, stop });
