/**
 * The mail plug: e-mail as a network. A channel is a mail address with a mailbox on porter's mail
 * servers; mail arriving there becomes a message for the hooks, and a message sent to the channel
 * becomes mail queued for delivery. It reaches the servers in this process (the mail hook) or over
 * IPC. See README.md beside this file.
 */
import { z } from 'zod';
import type { Channel } from '../../core/channel.js';
import { PlugError } from '../../core/errors.js';
import { type Message, type Receipt, RichText, type Segment, type SentMessage, type User } from '../../core/message.js';
import { NO_CAPABILITIES, Plug, type PlugCapabilities } from '../../core/plug.js';
import type { MailSending, OutgoingMail } from '../../mail/local.js';
import { IpcError } from '../../mail/protocol.js';
import { composeMessage, composeOutgoing, newMessageId, originOf, subjectOf } from './compose.js';
import { ask, IpcMailLink, LocalMailLink, type MailLink, MailLinkError, mailUserOf, queueForSmtp } from './link.js';
import { digest, type MailRaw, type ParsedIncoming, parseMail } from './parse.js';

export type { MailRaw } from './parse.js';

const ADDRESS = /^[^\s@<>(),;:"]+@[^\s@<>(),;:"]+$/;
const address = z.string().regex(ADDRESS, 'expected a mail address such as team@example.org');

export const mailPlugConfigSchema = z
  .strictObject({
    /** The mail hook (its name in `hooks`) whose servers this plug uses, in this porter; default: its only mail hook. */
    server: z.string().min(1).optional(),
    /** The mail servers of another porter process, over their IPC socket. */
    ipc: z
      .strictObject({
        /** The mail hook's Unix socket (its `ipc.socket`), relative to the config file's folder. */
        socket: z.string().min(1).optional(),
        /** `host:port` of the mail hook's IPC over TCP. */
        tcp: z.string().min(1).optional(),
        /** The mail hook's `ipc.tcp.token`. */
        token: z.string().min(16, 'the IPC token must be at least 16 characters').optional(),
        /** The mail hook's local domains: recipients there are stored in mailboxes; others go to SMTP out. */
        domains: z.array(z.string().min(1)).default([]),
      })
      .superRefine((ipc, ctx) => {
        if ((ipc.socket === undefined) === (ipc.tcp === undefined))
          ctx.addIssue({ code: 'custom', message: 'ipc needs either socket or tcp' });
        if (ipc.tcp !== undefined && ipc.token === undefined)
          ctx.addIssue({ code: 'custom', path: ['token'], message: 'ipc.tcp needs the token of the mail hook' });
        if (ipc.tcp !== undefined && !/^(?:\[[^\]]+\]|[^:[\]]+):\d{1,5}$/.test(ipc.tcp))
          ctx.addIssue({ code: 'custom', path: ['tcp'], message: `expected host:port, not "${ipc.tcp}"` });
      })
      .optional(),
    /** Seconds between two looks into the channels' mailboxes. */
    poll: z.number().positive().default(2),
    /** Channel address → who gets the mail sent to that channel. */
    recipients: z.record(address, z.array(address).min(1, 'list at least one recipient')).default({}),
    /** The subject of mail sent for a message without one; default: the message's first line. */
    subject: z.string().optional(),
    /** Show a mail's subject as the first line (bold) of its message's text. */
    'show-subject': z.boolean().default(true),
    /** Mail larger than this many bytes is not handed over (see `hold`). */
    'max-size': z
      .number()
      .int()
      .positive()
      .default(25 * 1024 * 1024),
    /** A mail user (or address) whose mailbox gets the mail this plug does not hand over; default: it stays where it is. */
    hold: z.string().min(1).optional(),
  })
  .superRefine((cfg, ctx) => {
    if (cfg.server !== undefined && cfg.ipc !== undefined)
      ctx.addIssue({ code: 'custom', path: ['ipc'], message: 'give either server (in this porter) or ipc (another process), not both' });
  });

export type MailPlugConfig = z.output<typeof mailPlugConfigSchema>;

/** Longest wait between two tries while the mail servers cannot be reached. */
const MAX_BACKOFF_MS = 30_000;
/** Mails read and parsed at once, and the most bytes they may have together (at least one mail is read). */
const BATCH = 8;
const BATCH_BYTES = 16 * 1024 * 1024;
const AUTOMATIC = 'mail made by a program (a bounce or an auto-reply) is not bridged';

