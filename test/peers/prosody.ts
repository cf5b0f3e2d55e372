// Debian's Prosody for tests: installed with apt when missing, run in the foreground as user
// prosody on free loopback ports with a throwaway config (accounts, an anonymous host, a MUC
// service), stopped by PID. The same data survives a restart, as on a real server.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../helpers/wait.js';
import { aptInstall, testPackage } from './apt.js';

const run = promisify(execFile);

export const DOMAIN = 'localhost';
export const ANON_DOMAIN = 'anon.localhost';
export const MUC_DOMAIN = 'conference.localhost';
const START_WAIT_MS = 30_000;

export interface Prosody {
  readonly dir: string;
  readonly port: number;
  /** `xmpp://127.0.0.1:PORT`. */
  readonly service: string;
  /** The same server over WebSocket: `ws://127.0.0.1:HTTPPORT/xmpp-websocket`. */
  readonly websocket: string;
  readonly pid: number | undefined;
  /** Creates an account `name@localhost`. */
  register(name: string, password: string): Promise<void>;
  /** Stops the server and starts it again on the same ports with the same data. */
  restart(): Promise<void>;
  stop(): Promise<void>;
  /** Stops the server and removes its directory. */
  remove(): Promise<void>;
}

let installed: Promise<void> | undefined;

/** Installs Prosody from Debian when it is missing. */
export function ensureProsody(): Promise<void> {
  installed ??= (async () => {
    await aptInstall([testPackage('prosody')]);
  })().catch((error: unknown) => {
    installed = undefined;
    throw error;
  });
  return installed;
}

async function prosodyIds(): Promise<{ uid: number; gid: number }> {
  const uid = Number((await run('id', ['-u', 'prosody'])).stdout.trim());
  const gid = Number((await run('id', ['-g', 'prosody'])).stdout.trim());
  return { uid, gid };
}

function configText(dir: string, port: number, httpPort: number): string {
  return `-- A throwaway Prosody for porter's tests.
pidfile = "${dir}/prosody.pid"; data_path = "${dir}/data"
log = { info = "${dir}/prosody.log"; error = "*console" }
interfaces = { "127.0.0.1" }; c2s_ports = { ${port} }; s2s_ports = { }; http_ports = { ${httpPort} }; https_ports = { }
modules_enabled = { "roster"; "saslauth"; "disco"; "ping"; "posix"; "websocket"; "bosh" }
modules_disabled = { "s2s"; "tls" }
c2s_require_encryption = false; allow_unencrypted_plain_auth = true; consider_websocket_secure = true
-- Prosody 0.12 does not check the Origin of WebSocket connections: pages on another origin connect as they are.
authentication = "internal_hashed"; storage = "internal"
VirtualHost "${DOMAIN}"
VirtualHost "${ANON_DOMAIN}"
    authentication = "anonymous"
Component "${MUC_DOMAIN}" "muc"
    restrict_room_creation = "local"
`;
}

/** Resolves once something accepts connections on 127.0.0.1:`port`. */
async function listening(port: number, child: ChildProcess, log: () => Promise<string>): Promise<void> {
  const deadline = Date.now() + START_WAIT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`prosody exited with ${child.exitCode}: ${await log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`prosody did not listen on 127.0.0.1:${port} within ${START_WAIT_MS} ms: ${await log()}`);
}

export async function startProsody(): Promise<Prosody> {
  await ensureProsody();
  const { uid, gid } = await prosodyIds();
  const dir = await mkdtemp(join(tmpdir(), 'porter-prosody-'));
  await mkdir(join(dir, 'data'));
  await chmod(dir, 0o755);
  await chown(dir, uid, gid);
  await chown(join(dir, 'data'), uid, gid);
  const port = await freePort();
  const httpPort = await freePort();
  const file = join(dir, 'prosody.cfg.lua');
  await writeFile(file, configText(dir, port, httpPort));
  await chown(file, uid, gid);
  let child: ChildProcess | undefined;
  let stderr = '';
  const log = async () => `${stderr}${await readFile(join(dir, 'prosody.log'), 'utf8').catch(() => '')}`.slice(-2000);

  const start = async (): Promise<void> => {
    stderr = '';
    const c = spawn('prosody', ['--config', file, '-F'], { uid, gid, cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    c.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child = c;
    await listening(port, c, log);
  };
  const stop = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    c.kill('SIGTERM');
    const timer = setTimeout(() => c.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };

  await start();
  return {
    dir,
    port,
    service: `xmpp://127.0.0.1:${port}`,
    websocket: `ws://127.0.0.1:${httpPort}/xmpp-websocket`,
    get pid() {
      return child?.pid;
    },
    async register(name, password) {
      await run('prosodyctl', ['--config', file, 'register', name, DOMAIN, password], { uid, gid, cwd: dir });
    },
    async restart() {
      await stop();
      await start();
    },
    stop,
    async remove() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The bot account porter logs in as in tests: `porterbot@localhost`. */
export const BOT = { name: 'porterbot', jid: `porterbot@${DOMAIN}`, password: 'bot-password' } as const;

/**
 * An `xmpp.XmppPlug` entry for a host config: porter as `BOT` on `prosody`, plain on loopback,
 * nick `porter`, rooms on the MUC service; `extra` adds or overrides plug keys.
 */
export function botPlug(prosody: Prosody, extra: Record<string, unknown> = {}): { path: string; config: Record<string, unknown> } {
  return {
    path: 'xmpp.XmppPlug',
    config: { jid: BOT.jid, password: BOT.password, service: prosody.service, tls: 'none', nick: 'porter', muc: MUC_DOMAIN, ...extra },
  };
}
