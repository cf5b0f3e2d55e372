/**
 * The mail hook: runs porter's mail servers (auth, queue, SMTP in, SMTP out, mailboxes, POP3 and
 * their IPC) in the host, and moves mail between them: local mail from the queue into mailboxes,
 * relayed mail from the queue to SMTP out. See README.md beside this file for its config.
 */
import { readFile } from 'node:fs/promises';
import { hostname as machineName } from 'node:os';
import { resolve } from 'node:path';
import { z } from 'zod';
import type { ConfigRefs } from '../../core/component.js';
import { Hook } from '../../core/hook.js';
import { MailUsers } from '../../mail/auth/index.js';
import { AlertSender, IpcServer } from '../../mail/ipc/index.js';
import { MailboxError, Mailboxes } from '../../mail/mailbox/index.js';
import { Pop3Server } from '../../mail/pop3/index.js';
import type { IpcHandlers } from '../../mail/protocol.js';
import { MailQueue } from '../../mail/queue/index.js';
import {
  type BoundListener,
  INCOMING_QUEUE,
  OUTGOING_QUEUE,
  parseListenAddress,
  readSpooled,
  SmtpReceiver,
  smtpInConfigSchema,
} from '../../mail/smtp-in/index.js';
import { buildBounce, SmtpSender } from '../../mail/smtp-out/index.js';
import { QueueWorker } from './delivery.js';

export const MAIL_ROLES = ['auth', 'queue', 'smtp-in', 'smtp-out', 'mailbox', 'pop3'] as const;
export type MailRole = (typeof MAIL_ROLES)[number];

/** The queue that IPC clients put messages into for `send: from ; to ; slot` (SMTP out takes them from there). */
export const SEND_QUEUE = 'send';

/**
 * What each role needs in the same process. The roles talk to each other in-process only: over
 * IPC, each would need a client of the others, which is not written yet.
 */
const NEEDS: Readonly<Partial<Record<MailRole, readonly MailRole[]>>> = {
  'smtp-in': ['auth', 'queue', 'mailbox', 'smtp-out'],
  pop3: ['auth', 'mailbox'],
};

const listenAddress = z.string().superRefine((text, ctx) => {
  try {
    parseListenAddress(text);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
  }
});

const tlsFiles = z.strictObject({ cert: z.string().min(1), key: z.string().min(1) });

export interface Pop3ListenerConfig {
  readonly address: string;
  readonly tls?: { readonly cert: string; readonly key: string };
  readonly 'implicit-tls': boolean;
  readonly 'require-tls': boolean;
}

/** A bare `host:port`: plain POP3 without TLS. */
const plainPop3 = (address: string): Pop3ListenerConfig => ({ address, 'implicit-tls': false, 'require-tls': false });

const pop3Listener = z.union([
  listenAddress.transform(plainPop3),
  z
    .strictObject({
      /** `host:port`; `[::1]:110` for IPv6. */
      address: listenAddress,
      /** Certificate and key files (PEM): STLS is offered (or, with `implicit-tls`, TLS from the first byte, as on port 995). */
      tls: tlsFiles.optional(),
      'implicit-tls': z.boolean().default(false),
      /** Refuse USER, PASS and AUTH until the connection is encrypted. */
      'require-tls': z.boolean().default(false),
    })
    .superRefine((listener: Pop3ListenerConfig, ctx) => {
      for (const key of ['implicit-tls', 'require-tls'] as const) {
        if (listener[key] && !listener.tls) ctx.addIssue({ code: 'custom', path: [key], message: `${key} needs tls (cert and key)` });
      }
    }),
]);

const seconds = z.number().positive();

