/**
 * How the mail plug reaches porter's mail servers: one small interface, two ways. In the same
 * process it calls a mail hook's IPC handlers directly (src/mail/local.ts); in another process it
 * sends the same messages over IPC. Either way the plug speaks the seed's messages (`verify`,
 * `list`, `retr`, `dele`, `store`, `slot`, `send`).
 */
import { writeFile } from 'node:fs/promises';
import type { Logger } from '../../core/log.js';
import { IpcClient } from '../../mail/ipc/index.js';
import { findMailServers, type LocalMailServers, mailServerNames, watchMailServers } from '../../mail/local.js';
import { IpcError, type IpcReply } from '../../mail/protocol.js';

/** The mail servers as the plug uses them. Every method throws `MailLinkError` when the servers cannot be reached. */
export interface MailLink {
  /** Where the servers are, for logs: `mail hook "mail"`, `/run/porter/mail.sock`. */
  readonly where: string;
  /** The local domains: recipients there are stored in mailboxes rather than sent by SMTP. */
  domains(): readonly string[];
  /** One request, answered `ok` or `error` (an `error` reply is returned, not thrown). */
  request(name: string, params: readonly string[], body?: Buffer): Promise<IpcReply>;
  /** Calls `listener` when a message was stored in `user`'s mailbox; only in-process links can. */
  onStored(listener: (user: string) => void): () => void;
  close(): Promise<void>;
}

/** The servers cannot be reached now (not started yet, connection refused, timed out); try again later. */
export class MailLinkError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'MailLinkError';
  }
}

/** An `ok` reply, or an IpcError with the server's message. */
export async function ask(
  link: MailLink,
  name: string,
  params: readonly string[],
  body?: Buffer,
): Promise<Extract<IpcReply, { ok: true }>> {
  const reply = await link.request(name, params, body);
  if (!reply.ok) throw new IpcError(`${name}: ${reply.error}`);
  return reply;
}

/**
 * The mail user whose mailbox holds mail for `address`, found as SMTP in finds it: the whole
 * address if that is a user, else its local part. Undefined if neither is a mail user.
 */
export async function mailUserOf(link: MailLink, address: string): Promise<string | undefined> {
  if ((await link.request('verify', [address])).ok) return address.toLowerCase();
  const at = address.lastIndexOf('@');
  if (at <= 0) return undefined;
  const local = address.slice(0, at);
  return (await link.request('verify', [local])).ok ? local.toLowerCase() : undefined;
}

/**
 * Queues `message` for SMTP out the seed's way: `slot: send`, the message written into the slot
 * file, then `send: from ; to ; slot`. Resolves with SMTP out's id once the message is durable.
 */
export async function queueForSmtp(link: MailLink, from: string, to: readonly string[], message: Buffer): Promise<string> {
  const slot = (await ask(link, 'slot', ['send'])).value;
  if (!slot) throw new IpcError('slot: the queue answered without a slot');
  // The slot is a path in the queue's spool: the writer must share its file system (fmail's design).
  await writeFile(slot, message, { mode: 0o600, flag: 'wx' });
  return (await ask(link, 'send', [from, to.join(','), slot])).value ?? '';
}

/** The servers of a mail hook in this process, found (and found again after a restart) by the hook's name. */
export class LocalMailLink implements MailLink {
  readonly where: string;
  readonly #owner: object;
  readonly #name: string | undefined;
  readonly #log: Logger;
  readonly #listeners = new Set<(user: string) => void>();
  #servers: LocalMailServers | undefined;
  #detach: (() => void) | undefined;
  readonly #unwatch: () => void;
  /** Called when the servers appear or go; the plug polls at once when they appear. */
  onChange: (() => void) | undefined;

  constructor(owner: object, name: string | undefined, log: Logger) {
    this.#owner = owner;
    this.#name = name;
    this.#log = log;
    this.where = name === undefined ? 'the mail hook of this porter' : `mail hook "${name}"`;
    this.#unwatch = watchMailServers(() => this.#attach());
    this.#attach();
  }

  get attached(): boolean {
    return this.#servers !== undefined;
  }

  domains(): readonly string[] {
    return this.#servers?.domains ?? [];
  }

  async request(name: string, params: readonly string[], body?: Buffer): Promise<IpcReply> {
    const servers = this.#servers;
    if (!servers) throw new MailLinkError(this.#missing());
    const handler = servers.handlers[name.toLowerCase()];
    if (!handler) return { ok: false, error: `mail hook "${servers.name}" does not answer "${name}" (is the role that does enabled?)` };
    return handler(body === undefined ? { name, params } : { name, params, body });
  }

  onStored(listener: (user: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#unwatch();
    this.#detach?.();
    this.#detach = undefined;
    this.#servers = undefined;
  }

  #attach(): void {
    const servers = findMailServers(this.#owner, this.#name);
    if (servers === this.#servers) return;
    this.#detach?.();
    this.#detach = undefined;
    this.#servers = servers;
    if (servers) {
      this.#detach = servers.onStored((user) => {
        for (const listener of this.#listeners) listener(user);
      });
      this.#log.debug({ hook: servers.name }, 'mail servers found in this process');
    }
    this.onChange?.();
  }

  #missing(): string {
    if (this.#name !== undefined) return `no mail hook named "${this.#name}" is running in this porter`;
    const names = mailServerNames(this.#owner);
    return names.length > 1
      ? `this porter runs several mail hooks (${names.join(', ')}): set the plug's \`server\``
      : 'no mail hook is running in this porter (yet)';
  }
}

export interface IpcMailLinkOptions {
  /** `unix:/path`, `/path` or `tcp:host:port`. */
  readonly address: string;
  readonly token?: string;
  readonly domains: readonly string[];
  readonly log: Logger;
  readonly timeoutMs?: number;
}

/** The servers of a mail hook in another process, over its IPC socket. */
export class IpcMailLink implements MailLink {
  readonly where: string;
  readonly #client: IpcClient;
  readonly #domains: readonly string[];

  constructor(options: IpcMailLinkOptions) {
    this.where = options.address;
    this.#domains = options.domains;
    this.#client = new IpcClient({
      address: options.address,
      log: options.log,
      timeoutMs: options.timeoutMs ?? 30_000,
      ...(options.token === undefined ? {} : { token: options.token }),
    });
  }

  domains(): readonly string[] {
    return this.#domains;
  }

  async request(name: string, params: readonly string[], body?: Buffer): Promise<IpcReply> {
    try {
      return await this.#client.request(name, params, body);
    } catch (error) {
      throw new MailLinkError(`mail servers at ${this.where}: ${(error as Error).message}`, { cause: error });
    }
  }

  onStored(): () => void {
    return () => {};
  }

  async close(): Promise<void> {
    await this.#client.close();
  }
}
