/** Plain RTP over UDP for tests without a browser: a paced Opus-like sender and a counting receiver. */
import dgram from 'node:dgram';

export interface RtpSender {
  sent: number;
  stop(): void;
}

/** Sends one 20 ms Opus-sized RTP packet every 20 ms to 127.0.0.1:port, at most `max` packets. */
export function sendRtp(port: number, ssrc: number, max = 3000): RtpSender {
  const socket = dgram.createSocket('udp4');
  let seq = Math.floor(Math.random() * 1000);
  let timestamp = 0;
  const state = { sent: 0, stop: () => undefined as void };
  const timer = setInterval(() => {
    if (state.sent >= max) return;
    const packet = Buffer.alloc(12 + 40, 0xf8);
    packet[0] = 0x80;
    packet[1] = 111;
    packet.writeUInt16BE(seq++ & 0xffff, 2);
    packet.writeUInt32BE((timestamp += 960) >>> 0, 4);
    packet.writeUInt32BE(ssrc >>> 0, 8);
    socket.send(packet, port, '127.0.0.1');
    state.sent++;
  }, 20);
  state.stop = () => {
    clearInterval(timer);
    socket.close();
  };
  return state;
}

export interface RtpReceiver {
  port: number;
  /** RTP packets (not RTCP) received so far. */
  packets(): number;
  close(): void;
}

/** A UDP socket on a free loopback port counting the RTP packets it gets. */
export async function receiveRtp(): Promise<RtpReceiver> {
  const socket = dgram.createSocket('udp4');
  let rtp = 0;
  socket.on('message', (msg) => {
    // RTCP packet types are 192-223 in the second byte; RTP payload types (with marker) are not.
    if (msg.length >= 12 && msg[0]! >> 6 === 2 && !(msg[1]! >= 192 && msg[1]! <= 223)) rtp++;
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    port: socket.address().port,
    packets: () => rtp,
    close: () => socket.close(),
  };
}
