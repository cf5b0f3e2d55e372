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
import { RemoteUsers } from '../../mail/auth/remote.js';
import { AlertSender, IpcServer, parseAddress } from '../../mail/ipc/index.js';
import { RemotePeer } from '../../mail/ipc/peer.js';
import { registerMailServers } from '../../mail/local.js';
import { MailboxError, Mailboxes } from '../../mail/mailbox/index.js';
import { RemoteMailboxes } from '../../mail/mailbox/remote.js';
import { Pop3Server } from '../../mail/pop3/index.js';
import { IpcError, type IpcHandlers } from '../../mail/protocol.js';
import type { QueueClient } from '../../mail/queue/client.js';
import { MailQueue } from '../../mail/queue/index.js';
import { RemoteQueue } from '../../mail/queue/remote.js';
import {
  type BoundListener,
  INCOMING_QUEUE,
  OUTGOING_QUEUE,
  parseListenAddress,
  parseSpooled,
  readSpooled,
  SmtpReceiver,
  smtpInConfigSchema,
  type Users,
} from '../../mail/smtp-in/index.js';
import { buildBounce, type OutgoingQueue, SmtpSender } from '../../mail/smtp-out/index.js';
import { RemoteSender } from '../../mail/smtp-out/remote.js';
import { QueueWorker } from './delivery.js';
import { addDemoUsers, checkDemoUsers, demoUserLines, demoUsersSchema } from './demo-users.js';

export const MAIL_ROLES = ['auth', 'queue', 'smtp-in', 'smtp-out', 'mailbox', 'pop3'] as const;
export type MailRole = (typeof MAIL_ROLES)[number];

/** The queue that IPC clients put messages into for `send: from ; to ; slot` (SMTP out takes them from there). */
export const SEND_QUEUE = 'send';

/**
 * What each role needs: in this process, or, for the roles in REMOTE_ROLES, in another one that
 * `servers` names. POP3 needs its mailboxes here: a session's lock, numbering and UIDLs are not
 * on the IPC wire.
 */
const NEEDS: Readonly<Partial<Record<MailRole, readonly MailRole[]>>> = {
  'smtp-in': ['auth', 'queue'],
  pop3: ['auth', 'mailbox'],
};
const NEEDS_HERE: Readonly<Partial<Record<MailRole, readonly MailRole[]>>> = { pop3: ['mailbox'] };

/** The roles another process can reach over IPC (they have a client in `src/mail/*\/remote.ts`). */
export const REMOTE_ROLES = ['auth', 'queue', 'mailbox', 'smtp-out'] as const;
export type RemoteRole = (typeof REMOTE_ROLES)[number];

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

const ipcAddress = z.string().superRefine((text, ctx) => {
  try {
    parseAddress(text);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
  }
});
const ipcToken = z.string().min(16, 'the IPC token must be at least 16 characters');

export interface RemoteServerConfig {
  readonly address: string;
  readonly token?: string;
}

/** A role in another process: its IPC address (a socket path, or `tcp:host:port` with the token its listener wants). */
const remoteServer = z
  .union([
    ipcAddress.transform((address): RemoteServerConfig => ({ address })),
    z.strictObject({ address: ipcAddress, token: ipcToken.optional() }),
  ])
  .superRefine((server: RemoteServerConfig, ctx) => {
    let kind: string;
    try {
      kind = parseAddress(server.address).kind;
    } catch {
      return;
    }
    if (kind === 'tcp' && server.token === undefined)
      ctx.addIssue({
        code: 'custom',
        message: `${server.address} is TCP, which needs the server's token: {address: '${server.address}', token: …}`,
      });
  });

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
  /** Hold delivery: mail waits in the queues until released (IPC `hold: off`) or the next start without it (Postfix's defer_transports). */
  hold: z.boolean().default(false),
  /** Connections at once to one destination, each reused for message after message (Postfix's smtp_destination_concurrency_limit). */
  connections: z.number().int().min(1).max(1000).default(20),
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
      /** Where the roles that do not run here are reached over IPC, by role. */
      servers: z
        .strictObject({
          auth: remoteServer.optional(),
          queue: remoteServer.optional(),
          mailbox: remoteServer.optional(),
          'smtp-out': remoteServer.optional(),
        } satisfies Record<RemoteRole, unknown>)
        .optional(),
      /** Where this process listens for the remote queue's `alert:` messages (default: a socket in the spool). */
      alerts: ipcAddress.optional(),
      /** The servers this process runs. */
      roles: z
        .array(z.enum(MAIL_ROLES))
        .min(1)
        .default([...MAIL_ROLES]),
      /** Demo only, on loopback only: users and their passwords, added at start when missing (demo-users.ts). */
      'demo-users': demoUsersSchema.optional(),
    })
    .superRefine((cfg, ctx) => {
      checkSplit(cfg, ctx);
      const roles = new Set(cfg.roles);
      if (roles.has('smtp-in') && !cfg.smtp)
        ctx.addIssue({ code: 'custom', path: ['smtp'], message: 'the smtp-in role needs smtp.listeners' });
      if (roles.has('pop3') && cfg.pop3.length === 0)
        ctx.addIssue({ code: 'custom', path: ['pop3'], message: 'the pop3 role needs at least one pop3 address' });
      checkDemoUsers(cfg, ctx);
    });