/** A mail of a listing, as #read found it. */
type ReadMail =
  | { readonly kind: 'gone' }
  | { readonly kind: 'left' }
  | { readonly kind: 'large'; readonly number: number; readonly size: number }
  | { readonly kind: 'handed'; readonly number: number; readonly key: string }
  | { readonly kind: 'unreadable'; readonly number: number; readonly bytes: Buffer; readonly key: string; readonly error: string }
  | { readonly kind: 'mail'; readonly number: number; readonly bytes: Buffer; readonly key: string; readonly parsed: ParsedIncoming };

/** How long a plug waits quietly for the mail hook of its own porter to open. */
const HOOK_WAIT_MS = 10_000;
/** How long a local recipient's mail user is remembered; a user removed meanwhile makes the mailbox refuse the mail. */
const RECIPIENT_MEMORY_MS = 60_000;
/** Digests remembered of mail handed over whose deletion failed, and of mail left in place. */
const MEMORY = 10_000;

export class MailPlug extends Plug<MailPlugConfig> implements MailSending {
  static readonly configSchema = () => mailPlugConfigSchema;

  readonly network = 'Mail';
  override readonly capabilities: PlugCapabilities = { ...NO_CAPABILITIES, files: true };
  // Mail porter sent carries X-Porter-Origin, which survives restarts: the plug marks its echoes itself.
  override readonly marksEchoes = true;

  #link: MailLink | undefined;
  #unsubscribe: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = true;
  #failures = 0;
  #startedAt = 0;
  /** Channel address → its mail user, once found. */
  readonly #users = new Map<string, string>();
  /** Mail (user + digest) handed to the host whose `dele` has not succeeded yet: deleted, never handed twice. */
  readonly #handed = new Set<string>();
  /** Mail (user + digest) not handed over and left in its mailbox: not looked at again in this run. */
  readonly #left = new Set<string>();
  /** Local recipient address → its mail user, for RECIPIENT_MEMORY_MS. */
  readonly #recipientUsers = new Map<string, { user: string; until: number }>();
  /** Things said once per run (a missing user, an oversized mail). */
  readonly #said = new Set<string>();

  protected override async start(): Promise<void> {
    const ipc = this.config.ipc;
    let link: MailLink;
    if (ipc) {
      const where = ipc.socket !== undefined ? `unix:${resolveIn(this.host.config.baseDir, ipc.socket)}` : `tcp:${ipc.tcp}`;
      link = new IpcMailLink({
        address: where,
        domains: ipc.domains,
        log: this.log,
        ...(ipc.token === undefined ? {} : { token: ipc.token }),
      });
    } else {
      const local = new LocalMailLink(this.host, this.config.server, this.log);
      // The host opens plugs before hooks: the mail hook registers later, and the plug starts reading then.
      local.onChange = () => this.#kick();
      link = local;
    }
    this.#link = link;
    this.#unsubscribe = link.onStored((user) => {
      if ([...this.#users.values()].includes(user)) this.#kick();
    });
    for (const channel of this.#channels()) {
      if (!ADDRESS.test(channel.source))
        this.log.error({ channel: channel.key }, `channel source "${channel.source}" is not a mail address; the plug ignores it`);
    }
    this.#stopped = false;
    this.#startedAt = Date.now();
    this.#kick();
  }

