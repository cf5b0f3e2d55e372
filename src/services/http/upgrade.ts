/**
 * WebSocket upgrades on porter's web server, routed by path to the feature that asked for them.
 * Features use `ws` directly rather than through Fastify: a Fastify request and reply would stay
 * alive for every open socket (about 3 KB each; 30 MB for 10,000 wall screens).
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';

/** Takes an upgrade request for its path; it owns `socket` from then on. */
export type UpgradeHandler = (request: IncomingMessage, socket: Duplex, head: Buffer) => void;

const routes = new WeakMap<Server, Map<string, UpgradeHandler>>();

/** Routes upgrade requests for `path` (exact, query aside) on `server` to `handler`. */
export function onUpgrade(server: Server, path: string, handler: UpgradeHandler): void {
  let table = routes.get(server);
  if (!table) {
    const created = new Map<string, UpgradeHandler>();
    table = created;
    routes.set(server, created);
    server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      // A client that resets mid-handshake must not crash porter.
      socket.on('error', () => socket.destroy());
      const url = request.url ?? '/';
      const q = url.indexOf('?');
      const route = created.get(q < 0 ? url : url.slice(0, q));
      if (route) route(request, socket, head);
      else refuseUpgrade(socket, 404, 'no WebSocket here');
    });
  }
  if (table.has(path)) throw new Error(`WebSocket path ${path} is already taken`);
  table.set(path, handler);
}

/** Answers an upgrade request with an HTTP error and a JSON body, then closes the socket. */
export function refuseUpgrade(socket: Duplex, status: number, error: string): void {
  const body = JSON.stringify({ error });
  const reason = { 400: 'Bad Request', 404: 'Not Found', 503: 'Service Unavailable' }[status] ?? 'Error';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