export type MailConfig = z.output<ReturnType<typeof mailConfigSchema>>;

/** Every role that another one here needs is here or has an address; an address is not given for a role that is here. */
function checkSplit(
  cfg: {
    readonly roles: readonly MailRole[];
    readonly servers?: Partial<Record<RemoteRole, RemoteServerConfig | undefined>> | undefined;
    readonly alerts?: string | undefined;
  },
  ctx: z.RefinementCtx,
): void {
  const roles = new Set(cfg.roles);
  const servers = cfg.servers ?? {};
  const reachable = (role: MailRole) =>
    roles.has(role) || ((REMOTE_ROLES as readonly string[]).includes(role) && servers[role as RemoteRole] !== undefined);
  for (const role of cfg.roles) {
    for (const need of NEEDS[role] ?? []) {
      if (roles.has(need)) continue;
      if ((NEEDS_HERE[role] ?? []).includes(need)) {
        ctx.addIssue({
          code: 'custom',
          path: ['roles'],
          message: `role "${role}" needs "${need}" in the same process (a POP3 session's lock and numbering are not on the IPC wire)`,
        });
      } else if (!reachable(need)) {
        ctx.addIssue({
          code: 'custom',
          path: ['roles'],
          message: `role "${role}" needs "${need}": add it to roles, or give servers.${need}, the address of the process that runs it`,
        });
      }
    }
  }
  for (const role of REMOTE_ROLES) {
    if (servers[role] !== undefined && roles.has(role))
      ctx.addIssue({
        code: 'custom',
        path: ['servers', role],
        message: `the ${role} role runs in this process (it is in roles); remove servers.${role}`,
      });
  }
  if (servers['smtp-out'] !== undefined && !reachable('queue'))
    ctx.addIssue({
      code: 'custom',
      path: ['servers', 'smtp-out'],
      message: 'handing mail to SMTP out in another process takes a slot of the queue: add queue to roles, or give servers.queue',
    });
  const consumes = !roles.has('queue') && servers.queue !== undefined && (roles.has('mailbox') || roles.has('smtp-out'));
  if (cfg.alerts !== undefined && !consumes)
    ctx.addIssue({
      code: 'custom',
      path: ['alerts'],
      message:
        'alerts are for a mailbox or smtp-out role here that takes mail from a queue in another process (servers.queue); there is none',
    });
  if (consumes && cfg.alerts === undefined && servers.queue && isTcp(servers.queue.address))
    ctx.addIssue({
      code: 'custom',
      path: ['alerts'],
      message: `the queue server at ${servers.queue.address} must call this process back when mail arrives: give alerts, a tcp:HOST:PORT it can reach`,
    });
}