  protected override async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    await this.#link?.close();
    this.#link = undefined;
  }

  override async channels(): Promise<Channel[]> {
    return this.#channels();
  }

  override async channelIsPrivate(): Promise<boolean> {
    return false;
  }

  /** Sends a message as mail from the channel's address to the channel's `recipients`. */
  async send(channel: Channel, message: Message): Promise<Receipt[]> {
    // Mail cannot be taken back, and joins or leaves are not worth a mail.
    if (message.deleted) return [];
    if (!message.text?.toPlain().trim() && !message.attachments?.length) return [];
    const from = channel.source;
    const to = this.#recipientsOf(from);
    if (to.length === 0) {
      throw new PlugError(
        `cannot send to ${channel.key}: no recipients for ${from} (set recipients.${from} in the config of plug "${this.name}")`,
      );
    }
    const messageId = newMessageId(from);
    const subject = subjectOf(message, this.config.subject);
    const bytes = await composeMessage(message, { from, to, subject, origin: originOf(this.name, from), messageId });
    await this.#deliver(from, to, bytes, channel.key);
    return [{ id: messageId, channel, at: new Date() }];
  }

  /** Queues a hook's own mail (e.g. an iTIP reply) from one of this plug's addresses; resolves with its Message-ID. */
  async sendMail(mail: OutgoingMail): Promise<string> {
    if (!ADDRESS.test(mail.from)) throw new PlugError(`cannot send mail from "${mail.from}": not a mail address`);
    if (mail.to.length === 0) throw new PlugError(`cannot send mail from ${mail.from}: no recipients`);
    const { bytes, messageId } = await composeOutgoing(mail, originOf(this.name, mail.from));
    await this.#deliver(mail.from, mail.to, bytes, mail.from);
    return messageId ?? '';
  }

  // ---- sending ---------------------------------------------------------------------------

  #recipientsOf(source: string): string[] {
    const wanted = source.toLowerCase();
    for (const [key, list] of Object.entries(this.config.recipients)) if (key.toLowerCase() === wanted) return list;
    return [];
  }

  /**
   * Local recipients (in the mail hook's domains) get the mail stored in their mailbox at once;
   * the others through SMTP out (`slot` + `send`). Nothing is delivered when a local recipient
   * has no mailbox: the error names it.
   */
  async #deliver(from: string, to: readonly string[], bytes: Buffer, what: string): Promise<void> {
    const link = this.#link;
    if (!link) throw new PlugError(`cannot send to ${what}: plug "${this.name}" is not running`);
    try {
      const domains = new Set(link.domains().map((d) => d.toLowerCase()));
      const local: { address: string; user: string }[] = [];
      const remote: string[] = [];
      const unknown: string[] = [];
      for (const rcpt of to) {
        if (!domains.has(rcpt.slice(rcpt.lastIndexOf('@') + 1).toLowerCase())) {
          remote.push(rcpt);
          continue;
        }
        const user = await this.#recipientUser(link, rcpt);
        if (user === undefined) unknown.push(rcpt);
        else local.push({ address: rcpt, user });
      }
      if (unknown.length > 0) {
        throw new PlugError(
          `cannot send to ${what}: no mailbox for ${unknown.map((a) => `<${a}>`).join(', ')} (create it with porter user add)`,
        );
      }
      for (const { address: rcpt, user } of local) await ask(link, 'store', [rcpt, user, String(bytes.length)], bytes);
      const id = remote.length > 0 ? await queueForSmtp(link, from, remote, bytes) : undefined;
      this.log.info({ from, local: local.map((l) => l.address), remote, outbound: id }, 'mail queued');
    } catch (error) {
      if (error instanceof PlugError) throw error;
      if (error instanceof MailLinkError || error instanceof IpcError) {
        throw new PlugError(`cannot send to ${what}: ${error.message}`, { cause: error });
      }
      throw error;
    }
  }

  /** The mail user of a local recipient, remembered for a while: a send would otherwise cost one or two user lookups per recipient. */
  async #recipientUser(link: MailLink, address: string): Promise<string | undefined> {
    const key = address.toLowerCase();
    const known = this.#recipientUsers.get(key);
    if (known && known.until > Date.now()) return known.user;
    const user = await mailUserOf(link, address);
    // Only found users are remembered: one added a moment ago is found at the next send.
    if (user === undefined) this.#recipientUsers.delete(key);
    else {
      if (this.#recipientUsers.size >= MEMORY) this.#recipientUsers.clear();
      this.#recipientUsers.set(key, { user, until: Date.now() + RECIPIENT_MEMORY_MS });
    }
    return user;
  }

  // ---- receiving -------------------------------------------------------------------------

  #channels(): Channel[] {
    return [...this.host.namedChannels.values()].filter((c) => c.plug === this);
  }

  /** Looks into the mailboxes now, or right after the look in progress. */
  #kick(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#running = this.#pollAll().finally(() => {
      this.#running = undefined;
      if (this.#stopped) return;
      const again = this.#again;
      this.#again = false;
      const base = this.config.poll * 1000;
      const delay = again ? 0 : this.#failures > 0 ? Math.min(base * 2 ** this.#failures, MAX_BACKOFF_MS) : base;
      this.#timer = setTimeout(() => this.#kick(), delay);
    });
  }

  async #pollAll(): Promise<void> {
    for (const channel of this.#channels()) {
      if (this.#stopped) return;
      if (!ADDRESS.test(channel.source)) continue;
      try {
        await this.#pollChannel(channel);
        if (this.#failures > 0) this.log.info({ servers: this.#link?.where }, 'mail servers reachable again');
        this.#failures = 0;
      } catch (error) {
        if (error instanceof MailLinkError) {
          if (this.#link instanceof LocalMailLink && !this.#link.attached) {
            // The host opens plugs before hooks: the mail hook's arrival kicks the next poll.
            if (Date.now() - this.#startedAt > HOOK_WAIT_MS)
              this.#sayOnce('no-hook', () =>
                this.log.warn({ err: error }, 'still no mail servers in this porter; mail waits in the mailboxes'),
              );
            return;
          }
          if (this.#failures === 0)
            this.log.warn({ err: error, servers: this.#link?.where }, 'cannot reach the mail servers; trying again');
          this.#failures++;
          return;
        }
        this.log.error({ err: error, channel: channel.key }, 'reading the mailbox failed; trying again at the next poll');
      }
    }
  }

  async #mailUser(channel: Channel): Promise<string | undefined> {
    const address = channel.source.toLowerCase();
    const known = this.#users.get(address);
    if (known !== undefined) return known;
    const user = await mailUserOf(this.#link!, channel.source);
    if (user === undefined) {
      this.#sayOnce(`user:${address}`, () =>
        this.log.error({ channel: channel.key }, `no mail user for ${channel.source}: create it with porter user add ${channel.source}`),
      );
      return undefined;
    }
    this.#users.set(address, user);
    return user;
  }

  async #pollChannel(channel: Channel): Promise<void> {
    const link = this.#link!;
    const user = await this.#mailUser(channel);
    if (user === undefined) return;
    const listing = await ask(link, 'list', [user]);
    const entries = (listing.lines ?? []).flatMap((line) => {
      const m = /^mailinfo:\s*(\d+)\s*;\s*(\d+)/.exec(line);
      return m ? [{ number: Number(m[1]), size: Number(m[2]) }] : [];
    });
    let next = 0;
    while (next < entries.length) {
      if (this.#stopped) return;
      // Mails are read and parsed a few at a time, concurrently (parsing waits on mailparser's
      // stream more than it computes), and handed over strictly in the mailbox's order.
      const batch: { number: number; size: number }[] = [];
      let bytes = 0;
      while (next < entries.length && batch.length < BATCH && (batch.length === 0 || bytes + entries[next]!.size <= BATCH_BYTES)) {
        bytes += entries[next]!.size;
        batch.push(entries[next++]!);
      }
      const read = await Promise.all(batch.map((entry) => this.#read(user, entry.number, entry.size)));
      const deletions: Promise<void>[] = [];
      for (const mail of read) {
        if (this.#stopped) break;
        if (mail.kind === 'gone' || mail.kind === 'left') continue;
        if (mail.kind === 'large') await this.#tooLarge(channel, user, mail.number, mail.size);
        else if (mail.kind === 'handed') deletions.push(this.#delete(user, mail.number, mail.key));
        else if (mail.kind === 'unreadable')
          await this.#refuse(channel, user, mail.number, mail.bytes, mail.key, `the mail cannot be parsed: ${mail.error}`);
        else if (mail.parsed.raw.automatic)
          await this.#refuse(channel, user, mail.number, mail.bytes, mail.key, AUTOMATIC, mail.parsed.raw);
        else {
          const message = this.#message(channel, mail.parsed, mail.key);
          if (!this.receive(message)) {
            // The host is closing: the mail stays in the mailbox for the next run.
            this.#stopped = true;
            break;
          }
          this.log.info(
            { channel: channel.key, id: message.id, from: mail.parsed.raw.from?.address, echo: message.fromPorter === true },
            'mail handed over',
          );
          this.#remember(this.#handed, mail.key);
          deletions.push(this.#delete(user, mail.number, mail.key));
        }
      }
      await Promise.all(deletions);
    }
  }

  /** Message `number` of the user's listing, read and parsed, or why there is nothing to hand over. */
  async #read(user: string, number: number, size: number): Promise<ReadMail> {
    if (size > this.config['max-size']) return { kind: 'large', number, size };
    const reply = await this.#link!.request('retr', [user, String(number)]);
    // Taken meanwhile by someone else (a POP3 session): nothing to do.
    if (!reply.ok || !reply.body) return { kind: 'gone' };
    const bytes = reply.body;
    const key = `${user}\u0000${digest(bytes)}`;
    if (this.#handed.has(key)) return { kind: 'handed', number, key };
    if (this.#left.has(key)) return { kind: 'left' };
    try {
      return { kind: 'mail', number, bytes, key, parsed: await parseMail(bytes, user) };
    } catch (error) {
      return { kind: 'unreadable', number, bytes, key, error: (error as Error).message };
    }
  }

  async #delete(user: string, number: number, key: string): Promise<void> {
    const reply = await this.#link!.request('dele', [user, String(number)]);
    if (reply.ok) {
      this.#handed.delete(key);
      return;
    }
    // Stays in #handed: the next poll finds it again and deletes it without handing it over twice.
    this.log.warn({ user, number, error: reply.error }, 'cannot delete a mail handed over; trying again at the next poll');
  }

  /** A mail over `max-size`: moved to `hold` when set, else left in the mailbox (said once). */
  async #tooLarge(channel: Channel, user: string, number: number, size: number): Promise<void> {
    const reason = `the mail has ${size} bytes, more than max-size (${this.config['max-size']})`;
    if (this.config.hold !== undefined) {
      const reply = await this.#link!.request('retr', [user, String(number)]);
      if (!reply.ok || !reply.body) return;
      await this.#refuse(channel, user, number, reply.body, `${user}\u0000${digest(reply.body)}`, reason);
      return;
    }
    this.#sayOnce(`size:${user}:${size}`, () =>
      this.log.warn(
        { channel: channel.key, mailbox: user, number, size },
        `mail not handed over: ${reason}; it stays in the mailbox of ${user} (read it by POP3, or set hold)`,
      ),
    );
  }

  /** A mail the plug does not hand over: moved to the `hold` mailbox, or left where it is; logged either way. */
  async #refuse(channel: Channel, user: string, number: number, bytes: Buffer, key: string, reason: string, raw?: MailRaw): Promise<void> {
    const about = {
      channel: channel.key,
      mailbox: user,
      size: bytes.length,
      ...(raw ? { from: raw.from?.address ?? '<>', subject: raw.subject, messageId: raw.messageId } : {}),
    };
    const hold = this.config.hold;
    if (hold !== undefined) {
      const holder = await mailUserOf(this.#link!, hold);
      if (holder !== undefined && holder !== user) {
        const stored = await this.#link!.request('store', [channel.source, holder, String(bytes.length)], bytes);
        if (stored.ok) {
          this.log.warn({ ...about, heldIn: holder }, `mail not handed over: ${reason}; moved to the mailbox of ${holder}`);
          await this.#delete(user, number, key);
          return;
        }
        this.log.error({ ...about, heldIn: holder, error: stored.error }, 'cannot move a mail to the hold mailbox; it stays where it is');
      } else if (holder === undefined) {
        this.#sayOnce(`hold:${hold}`, () =>
          this.log.error({ hold }, `no mail user for hold "${hold}": mail not handed over stays where it is`),
        );
      }
    }
    this.#remember(this.#left, key);
    this.log.warn(about, `mail not handed over: ${reason}; it stays in the mailbox of ${user} (read it by POP3, or set hold)`);
  }

  #message(channel: Channel, parsed: ParsedIncoming, key: string): SentMessage {
    const { raw, text, attachments } = parsed;
    const from = raw.from!;
    const user: User = {
      id: from.address.toLowerCase(),
      plug: this.name,
      username: from.address,
      ...(from.name ? { realName: from.name } : {}),
      link: `mailto:${from.address}`,
    };
    const segments: Segment[] = [];
    if (this.config['show-subject'] && raw.subject) {
      segments.push({ text: raw.subject, bold: true });
      if (text) segments.push({ text: '\n' });
    }
    if (text) segments.push({ text });
    const at = raw.date ?? new Date();
    const echo = raw.origin?.startsWith(`${this.name} <`) ?? false;
    return {
      id: raw.messageId ?? `sha256:${key.slice(key.indexOf('\u0000') + 1, key.indexOf('\u0000') + 33)}`,
      channel,
      at,
      user,
      text: new RichText(segments),
      ...(raw.subject ? { title: raw.subject } : {}),
      ...(attachments.length > 0 ? { attachments } : {}),
      ...(raw.inReplyTo ? { replyTo: { id: raw.inReplyTo, channel, at } } : {}),
      raw,
      ...(echo ? { fromPorter: true } : {}),
    };
  }

  #remember(set: Set<string>, key: string): void {
    if (set.size >= MEMORY) set.delete(set.values().next().value as string);
    set.add(key);
  }

  #sayOnce(key: string, say: () => void): void {
    if (this.#said.has(key)) return;
    this.#said.add(key);
    say();
  }
}

function resolveIn(baseDir: string, path: string): string {
  return path.startsWith('/') ? path : `${baseDir.replace(/\/$/, '')}/${path}`;
}