const outboundSchema = z.strictObject({
  /** The name said in EHLO and in bounces; default: the machine's host name. */
  hostname: z.string().min(1).optional(),
  /** Send everything through this relay instead of looking up MX records. */
  smarthost: z
    .strictObject({
      host: z.string().min(1),
      port: z.number().int().min(1).max(65_535).default(25),
      auth: z.strictObject({ user: z.string().min(1), pass: z.string() }).optional(),
      /** TLS from the first byte (port 465). */
      secure: z.boolean().default(false),
      /** Refuse to send unless STARTTLS succeeds. */
      'require-tls': z.boolean().default(false),
    })
    .optional(),
  /** Seconds before the first retry of a deferred message, doubling up to `max` (Postfix's minimal and maximal backoff). */
  backoff: z
    .strictObject({ min: seconds.default(300), max: seconds.default(4000) })
    .refine((b) => b.max >= b.min, { message: 'backoff.max must not be smaller than backoff.min', path: ['max'] })
    .prefault({}),
  /** Seconds a message may stay deferred before it is bounced (Postfix's maximal_queue_lifetime: 5 days). */
  lifetime: seconds.default(5 * 24 * 3600),
  /** DKIM signing of outgoing mail. */
  dkim: z.strictObject({ domain: z.string().min(1), selector: z.string().min(1), key: z.string().min(1) }).optional(),
});

const ipcSchema = z
  .strictObject({
    /** A Unix socket (created 0600), relative to the config file's folder. */
    socket: z.string().min(1).optional(),
    tcp: z
      .strictObject({
        address: listenAddress,
        /** Clients must send `token: SECRET` first. */
        token: z.string().min(16, 'the IPC token must be at least 16 characters'),
      })
      .optional(),
  })
  .refine((ipc) => ipc.socket !== undefined || ipc.tcp !== undefined, 'ipc needs a socket, tcp, or both');

export const mailConfigSchema = (_refs: ConfigRefs) =>
  z
    .strictObject({
      /** Mail for these domains is delivered to local mailboxes; anything else is relayed for authenticated users only. */
      domains: z.array(smtpInConfigSchema.shape.domains.element).min(1, 'name at least one local domain'),
      /** The queues and SMTP out's spool, relative to the config file's folder. */
      spool: z.string().min(1).default('spool'),
      /** One maildir per user, relative to the config file's folder. */
      mailboxes: z.string().min(1).default('mail'),
      /** The SMTP, submission and LMTP listeners (the domains come from `domains`). */
      smtp: smtpInConfigSchema
        .omit({ domains: true })
        .extend({
          // Said plainly, rather than "unknown key": SMTP in serves the hook's domains.
          domains: z.never({ error: "the local domains are the hook's `domains`, not smtp.domains" }).optional(),
        })
        .optional(),
      pop3: z.union([listenAddress.transform((address) => [plainPop3(address)]), z.array(pop3Listener)]).default([]),
      outbound: outboundSchema.prefault({}),
      /** Every enabled role's IPC messages, on a Unix socket and/or TCP. */
      ipc: ipcSchema.optional(),
      /** The servers this process runs. */
      roles: z
        .array(z.enum(MAIL_ROLES))
        .min(1)
        .default([...MAIL_ROLES]),
    })
    .superRefine((cfg, ctx) => {
      const roles = new Set(cfg.roles);
      for (const role of cfg.roles) {
        for (const need of NEEDS[role] ?? []) {
          if (!roles.has(need))
            ctx.addIssue({
              code: 'custom',
              path: ['roles'],
              message: `role "${role}" needs "${need}" in the same process (splitting the roles across processes over IPC is not supported yet)`,
            });
        }
      }
      if (roles.has('smtp-in') && !cfg.smtp)
        ctx.addIssue({ code: 'custom', path: ['smtp'], message: 'the smtp-in role needs smtp.listeners' });
      if (roles.has('pop3') && cfg.pop3.length === 0)
        ctx.addIssue({ code: 'custom', path: ['pop3'], message: 'the pop3 role needs at least one pop3 address' });
    });

export type MailConfig = z.output<ReturnType<typeof mailConfigSchema>>;

/** Where the mail hook listens, once open (ports resolved when the config asked for port 0). */
export interface MailListeners {
  readonly smtp: readonly BoundListener[];
  readonly pop3: readonly { readonly host: string; readonly port: number }[];
  readonly ipcTcpPort?: number;
}