/** How long alerts to a subscriber that could not be reached are skipped, and how often that is said again. */
const UNREACHABLE_PAUSE_MS = 5_000;
const UNREACHABLE_WARNING_MS = 5 * 60_000;

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

  #users: Users | undefined;
  #queue: MailQueue | undefined;
  /** The roles that run elsewhere, when `servers` names them. */
  #remoteQueue: RemoteQueue | undefined;
  #remoteMailboxes: RemoteMailboxes | undefined;
  #remoteSender: RemoteSender | undefined;
  readonly #peers: RemotePeer[] = [];
  /** Alert callbacks that could not be reached: until when alerts to them are skipped, and when that was last said. */
  readonly #unreachable = new Map<string, { until: number; warned: number }>();
  #alerts: AlertSender | undefined;
  #mailboxes: Mailboxes | undefined;
  #sender: SmtpSender | undefined;
  #receiver: SmtpReceiver | undefined;
  readonly #pop3: { server: Pop3Server; host: string; port: number }[] = [];
  readonly #workers: QueueWorker[] = [];
  #ipc: IpcServer | undefined;
  #unregister: (() => void) | undefined;

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
      const users = new MailUsers(this.host.store, { log: log.child({ role: 'auth' }) });
      this.#users = users;
      handlers.push(users.handlers());
      if (cfg['demo-users']) await addDemoUsers(users, cfg['demo-users'], log.child({ role: 'auth' }));
    } else if (cfg.servers?.auth) this.#users = new RemoteUsers(this.#peer('auth', cfg.servers.auth));
    if (roles.has('queue')) {
      // Alerts go to IPC subscribers only; in-process consumers subscribe with a listener.
      if (cfg.ipc) this.#alerts = new AlertSender({ log, onDead: (callback, error) => this.#unreachableSubscriber(callback, error) });
      const alerts = this.#alerts;
      this.#queue = await MailQueue.open({
        dir: resolve(spool, 'queues'),
        queues: [INCOMING_QUEUE, OUTGOING_QUEUE, SEND_QUEUE],
        log: log.child({ role: 'queue' }),
        ...(alerts ? { alert: (callback: string, queue: string) => this.#alert(alerts, callback, queue) } : {}),
      });
      handlers.push(this.#queue.handlers());
    } else if (cfg.servers?.queue) await this.#openRemoteQueue(cfg.servers.queue, spool);
    if (roles.has('mailbox')) {
      const users = this.#users;
      this.#mailboxes = new Mailboxes({
        root: resolve(baseDir, cfg.mailboxes),
        log: log.child({ role: 'mailbox' }),
        ...(users ? { knows: (user: string) => users.verify(user, { fresh: true }) } : {}),
      });
      handlers.push(this.#mailboxes.handlers());
    } else if (cfg.servers?.mailbox) this.#remoteMailboxes = new RemoteMailboxes(this.#peer('mailbox', cfg.servers.mailbox));
    if (roles.has('smtp-out')) {
      const out = cfg.outbound;
      const hostname = out.hostname ?? cfg.smtp?.hostname;
      this.#sender = new SmtpSender({
        dir: resolve(spool, 'outbound'),
        log: log.child({ role: 'smtp-out' }),
        // SMTP out takes relayed mail (`outgoing`) and IPC `send`s straight from a queue in this
        // process. With the queue in another process, `send` pushes there and the workers below
        // hand SMTP out what the queues hold.
        ...(this.#queue
          ? { queue: this.#queue, queueName: SEND_QUEUE, queues: [OUTGOING_QUEUE, SEND_QUEUE] }
          : this.#remoteQueue
            ? { queue: this.#sendQueue(this.#remoteQueue), queueName: SEND_QUEUE, queues: [] }
            : {}),
        hold: out.hold,
        connectionsPerDestination: out.connections,
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
    } else if (cfg.servers?.['smtp-out'] && (this.#queue || this.#remoteQueue)) {
      this.#remoteSender = new RemoteSender({
        peer: this.#peer('smtp-out', cfg.servers['smtp-out']),
        queue: (this.#queue ?? this.#remoteQueue)!,
        queueName: SEND_QUEUE,
      });
    }
    // Consumers start before the listeners, so that nothing accepted waits for them. With the
    // queue in another process, they run here when the mailbox or smtp-out role does.
    const queue: QueueClient | undefined = this.#queue ?? this.#remoteQueue;
    if (queue && this.#mailboxes)
      this.#startWorker(INCOMING_QUEUE, (path, done) => this.#deliverLocal(path, done), queue, queue === this.#queue);
    if (!this.#queue && this.#remoteQueue && this.#sender) {
      this.#startWorker(OUTGOING_QUEUE, (path) => this.#relay(path), this.#remoteQueue);
      this.#startWorker(SEND_QUEUE, (path) => this.#relay(path), this.#remoteQueue);
    }

    if (roles.has('smtp-in') && cfg.smtp && queue && this.#users) {
      this.#receiver = new SmtpReceiver({
        config: { ...cfg.smtp, domains: cfg.domains },
        spool: queue,
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
    this.#registerLocal(handlers);
    if (cfg['demo-users'])
      for (const line of demoUserLines(cfg['demo-users'], this.listeners.smtp, this.listeners.pop3, hostPort)) this.host.serve(line);
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
    this.#unregister?.();
    this.#unregister = undefined;
    await step('the IPC server', this.#ipc && (() => this.#ipc!.close()));
    await Promise.all(this.#pop3.splice(0).map(({ server }) => step('a POP3 listener', () => server.close())));
    await step('the SMTP listeners', this.#receiver && (() => this.#receiver!.close()));
    await Promise.all(this.#workers.splice(0).map((worker) => step('a queue worker', () => worker.stop())));
    await step('SMTP out', this.#sender && (() => this.#sender!.close()));
    await step('the remote queue', this.#remoteQueue && (() => this.#remoteQueue!.close()));
    await Promise.all(this.#peers.splice(0).map((peer) => step(`the connection to the ${peer.role} server`, () => peer.close())));
    await step('the queue', this.#queue && (() => this.#queue!.close()));
    await step('the queue alerts', this.#alerts && (() => this.#alerts!.close()));
    this.#ipc = undefined;
    this.#receiver = undefined;
    this.#sender = undefined;
    this.#queue = undefined;
    this.#alerts = undefined;
    this.#mailboxes = undefined;
    this.#users = undefined;
    this.#remoteQueue = undefined;
    this.#remoteMailboxes = undefined;
    this.#remoteSender = undefined;
  }

  /** Makes the servers reachable for mail plugs in this process (src/mail/local.ts), by this hook's name. */
  #registerLocal(handlers: readonly IpcHandlers[]): void {
    const table: Record<string, IpcHandlers[string]> = {};
    for (const map of handlers) for (const [name, handler] of Object.entries(map)) table[name.toLowerCase()] = handler;
    const mailboxes = this.#mailboxes;
    this.#unregister = registerMailServers({
      name: this.name,
      owner: this.host,
      handlers: table,
      domains: this.config.domains,
      onStored: (listener) => mailboxes?.onStored(listener) ?? (() => {}),
    });
  }

  /**
   * Alerts to a subscriber that could not be reached are skipped for a while: one that died
   * without unsubscribing would otherwise cost a connection attempt and a warning per push. It
   * renews its subscription and looks at the queue every few seconds when it is back, so it
   * misses nothing meanwhile.
   */
  #alert(alerts: AlertSender, callback: string, queue: string): void {
    if ((this.#unreachable.get(callback)?.until ?? 0) > Date.now()) return;
    alerts.alert(callback, queue);
  }

  #unreachableSubscriber(callback: string, error: Error): void {
    const now = Date.now();
    const known = this.#unreachable.get(callback);
    if (!known || now - known.warned > UNREACHABLE_WARNING_MS) {
      this.log.warn(
        { callback, err: error },
        `a queue subscriber cannot be reached; alerts to it pause for ${UNREACHABLE_PAUSE_MS / 1000} s at a time`,
      );
    }
    this.#unreachable.set(callback, {
      until: now + UNREACHABLE_PAUSE_MS,
      warned: known && now - known.warned <= UNREACHABLE_WARNING_MS ? known.warned : now,
    });
  }

  /** A connection to a role in another process; closed at stop. */
  #peer(role: RemoteRole, server: RemoteServerConfig): RemotePeer {
    const { address, token } = server;
    const parsed = parseAddress(address);
    const peer = new RemotePeer({
      role,
      // A socket path is relative to the config file's folder, as the hook's own `ipc.socket` is.
      address: parsed.kind === 'unix' ? { kind: 'unix', path: resolve(this.host.config.baseDir, parsed.path) } : parsed,
      ...(token === undefined ? {} : { token }),
      log: this.log.child({ remote: role }),
    });
    this.#peers.push(peer);
    return peer;
  }

  /**
   * The queue in another process. The mailbox and smtp-out roles here take its messages (local
   * delivery, relaying), woken by its alerts on a socket of their own; the spool must be shared,
   * which is checked now if the queue server answers (else with each slot).
   */
  async #openRemoteQueue(server: RemoteServerConfig, spool: string): Promise<void> {
    const roles = new Set(this.config.roles);
    const consumers = (['mailbox', 'smtp-out'] as const).filter((role) => roles.has(role));
    const alerts = this.config.alerts ?? (consumers.length > 0 ? resolve(spool, `alerts-${consumers.join('+')}.sock`) : undefined);
    const remote = new RemoteQueue({
      peer: this.#peer('queue', server),
      log: this.log.child({ remote: 'queue' }),
      spool: resolve(spool, 'queues'),
      ...(alerts === undefined ? {} : { callback: resolveUnix(this.host.config.baseDir, alerts) }),
    });
    this.#remoteQueue = remote;
    if (!(await remote.checkSpool(INCOMING_QUEUE)))
      this.log.warn({ queueServer: remote.address }, 'the queue server cannot be reached yet; its spool is checked with the first slot');
    await remote.start();
    if (remote.callback !== undefined) this.host.serve(`mail alerts ${remote.callback}`);
  }

  /**
   * SMTP out's `send` over a queue in another process. A queue server that cannot be reached is a
   * refusal here: `send` answers `error: …` with the reason (not `internal error`), and SMTP out's
   * start, which takes what `send` left in the queue, takes nothing now and the rest at the next `send`.
   */
  #sendQueue(remote: RemoteQueue): OutgoingQueue {
    const refusal = (error: unknown): never => {
      throw error instanceof IpcError ? error : new IpcError((error as Error).message);
    };
    // SMTP out pops nothing from it (its `queues` is empty): the workers on the remote queue
    // hand it the messages instead (#relay).
    return {
      dir: remote.spool,
      push: (queue, slot) => remote.push(queue, slot).catch(refusal),
      pop: () => {
        throw new IpcError('the queue is in another process');
      },
      ack: (lease) => remote.ack(lease),
      release: (lease) => void remote.release(lease),
      stats: () => ({ ready: 0 }),
      subscribe: () => {},
      unsubscribe: () => false,
    };
  }

  /** A message of a queue in another process (`outgoing`, `send`): handed to SMTP out here, which owns it from then on. */
  async #relay(path: string): Promise<void> {
    const { envelope, message } = await readSpooled(path);
    const id = await this.#sender!.enqueue(
      envelope.from,
      envelope.to.map((r) => r.address),
      message,
    );
    if (this.log.isLevelEnabled('info'))
      this.log.info({ id: envelope.id, outbound: id, from: envelope.from, to: envelope.to.map((r) => r.address) }, 'queued for delivery');
  }

  /** `readsContents`: the handler reads messages with `MailQueue.contents` (only with the queue in this process). */
  #startWorker(name: string, handle: (path: string, done: Set<string>) => Promise<void>, queue: QueueClient, readsContents = false): void {
    const worker = new QueueWorker({ queue, name, handle, log: this.log.child({ worker: name }), readsContents });
    this.#workers.push(worker);
    worker.start();
  }

  /** A message of queue `incoming`: stored in each local recipient's mailbox. */
  async #deliverLocal(path: string, done: Set<string>): Promise<void> {
    // From memory when SMTP in pushed it in this process: no read of the file. From a queue in
    // another process, the file in the shared spool.
    const { envelope, message } = this.#queue ? parseSpooled(await this.#queue.contents(INCOMING_QUEUE, path)) : await readSpooled(path);
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
    if (this.log.isLevelEnabled('info'))
      this.log.info({ id: envelope.id, from: envelope.from, to: envelope.to.map((r) => r.address) }, 'delivered to mailboxes');
  }

  /** A bounce (from the null sender) to a local sender goes into their mailbox; to anyone else, out by SMTP. */
  async #bounce(to: string, message: Buffer): Promise<void> {
    const user = await this.#localUser(to);
    const mailboxes = this.#mailboxes ?? this.#remoteMailboxes;
    if (user !== undefined && mailboxes) {
      await mailboxes.store(to, user, message);
      return;
    }
    const sender = this.#sender ?? this.#remoteSender;
    if (!sender) throw new Error(`no smtp-out role (here or in servers) to send a bounce to <${to}>`);
    await sender.enqueue('', [to], message);
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

/** An alerts address: a socket path relative to the config file's folder, or TCP as it is. */
function resolveUnix(baseDir: string, address: string): string {
  const parsed = parseAddress(address);
  return parsed.kind === 'unix' ? resolve(baseDir, parsed.path) : address;
}

function isTcp(address: string): boolean {
  try {
    return parseAddress(address).kind === 'tcp';
  } catch {
    return false;
  }
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
