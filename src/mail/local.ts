/**
 * Mail servers running in this process, for the consumers that live beside them (the mail plug):
 * each mail hook registers its IPC handler table here under its name, so a plug in the same
 * process calls the servers directly, with the same messages it would send over IPC. Also the
 * typed interface through which hooks send mail through a mail plug.
 */
import type { IpcHandlers } from './protocol.js';

/** One mail hook's servers, as registered while it is open. */
export interface LocalMailServers {
  /** The hook's name in the config. */
  readonly name: string;
  /** Whose servers these are: the host that runs the hook (two hosts in one process keep apart). */
  readonly owner: object;
  /** Every enabled role's IPC messages (`verify`, `slot`, `send`, `list`, `retr`, `dele`, `store`, …), by lower-case name. */
  readonly handlers: IpcHandlers;
  /** The hook's local domains: mail for them is stored in mailboxes. */
  readonly domains: readonly string[];
  /** Calls `listener` with the mail user each time a message was stored in a mailbox; returns the unsubscribe. */
  onStored(listener: (user: string) => void): () => void;
}

const registered = new Map<string, LocalMailServers>();
const watchers = new Set<() => void>();

function key(owner: object, name: string): string {
  return `${ownerId(owner)}\u0000${name}`;
}

const owners = new WeakMap<object, number>();
let nextOwner = 1;
function ownerId(owner: object): number {
  let id = owners.get(owner);
  if (id === undefined) {
    id = nextOwner++;
    owners.set(owner, id);
  }
  return id;
}

function changed(): void {
  for (const watcher of watchers) watcher();
}

/** Makes a hook's servers reachable in this process; the returned function takes them away again. */
export function registerMailServers(servers: LocalMailServers): () => void {
  const k = key(servers.owner, servers.name);
  registered.set(k, servers);
  changed();
  return () => {
    if (registered.get(k) !== servers) return;
    registered.delete(k);
    changed();
  };
}

/**
 * The servers of the mail hook `name` of `owner`; without a name, of its only mail hook. Undefined
 * while there is none (the host opens plugs before hooks, so a plug asks again when told of a change).
 */
export function findMailServers(owner: object, name?: string): LocalMailServers | undefined {
  if (name !== undefined) return registered.get(key(owner, name));
  const mine = [...registered.values()].filter((s) => s.owner === owner);
  return mine.length === 1 ? mine[0] : undefined;
}

/** The names of the mail hooks `owner` has registered (for error messages). */
export function mailServerNames(owner: object): string[] {
  return [...registered.values()].filter((s) => s.owner === owner).map((s) => s.name);
}

/** Calls `listener` whenever a hook registers or unregisters its servers; returns the unsubscribe. */
export function watchMailServers(listener: () => void): () => void {
  watchers.add(listener);
  return () => watchers.delete(listener);
}

/** An attachment of a mail composed through `MailSending.sendMail`. */
export interface OutgoingAttachment {
  readonly filename: string;
  readonly contentType?: string;
  readonly content: Buffer | string;
}

/** What goes into a mail a hook sends: either ready-made bytes, or the parts to compose it from. */
export type OutgoingMail =
  | {
      /** A channel source of the plug (an address with a mailbox): the envelope sender and, when composed, `From:`. */
      readonly from: string;
      readonly to: readonly string[];
      /** A whole RFC 5322 message, sent as it is. */
      readonly raw: Buffer;
    }
  | {
      readonly from: string;
      /** The display name in `From:`. */
      readonly fromName?: string;
      readonly to: readonly string[];
      readonly cc?: readonly string[];
      readonly subject: string;
      readonly text?: string;
      readonly html?: string;
      readonly attachments?: readonly OutgoingAttachment[];
      /** A text/calendar alternative part, e.g. an iTIP REPLY. */
      readonly calendar?: { readonly method: string; readonly content: string };
      /** A Message-ID (with or without angle brackets); one is made when absent. */
      readonly messageId?: string;
      readonly inReplyTo?: string;
      readonly references?: readonly string[];
      /** RFC 3834: mail made by a program (`auto-generated`) or in answer to another (`auto-replied`). */
      readonly autoSubmitted?: 'auto-generated' | 'auto-replied';
      readonly headers?: Readonly<Record<string, string>>;
    };

/** What a mail plug offers other hooks besides `send`: mail of their own making, queued for delivery. */
export interface MailSending {
  /** Queues the mail (local recipients into their mailboxes, others to SMTP out); resolves with its Message-ID once durable. */
  sendMail(mail: OutgoingMail): Promise<string>;
}

/** Whether `plug` (say, `host.plugs.get(name)`) can send mail of a hook's own making. */
export function isMailSending(plug: unknown): plug is MailSending {
  return typeof (plug as { sendMail?: unknown } | null)?.sendMail === 'function';
}
