/** IPC addresses (a Unix socket path or `tcp:host:port`), and a Unix socket listener that is private and replaces only a dead socket file. */
import { chmod, lstat, mkdtemp, rename, rm, stat, unlink } from 'node:fs/promises';
import { connect, type Server, type Socket } from 'node:net';
import { dirname, join } from 'node:path';

export type IpcAddress =
  | { readonly kind: 'unix'; readonly path: string }
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number };

/**
 * Reads an address: `/run/porter/queue.sock`, `./queue.sock` or `unix:/path` for a Unix socket;
 * `tcp:host:port`, `tcp://host:port` or the seed's `socket://host:port` for TCP (IPv6 in brackets:
 * `tcp:[::1]:7000`). Throws TypeError on anything else.
 */
export function parseAddress(text: string): IpcAddress {
  const tcp = /^(?:tcp:(?:\/\/)?|socket:\/\/)(?:\[([^\]]+)\]|([^:/[\]]+)):([0-9]{1,5})\/?$/i.exec(text);
  if (tcp) {
    const port = Number(tcp[3]);
    if (port > 65535) throw new TypeError(`invalid IPC address "${text}": port out of range`);
    return { kind: 'tcp', host: (tcp[1] ?? tcp[2]) as string, port };
  }
  const path = text.startsWith('unix:') ? text.slice(5).replace(/^\/\/(?=\/)/, '') : text;
  if (path.startsWith('/') || path.startsWith('.')) return { kind: 'unix', path };
  throw new TypeError(`invalid IPC address "${text}": expected a socket path or tcp:host:port`);
}

export function formatAddress(address: IpcAddress): string {
  if (address.kind === 'unix') return address.path;
  return address.host.includes(':') ? `tcp:[${address.host}]:${address.port}` : `tcp:${address.host}:${address.port}`;
}

/** Opens a connection; `connect` fires once it is up, `error` if it fails. */
export function connectTo(address: IpcAddress): Socket {
  return address.kind === 'unix' ? connect(address.path) : connect(address.port, address.host);
}

/** Resolves true when something accepts connections at `path`. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function listen(server: Server, options: { path: string } | { host: string; port: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once('error', onError);
    server.listen(options, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

export function listenTcp(server: Server, host: string, port: number): Promise<void> {
  return listen(server, { host, port });
}

/**
 * Listens on a Unix socket at `path`, readable and writable by this user only (0600), and
 * resolves the socket file's inode, which `removeUnixSocket` checks. The socket is bound in a
 * fresh private folder beside `path` and renamed into place, so it is never reachable with a
 * wider mode and a stale file is replaced in one step. A file at `path` that is not a socket, or
 * a socket that still answers (another server), is left alone and the call fails.
 */
export async function listenUnix(server: Server, path: string): Promise<number> {
  const existing = await lstat(path).catch(() => undefined);
  if (existing && !existing.isSocket()) throw new Error(`${path} exists and is not a socket; not replacing it`);
  if (existing && (await answers(path))) throw new Error(`${path} is in use by another server`);
  // A short name, so that the temporary path stays within the 107 bytes a socket path may have.
  const folder = await mkdtemp(join(dirname(path), '.ipc-'));
  try {
    const bound = join(folder, 's');
    await listen(server, { path: bound });
    // The folder is 0700, so nobody can reach the socket before its own mode is set.
    await chmod(bound, 0o600);
    await rename(bound, path);
    return (await stat(path)).ino;
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

/** Removes the socket file at `path` if it is still ours (the same inode): a successor may have taken the path. */
export async function removeUnixSocket(path: string, ino: number): Promise<void> {
  const current = await lstat(path).catch(() => undefined);
  if (current?.isSocket() && current.ino === ino) await unlink(path).catch(() => undefined);
}
