/**
 * TLS material: the configured cert/key, or (when listening beyond loopback without them) a
 * self-signed certificate for this machine's LAN names, generated once and kept in DATA_DIR,
 * because browsers only allow camera access on secure origins.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generate } from 'selfsigned';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { ensurePrivateDir, PRIVATE_FILE_MODE } from '../store/privateFiles.js';

export interface TlsMaterial {
  cert: string;
  key: string;
}

export async function loadTls(config: Config, logger: Logger): Promise<TlsMaterial | null> {
  if (config.tls === null) return null;
  if (config.tls !== 'self-signed') {
    return {
      cert: fs.readFileSync(config.tls.cert, 'utf8'),
      key: fs.readFileSync(config.tls.key, 'utf8'),
    };
  }
  const dir = path.join(config.dataDir, 'tls');
  const certFile = path.join(dir, 'self-signed.crt');
  const keyFile = path.join(dir, 'self-signed.key');
  if (fs.existsSync(certFile) && fs.existsSync(keyFile)) {
    return { cert: fs.readFileSync(certFile, 'utf8'), key: fs.readFileSync(keyFile, 'utf8') };
  }
  const ips = new Set(['127.0.0.1']);
  for (const addrs of Object.values(os.networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4') ips.add(a.address);
  }
  if (config.rtc.announcedIp && /^[\d.]+$/.test(config.rtc.announcedIp))
    ips.add(config.rtc.announcedIp);
  const names = new Set(['localhost', os.hostname()]);
  const pems = await generate([{ name: 'commonName', value: os.hostname() }], {
    keySize: 2048,
    notAfterDate: new Date(Date.now() + 825 * 24 * 3600 * 1000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          ...[...names].map((value) => ({ type: 2 as const, value })),
          ...[...ips].map((ip) => ({ type: 7 as const, ip })),
        ],
      },
    ],
  });
  ensurePrivateDir(dir);
  fs.writeFileSync(keyFile, pems.private, { mode: PRIVATE_FILE_MODE });
  fs.writeFileSync(certFile, pems.cert, { mode: PRIVATE_FILE_MODE });
  logger.warn(
    { certFile },
    'no TLS_CERT/TLS_KEY given for a non-loopback HOST: generated a self-signed certificate (browsers will ask to trust it)',
  );
  return { cert: pems.cert, key: pems.private };
}
