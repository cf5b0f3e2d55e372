/** Queue alerts (`subscribe: queue ; callback`): the queue server connects to each callback address and sends `alert: QUEUE` lines. */

/*
 * API
 *
 *   const sender = new AlertSender({ log, connectTimeoutMs?, onDead? });    // in the queue server
 *   sender.alert(callback, 'incoming');   // callback: a socket path or tcp:host:port; never throws
 *   sender.forget(callback);              // on unsubscribe: closes its connection
 *   await sender.close();
 *
 *   const listener = new AlertListener({ address, log, onAlert });          // in a queue's consumer
 *   const callback = await listener.listen();   // the address to subscribe with (tcp port 0 resolved)
 *   await listener.close();
 *
 * Alerts are one-way: the listener sends nothing back. An alert means "this queue has messages",
 * so the consumer pops until it gets `error`; alerts waiting for a connection to open are sent
 * once per queue. A callback that cannot be reached is dead: it is logged and dropped, and
 * onDead tells the queue server to forget the subscription. A connection that closes later is
 * opened again by the next alert. Callbacks get no token: all anyone can do with one is make a
 * consumer look at its queue.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '../../core/log.js';
import { connectTo, formatAddress, type IpcAddress, listenTcp, listenUnix, parseAddress, removeUnixSocket } from './address.js';
import { formatLine, RequestParser } from './codec.js';

export interface AlertSenderOptions {
  readonly log: Logger;
  /** A callback that does not accept a connection within this long is dead. */
  readonly connectTimeoutMs?: number;
  /** A callback was dropped; the queue server removes its subscriptions. */
  readonly onDead?: (callback: string, error: Error) => void;
}

interface Link {
  readonly socket: Socket;
  connected: boolean;
  /** Queues alerted while the connection opens: one line each, however many alerts. */
  readonly waiting: Set<string>;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

export class AlertSender {
  readonly #options: AlertSenderOptions;
  readonly #links = new Map<string, Link>();
  #closed = false;

  constructor(options: AlertSenderOptions) {
    this.#options = options;
  }

  /** The callbacks with a connection open or opening. */
  get callbacks(): string[] {
    return [...this.#links.keys()];
  }

  alert(callback: string, queue: string): void {
    if (this.#closed) return;
    let link = this.#links.get(callback);
    if (!link) {
      let address: IpcAddress;
      try {
        address = parseAddress(callback);
      } catch (error) {
        this.#dead(callback, error as Error);
        return;
      }
      link = this.#open(callback, address);
    }
    if (link.connected) link.socket.write(`${formatLine('alert', [queue])}\n`);
    else link.waiting.add(queue);
  }

  /** Closes the connection to a callback that was unsubscribed. */
  forget(callback: string): void {
    const link = this.#links.get(callback);
    this.#links.delete(callback);
    link?.socket.destroy();
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const callback of [...this.#links.keys()]) this.forget(callback);
  }

  #open(callback: string, address: IpcAddress): Link {
    const socket = connectTo(address);
    // Subscriptions must not keep the process alive on their own.
    socket.unref();
    const link: Link = { socket, connected: false, waiting: new Set() };
    this.#links.set(callback, link);
    const timeoutMs = this.#options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const timer = setTimeout(() => socket.destroy(new Error(`no connection within ${timeoutMs} ms`)), timeoutMs);
    timer.unref();
    socket.once('connect', () => {
      clearTimeout(timer);
      link.connected = true;
      const lines = [...link.waiting].map((queue) => `${formatLine('alert', [queue])}\n`);
      link.waiting.clear();
      if (lines.length > 0) socket.write(lines.join(''));
    });
    // A listener has nothing to say; what it sends is read and dropped so that it cannot fill our buffers.
    socket.on('data', () => undefined);
    socket.on('error', (error) => {
      clearTimeout(timer);
      if (this.#links.get(callback) !== link) return;
      if (!link.connected) this.#dead(callback, error);
      else this.#options.log.info({ callback, err: error }, 'queue alert connection lost');
    });
    socket.on('close', () => {
      clearTimeout(timer);
      if (this.#links.get(callback) === link) this.#links.delete(callback);
    });
    return link;
  }

  #dead(callback: string, error: Error): void {
    this.#links.delete(callback);
    this.#options.log.warn({ callback, err: error }, 'queue alert callback is dead; dropping it');
    try {
      this.#options.onDead?.(callback, error);
    } catch (failure) {
      this.#options.log.error({ err: failure }, 'onDead failed');
    }
  }
}

export interface AlertListenerOptions {
  /** Where to listen: a socket path, or tcp:host:port (port 0 for any free one). */
  readonly address: string;
  readonly log: Logger;
  /** Called with the queue's name for each alert. */
  readonly onAlert: (queue: string) => void;
}

export class AlertListener {
  readonly #options: AlertListenerOptions;
  readonly #address: IpcAddress;
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;
  #bound: IpcAddress | undefined;
  #socketIno: number | undefined;

  constructor(options: AlertListenerOptions) {
    this.#options = options;
    this.#address = parseAddress(options.address);
  }

  /** The callback string to subscribe with; set once listening. */
  get address(): string | undefined {
    return this.#bound && formatAddress(this.#bound);
  }

  async listen(): Promise<string> {
    const server = createServer((socket) => this.#accept(socket));
    this.#server = server;
    if (this.#address.kind === 'unix') {
      this.#socketIno = await listenUnix(server, this.#address.path);
      this.#bound = this.#address;
    } else {
      await listenTcp(server, this.#address.host, this.#address.port);
      const info = server.address();
      const port = typeof info === 'object' && info ? info.port : this.#address.port;
      this.#bound = { kind: 'tcp', host: this.#address.host, port };
    }
    return formatAddress(this.#bound);
  }

  async close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const socket of this.#sockets) socket.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    if (this.#address.kind === 'unix' && this.#socketIno !== undefined) await removeUnixSocket(this.#address.path, this.#socketIno);
    this.#socketIno = undefined;
  }

  #accept(socket: Socket): void {
    this.#sockets.add(socket);
    // No raw operations here: every line is a message.
    const parser = new RequestParser({}, {});
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', (error) => this.#options.log.debug({ err: error }, 'queue alert connection failed'));
    socket.on('data', (chunk: Buffer) => {
      for (const item of parser.push(chunk)) {
        if (item.kind === 'error' || item.request.name !== 'alert' || item.request.params[0] === undefined) {
          this.#options.log.debug({ item }, 'not a queue alert; ignored');
          continue;
        }
        try {
          this.#options.onAlert(item.request.params[0]);
        } catch (error) {
          this.#options.log.error({ err: error }, 'queue alert handler failed');
        }
      }
    });
  }
}
