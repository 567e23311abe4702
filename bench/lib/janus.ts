/**
 * Janus (Debian's package) started by the bench on 127.0.0.1 with its own generated
 * configuration in a temporary directory — never the system service or /etc/janus —
 * plus a minimal client of its HTTP API for the VideoRoom plugin.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { janusVersion } from './machine.js';

const LIB = '/usr/lib/x86_64-linux-gnu/janus';
const OTHER_PLUGINS = [
  'audiobridge',
  'duktape',
  'echotest',
  'lua',
  'nosip',
  'recordplay',
  'sip',
  'streaming',
  'textroom',
  'videocall',
  'voicemail',
];

/** Why Janus cannot run here, or null when it can. */
export function janusUnavailable(bin = 'janus'): string | null {
  if (!janusVersion(bin)) {
    return "Janus is not installed (Debian package 'janus'; scripts/setup.sh --test installs it)";
  }
  if (!fs.existsSync(path.join(LIB, 'plugins', 'libjanus_videoroom.so'))) {
    return `Janus VideoRoom plugin not found in ${LIB}/plugins`;
  }
  return null;
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

function writeConfig(dir: string, httpPort: number, wsPort: number): void {
  const files: Record<string, string> = {
    'janus.jcfg': `general: {
  configs_folder = "${dir}"
  plugins_folder = "${LIB}/plugins"
  transports_folder = "${LIB}/transports"
  events_folder = "${LIB}/events"
  loggers_folder = "${LIB}/loggers"
  debug_level = 3
  session_timeout = 0
  interface = "127.0.0.1"
}
certificates: {
}
media: {
  rtp_port_range = "46000-47999"
}
nat: {
  ice_enforce_list = "lo"
  ignore_mdns = true
}
plugins: {
  disable = "${OTHER_PLUGINS.map((p) => `libjanus_${p}.so`).join(',')}"
}
transports: {
  disable = "libjanus_mqtt.so,libjanus_nanomsg.so,libjanus_pfunix.so,libjanus_rabbitmq.so"
}
loggers: {
  disable = "libjanus_jsonlog.so"
}
events: {
  broadcast = false
}
`,
    'janus.transport.http.jcfg': `general: {
  base_path = "/janus"
  http = true
  port = ${httpPort}
  ip = "127.0.0.1"
  https = false
}
admin: {
  admin_http = false
  admin_https = false
}
`,
    'janus.transport.websockets.jcfg': `general: {
  json = "plain"
  ws = true
  ws_port = ${wsPort}
  ws_ip = "127.0.0.1"
  wss = false
}
admin: {
  admin_ws = false
  admin_wss = false
}
`,
    'janus.plugin.videoroom.jcfg': `general: {
  rtp_port_range = "48000-49999"
}
`,
  };
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
}

let tx = 0;

/** A Janus API session with one VideoRoom handle, over HTTP. */
export class JanusApi {
  private constructor(
    readonly base: string,
    readonly sessionId: number,
    readonly handleId: number,
  ) {}

  static async open(httpUrl: string): Promise<JanusApi> {
    const s = await post<{ data: { id: number } }>(httpUrl, { janus: 'create' });
    const h = await post<{ data: { id: number } }>(`${httpUrl}/${s.data.id}`, {
      janus: 'attach',
      plugin: 'janus.plugin.videoroom',
    });
    return new JanusApi(httpUrl, s.data.id, h.data.id);
  }

  /** A synchronous VideoRoom request; returns its plugin data (throws on a plugin error). */
  async request<T = Record<string, unknown>>(body: Record<string, unknown>): Promise<T> {
    const res = await post<{ plugindata?: { data: T & { error?: string } } }>(
      `${this.base}/${this.sessionId}/${this.handleId}`,
      { janus: 'message', body },
    );
    const data = res.plugindata?.data;
    if (!data) throw new Error(`janus ${String(body.request)}: no plugin data`);
    if (data.error) throw new Error(`janus ${String(body.request)}: ${data.error}`);
    return data;
  }

  async close(): Promise<void> {
    await post(`${this.base}/${this.sessionId}`, { janus: 'destroy' }).catch(() => undefined);
  }
}

async function post<T>(url: string, body: Record<string, unknown>): Promise<T> {
  const res = await fetch(url, {
    method: 'POST',
    body: JSON.stringify({ ...body, transaction: `b${++tx}` }),
  });
  const json = (await res.json()) as T & { janus: string; error?: { reason: string } };
  if (json.janus === 'error') throw new Error(`janus: ${json.error?.reason ?? 'error'}`);
  return json;
}

export class JanusServer {
  private constructor(
    readonly child: ChildProcess,
    readonly dir: string,
    readonly httpUrl: string,
    readonly wsUrl: string,
    readonly version: string,
  ) {}

  get pid(): number {
    return this.child.pid!;
  }

  /** Starts Janus with a fresh configuration; resolves once its HTTP API answers. */
  static async start(bin = 'janus'): Promise<JanusServer> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-janus-'));
    const [httpPort, wsPort] = [await freePort(), await freePort()];
    writeConfig(dir, httpPort, wsPort);
    const log = path.join(dir, 'janus.log');
    const child = spawn(
      bin,
      ['-F', dir, '-C', path.join(dir, 'janus.jcfg'), '-o', '-N', '-L', log],
      {
        stdio: 'ignore',
      },
    );
    const httpUrl = `http://127.0.0.1:${httpPort}/janus`;
    const server = new JanusServer(
      child,
      dir,
      httpUrl,
      `ws://127.0.0.1:${wsPort}`,
      janusVersion(bin) ?? '?',
    );
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (child.exitCode !== null) {
        const tail = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').slice(-2000) : '';
        throw new Error(`janus exited at start (${child.exitCode}): ${tail}`);
      }
      try {
        const res = await fetch(`${httpUrl}/info`);
        if (res.ok) break;
      } catch {
        // not up yet
      }
      if (Date.now() > deadline) {
        await server.stop();
        throw new Error('janus did not answer on its HTTP API within 15 s');
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    return server;
  }

  /** The last lines of its log (for error reports). */
  logTail(chars = 2000): string {
    const file = path.join(this.dir, 'janus.log');
    return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').slice(-chars) : '';
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** SSRCs a Janus remote publisher expects: base 1000, step 10 per m-line index. */
export const janusRemoteSsrc = (mindex: number) => 1000 + 10 * mindex;