export class MailHook extends Hook<MailConfig> {
  static readonly configSchema = mailConfigSchema;
  // The users' table is the auth server's; `porter user` applies the same migrations under the same owner.
  static readonly migrations = MailUsers.migrations;
  static readonly migrationOwner = MailUsers.migrationOwner;

  #users: MailUsers | undefined;
  #queue: MailQueue | undefined;
  #alerts: AlertSender | undefined;
  #mailboxes: Mailboxes | undefined;
  #sender: SmtpSender | undefined;
  #receiver: SmtpReceiver | undefined;
  readonly #pop3: { server: Pop3Server; host: string; port: number }[] = [];
  readonly #workers: QueueWorker[] = [];
  #ipc: IpcServer | undefined;

  /** The listeners' real addresses. */
  get listeners(): MailListeners {
    return {
      smtp: this.#receiver?.listeners ?? [],
      pop3: this.#pop3.map(({ host, port }) => ({ host, port })),
      ...(this.#ipc?.tcpPort === undefined ? {} : { ipcTcpPort: this.#ipc.tcpPort }),
    };
  }

  /** The mailboxes, for tests and other hooks; undefined without the mailbox role. */
  get mailboxes(): Mailboxes | undefined {
    return this.#mailboxes;
  }

  /** The outbound server, for tests and other hooks; undefined without the smtp-out role. */
  get sender(): SmtpSender | undefined {
    return this.#sender;
  }

  protected override async start(): Promise<void> {
    try {
      await this.#start();
    } catch (error) {
      // A listener that cannot bind must not leave the others listening until the host stops.
      await this.stop();
      throw error;
    }
  }

  async #start(): Promise<void> {
    const cfg = this.config;
    const roles = new Set(cfg.roles);
    const baseDir = this.host.config.baseDir;
    const spool = resolve(baseDir, cfg.spool);
    const log = this.log;
    const handlers: IpcHandlers[] = [];

    if (roles.has('auth')) {
      this.#users = new MailUsers(this.host.store, { log: log.child({ role: 'auth' }) });
      handlers.push(this.#users.handlers());
    }
    if (roles.has('queue')) {
      // Alerts go to IPC subscribers only; in-process consumers subscribe with a listener.
      if (cfg.ipc)
        this.#alerts = new AlertSender({
          log,
          onDead: (callback, error) => log.warn({ callback, err: error }, 'a queue subscriber cannot be reached; alerts to it are dropped'),
        });
      const alerts = this.#alerts;
      this.#queue = await MailQueue.open({
        dir: resolve(spool, 'queues'),
        queues: [INCOMING_QUEUE, OUTGOING_QUEUE, SEND_QUEUE],
        log: log.child({ role: 'queue' }),
        ...(alerts ? { alert: (callback: string, queue: string) => alerts.alert(callback, queue) } : {}),
      });
      handlers.push(this.#queue.handlers());
    }
    if (roles.has('mailbox')) {
      const users = this.#users;
      this.#mailboxes = new Mailboxes({
        root: resolve(baseDir, cfg.mailboxes),
        log: log.child({ role: 'mailbox' }),
        ...(users ? { knows: (user: string) => users.verify(user) } : {}),
      });
      handlers.push(this.#mailboxes.handlers());
    }
    if (roles.has('smtp-out')) {
      const out = cfg.outbound;
      const hostname = out.hostname ?? cfg.smtp?.hostname;
      this.#sender = new SmtpSender({
        dir: resolve(spool, 'outbound'),
        log: log.child({ role: 'smtp-out' }),
        ...(this.#queue ? { queue: this.#queue, queueName: SEND_QUEUE } : {}),
        ...(hostname ? { hostname } : {}),
        ...(out.smarthost
          ? {
              smarthost: {
                host: out.smarthost.host,
                port: out.smarthost.port,
                secure: out.smarthost.secure,
                requireTLS: out.smarthost['require-tls'],
                ...(out.smarthost.auth ? { auth: out.smarthost.auth } : {}),
              },
            }
          : {}),
        minimalBackoffMs: out.backoff.min * 1000,
        maximalBackoffMs: out.backoff.max * 1000,
        lifetimeMs: out.lifetime * 1000,
        ...(out.dkim
          ? { dkim: { domainName: out.dkim.domain, keySelector: out.dkim.selector, privateKeyFile: resolve(baseDir, out.dkim.key) } }
          : {}),
        bounce: (to, message) => this.#bounce(to, message),
      });
      await this.#sender.start();
      handlers.push(this.#sender.handlers());
    }
    // Consumers start before the listeners, so that nothing accepted waits for them.
    if (this.#queue && this.#mailboxes) this.#startWorker(INCOMING_QUEUE, (path, done) => this.#deliverLocal(path, done));
    if (this.#queue && this.#sender) this.#startWorker(OUTGOING_QUEUE, (path) => this.#relay(path));

    if (roles.has('smtp-in') && cfg.smtp && this.#queue && this.#users) {
      this.#receiver = new SmtpReceiver({
        config: { ...cfg.smtp, domains: cfg.domains },
        spool: this.#queue,
        users: this.#users,
        log: log.child({ role: 'smtp-in' }),
        baseDir,
      });
      await this.#receiver.open();
      for (const l of this.#receiver.listeners)
        this.host.serve(`mail ${l.mode} ${hostPort(l.host, l.port)}${l.starttls ? ' (STARTTLS)' : ''}`);
    }
    if (roles.has('pop3') && this.#mailboxes && this.#users) {
      for (const listener of cfg.pop3 as readonly Pop3ListenerConfig[]) {
        const tls = listener.tls
          ? { cert: await readFile(resolve(baseDir, listener.tls.cert)), key: await readFile(resolve(baseDir, listener.tls.key)) }
          : undefined;
        const server = new Pop3Server({
          mailboxes: this.#mailboxes,
          users: this.#users,
          log: log.child({ role: 'pop3' }),
          ...(tls ? { tls, implicitTls: listener['implicit-tls'], requireTls: listener['require-tls'] } : {}),
        });
        const { host, port } = parseListenAddress(listener.address);
        const bound = await server.listen(host, port);
        this.#pop3.push({ server, host: bound.address, port: bound.port });
        this.host.serve(`mail pop3 ${hostPort(bound.address, bound.port)}${tls ? (listener['implicit-tls'] ? ' (TLS)' : ' (STLS)') : ''}`);
      }
    }
    if (cfg.ipc) {
      const tcp = cfg.ipc.tcp ? { ...parseListenAddress(cfg.ipc.tcp.address), token: cfg.ipc.tcp.token } : undefined;
      const socket = cfg.ipc.socket === undefined ? undefined : resolve(baseDir, cfg.ipc.socket);
      this.#ipc = new IpcServer({
        handlers,
        log: log.child({ role: 'ipc' }),
        ...(socket ? { path: socket } : {}),
        ...(tcp ? { tcp } : {}),
      });
      await this.#ipc.listen();
      if (socket) this.host.serve(`mail ipc ${socket}`);
      if (tcp) this.host.serve(`mail ipc ${hostPort(tcp.host, this.#ipc.tcpPort ?? tcp.port)}`);
    }
  }

  // In reverse: input stops first (SMTP finishes its pushes), then the consumers finish the
  // message in hand, then the servers under them close. Whatever was not acknowledged stays in
  // the spool for the next start.
  protected override async stop(): Promise<void> {
    const log = this.log;
    const step = async (what: string, close: (() => Promise<void>) | undefined): Promise<void> => {
      try {
        await close?.();
      } catch (error) {
        log.error({ err: error }, `closing ${what} failed`);
      }
    };
    await step('the IPC server', this.#ipc && (() => this.#ipc!.close()));
    await Promise.all(this.#pop3.splice(0).map(({ server }) => step('a POP3 listener', () => server.close())));
    await step('the SMTP listeners', this.#receiver && (() => this.#receiver!.close()));
    await Promise.all(this.#workers.splice(0).map((worker) => step('a queue worker', () => worker.stop())));
    await step('SMTP out', this.#sender && (() => this.#sender!.close()));
    await step('the queue', this.#queue && (() => this.#queue!.close()));
    await step('the queue alerts', this.#alerts && (() => this.#alerts!.close()));
    this.#ipc = undefined;
    this.#receiver = undefined;
    this.#sender = undefined;
    this.#queue = undefined;
    this.#alerts = undefined;
    this.#mailboxes = undefined;
    this.#users = undefined;
  }

  #startWorker(queue: string, handle: (path: string, done: Set<string>) => Promise<void>): void {
    const worker = new QueueWorker({ queue: this.#queue!, name: queue, handle, log: this.log.child({ worker: queue }) });
    this.#workers.push(worker);
    worker.start();
  }

  /** A message of queue `incoming`: stored in each local recipient's mailbox. */
  async #deliverLocal(path: string, done: Set<string>): Promise<void> {
    const { envelope, message } = await readSpooled(path);
    const refused: { address: string; diagnostic: string }[] = [];
    for (const rcpt of envelope.to) {
      if (done.has(rcpt.address) || rcpt.user === undefined) continue;
      try {
        await this.#mailboxes!.store(rcpt.address, rcpt.user, message);
        done.add(rcpt.address);
      } catch (error) {
        // A refusal (the user was removed since RCPT, the message is unstorable) will not change
        // on retry: it is bounced. Anything else (a full disk) is retried.
        if (!(error instanceof MailboxError)) throw error;
        this.log.warn({ id: envelope.id, recipient: rcpt.address, err: error }, 'local delivery refused; bouncing');
        refused.push({ address: rcpt.address, diagnostic: error.message });
        done.add(rcpt.address);
      }
    }
    if (refused.length > 0 && envelope.from !== '') {
      const bounce = buildBounce({
        hostname: this.config.outbound.hostname ?? this.config.smtp?.hostname ?? machineName(),
        to: envelope.from,
        queueId: envelope.id,
        arrivalDate: new Date(envelope.received),
        recipients: refused.map((r) => ({ address: r.address, status: '5.1.1', diagnostic: r.diagnostic })),
        original: message,
      });
      await this.#bounce(envelope.from, bounce);
    }
    this.log.info({ id: envelope.id, from: envelope.from, to: envelope.to.map((r) => r.address) }, 'delivered to mailboxes');
  }

  /** A message of queue `outgoing`: handed to SMTP out, which owns it from then on. */
  async #relay(path: string): Promise<void> {
    const { envelope, message } = await readSpooled(path);
    const id = await this.#sender!.enqueue(
      envelope.from,
      envelope.to.map((r) => r.address),
      message,
    );
    this.log.info({ id: envelope.id, outbound: id, from: envelope.from, to: envelope.to.map((r) => r.address) }, 'queued for delivery');
  }

  /** A bounce (from the null sender) to a local sender goes into their mailbox; to anyone else, out by SMTP. */
  async #bounce(to: string, message: Buffer): Promise<void> {
    const user = await this.#localUser(to);
    if (user !== undefined && this.#mailboxes) {
      await this.#mailboxes.store(to, user, message);
      return;
    }
    if (!this.#sender) throw new Error(`no smtp-out role to send a bounce to <${to}>`);
    await this.#sender.enqueue('', [to], message);
  }

  /** The mail user of a local address, found as the SMTP receiver finds it: by the whole address, else its local part. */
  async #localUser(address: string): Promise<string | undefined> {
    const at = address.lastIndexOf('@');
    const domain = address.slice(at + 1).toLowerCase();
    if (at < 0 || !this.config.domains.includes(domain) || !this.#users) return undefined;
    if (await this.#users.verify(address)) return address.toLowerCase();
    const local = address.slice(0, at);
    return (await this.#users.verify(local)) ? local.toLowerCase() : undefined;
  }
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
