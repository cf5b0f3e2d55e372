/**
 * The host: builds plugs, channels, groups and hooks from a resolved config, opens them in order
 * (services, plugs, hooks, then the web server), routes every message through the hooks, and
 * closes everything in reverse.
 */

import type { Bus } from '../services/bus/index.js';
import type { HttpService } from '../services/http/index.js';
import type { Store } from '../services/store/index.js';
import { Channel } from './channel.js';
import type { ComponentInit, Migrations } from './component.js';
import type { ResolvedConfig } from './config/validate.js';
import { writeConfigFile } from './config/write.js';
import { PlugError, StateError, StoreError, withTimeout } from './errors.js';
import { Group } from './group.js';
import type { Hook, HookInit } from './hook.js';
import { announce, type Logger, Logging } from './log.js';
import type { Message, Receipt, SentMessage } from './message.js';
import { OpenState } from './openable.js';
import type { Plug } from './plug.js';

/** The shared singletons every plug and hook may use. */
export interface Services {
  readonly store: Store;
  readonly bus: Bus;
  /** Present when the config has an `http` section. */
  readonly http: HttpService | undefined;
  readonly logging: Logging;
}

export interface HostOptions {
  /** Write the config back on run-time changes and on close (`porter run -w`). */
  readonly writeBack?: boolean;
  /** Logging to use instead of the config's `logging` section (tests, benchmarks). */
  readonly logging?: Logging;
  /** How long one object may take to open or close, in ms. */
  readonly stageTimeoutMs?: number;
  /** First and longest wait between retries of a plug that failed to open, in ms. */
  readonly retryDelayMs?: { readonly first: number; readonly max: number };
  /** Print the start and stop lines (the CLI does; tests do not). */
  readonly announce?: boolean;
}

const STAGE_TIMEOUT_MS = 30_000; // IMMP's per-object timeout; a network login can be slow.
const DRAIN_TIMEOUT_MS = 5_000; // Messages in flight at stop get this long to reach their hooks.
const RETRY_FIRST_MS = 1_000;
const RETRY_MAX_MS = 30_000; // Backoff cap, as IMMP's reconnects.
const ECHO_MEMORY = 10_000; // Receipts remembered per host for echo detection; older ones are forgotten.
const RESOLVED = Promise.resolve();

const ECHO: { readonly fromPorter: true } = Object.freeze({ fromPorter: true });

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

export class Host {
  readonly config: ResolvedConfig;
  readonly logging: Logging;
  readonly log: Logger;
  readonly plugs = new Map<string, Plug>();
  readonly hooks = new Map<string, Hook>();
  readonly groups = new Map<string, Group>();
  #services: Services | undefined;
  readonly #document: Record<string, unknown>;
  readonly #options: HostOptions;
  readonly #channelsByName = new Map<string, Channel>();
  readonly #namesByKey = new Map<string, string>();
  readonly #channelsByKey = new Map<string, Channel>();
  #serialHooks: Hook[] = [];
  #parallelHooks: Hook[] = [];
  #sendHooks: Hook[] = [];
  readonly #chains = new Map<string, Promise<unknown>>();
  readonly #pendingSends = new Map<string, Set<Promise<unknown>>>();
  // Receipts of what porter sent, in two generations (see #rememberEchoes).
  #echoes = new Set<string>();
  #oldEchoes = new Set<string>();
  readonly #retries = new Map<string, NodeJS.Timeout>();
  #inFlight = 0;
  /** Messages received while the host was opening, routed once it is open. */
  #early: SentMessage[] = [];
  /** > 0 while a plug's send or edit is running synchronously (see receive). */
  #sendDepth = 0;
  #drained: (() => void) | undefined;
  #state: 'new' | 'opening' | 'open' | 'closing' | 'closed' = 'new';
  #writeChain: Promise<void> = RESOLVED;
  readonly #served: string[] = [];

  constructor(config: ResolvedConfig, options: HostOptions = {}) {
    this.config = config;
    this.#options = options;
    this.#document = structuredClone(config.document);
    this.logging = options.logging ?? Logging.create(config.logging, { baseDir: config.baseDir });
    this.log = this.logging.get('porter.host');
    this.#build();
  }

  #build(): void {
    for (const p of this.config.plugs) {
      if (!p.cls) continue;
      const init: ComponentInit<unknown> = { name: p.name, config: p.config, host: this, log: this.logging.get(`porter.plug.${p.name}`) };
      const plug = new p.cls(init as ComponentInit<never>);
      this.plugs.set(p.name, plug);
    }
    for (const [name, entry] of this.config.channels) {
      const plug = this.plugs.get(entry.plug);
      if (plug) this.#nameChannel(name, this.channel(plug, entry.source));
    }
    for (const [name, entry] of this.config.groups) this.groups.set(name, new Group(name, entry, this));
    for (const h of this.config.hooks) {
      if (!h.cls) continue;
      const init: HookInit<unknown> = {
        name: h.name,
        config: h.config,
        host: this,
        log: this.logging.get(`porter.hook.${h.name}`),
        priority: h.priority,
      };
      this.hooks.set(h.name, new h.cls(init as HookInit<never>));
    }
    for (const p of this.config.plugs) if (!p.enabled) this.log.debug({ plug: p.name }, 'plug disabled');
    for (const h of this.config.hooks) if (!h.enabled) this.log.debug({ hook: h.name }, 'hook disabled');
  }

  get services(): Services {
    if (!this.#services) throw new StateError('services are available once the host has started opening');
    return this.#services;
  }

  get store(): Store {
    return this.services.store;
  }

  get bus(): Bus {
    return this.services.bus;
  }

  get http(): HttpService | undefined {
    return this.services.http;
  }

  /**
   * Adds a line to what is printed at start; plugs and hooks call it for what they listen on.
   * `{web}` stands for the web server's base URL (known only once it listens), without the
   * final slash: `host.serve('occupancy board {web}/board')`.
   */
  serve(line: string): void {
    this.#served.push(line);
  }

  /** What the host serves, one line each, as printed at start (`web UI http://127.0.0.1:8080/`). */
  get served(): readonly string[] {
    return this.#served;
  }

  // ---- channels and groups ---------------------------------------------------------------

  /** The interned channel for `source` on `plug`. */
  channel(plug: Plug, source: string): Channel {
    const key = `${plug.name}:${source}`;
    let ch = this.#channelsByKey.get(key);
    if (!ch) {
      ch = new Channel(plug, source);
      this.#channelsByKey.set(key, ch);
    }
    return ch;
  }

  channelByName(name: string): Channel | undefined {
    return this.#channelsByName.get(name);
  }

  /** The config's name for a channel, if it has one. */
  nameOf(channel: Channel): string | undefined {
    return this.#namesByKey.get(channel.key);
  }

  get namedChannels(): ReadonlyMap<string, Channel> {
    return this.#channelsByName;
  }

  /** Channels named directly or through groups; unknown names are skipped (config checks them). */
  async channelsOf(names: readonly string[]): Promise<Channel[]> {
    const out = new Map<string, Channel>();
    for (const name of names) {
      const ch = this.#channelsByName.get(name);
      if (ch) out.set(ch.key, ch);
      const group = this.groups.get(name);
      if (group) for (const c of await group.channels(this.plugs)) out.set(c.key, c);
    }
    return [...out.values()];
  }

  #nameChannel(name: string, channel: Channel): void {
    this.#channelsByName.set(name, channel);
    this.#namesByKey.set(channel.key, name);
  }

  /** Declares a channel at run time; with -w it is written to the config file. */
  async addChannel(name: string, plugName: string, source: string): Promise<Channel> {
    const plug = this.plugs.get(plugName);
    if (!plug) throw new StateError(`no plug named "${plugName}"`);
    if (this.#channelsByName.has(name) || this.plugs.has(name) || this.hooks.has(name) || this.groups.has(name)) {
      throw new StateError(`the name "${name}" is already used`);
    }
    const channel = this.channel(plug, source);
    this.#nameChannel(name, channel);
    this.#section('channels')[name] = { plug: plugName, source };
    await this.configChanged();
    return channel;
  }

  async removeChannel(name: string): Promise<void> {
    const channel = this.#channelsByName.get(name);
    if (!channel) throw new StateError(`no channel named "${name}"`);
    this.#channelsByName.delete(name);
    this.#namesByKey.delete(channel.key);
    delete this.#section('channels')[name];
    await this.configChanged();
  }

  /** Replaces a plug's or hook's config in the document (its own settings changed at run time). */
  async saveComponentConfig(name: string, config: Record<string, unknown>): Promise<void> {
    const section = this.plugs.has(name) ? 'plugs' : this.hooks.has(name) ? 'hooks' : undefined;
    if (!section) throw new StateError(`no plug or hook named "${name}"`);
    const entry = this.#section(section)[name] as Record<string, unknown>;
    entry.config = structuredClone(config);
    await this.configChanged();
  }

  /** The config as it stands now, as it would be written back. */
  get document(): Readonly<Record<string, unknown>> {
    return this.#document;
  }

  #section(name: string): Record<string, unknown> {
    let s = this.#document[name] as Record<string, unknown> | undefined | null;
    if (!s || typeof s !== 'object') {
      s = {};
      this.#document[name] = s;
    }
    return s;
  }

  /** Called after any run-time change to the config; writes it back when running with -w. */
  async configChanged(): Promise<void> {
    if (!this.#options.writeBack || !this.config.file) return;
    const file = this.config.file;
    const write = this.#writeChain.then(() => writeConfigFile(file, this.#document, this.config.format));
    this.#writeChain = write.catch((error: unknown) => this.log.error({ err: error, file }, 'cannot write the config back'));
    await write;
  }

  // ---- lifecycle -------------------------------------------------------------------------

  /** Opens services, plugs, hooks and the web server, in that order. */
  async open(): Promise<void> {
    if (this.#state !== 'new') throw new StateError(`cannot open a host that is ${this.#state}`);
    this.#state = 'opening';
    const timeout = this.#options.stageTimeoutMs ?? STAGE_TIMEOUT_MS;
    this.#services = await this.#openServices();

    await Promise.all([...this.plugs.values()].map((plug) => this.#openPlug(plug, 0)));

    await Promise.all(
      [...this.hooks.values()].map(async (hook) => {
        try {
          await withTimeout(hook.open(), timeout, `opening hook "${hook.name}"`);
          this.log.debug({ hook: hook.name }, 'hook open');
        } catch (error) {
          this.log.error({ err: error, hook: hook.name }, 'hook failed to open; it receives no messages');
        }
      }),
    );
    this.#indexHooks();

    if (this.#services.http) {
      const url = await this.#services.http.listen();
      this.#served.push(`web UI ${url}`);
    }
    this.#state = 'open';
    const early = this.#early;
    this.#early = [];
    for (const sent of early) this.receive(sent);
  }

  async #openServices(): Promise<Services> {
    const { Store } = await import('../services/store/index.js');
    const { openBus } = await import('../services/bus/index.js');
    const store = await Store.open(this.config.store, { baseDir: this.config.baseDir, log: this.logging.get('porter.store') });
    this.#served.push(`store ${store.description}`);
    const owners = new Map<string, { migrations: Migrations; by: string }>();
    for (const c of [...this.config.plugs, ...this.config.hooks]) {
      if (!c.cls?.migrations) continue;
      const owner = c.cls.migrationOwner ?? c.cls.name;
      const known = owners.get(owner);
      // Two classes may share tables (sync and forward share the bridge map) only by sharing one migrations object.
      if (known && known.migrations !== c.cls.migrations) {
        await store.close();
        throw new StoreError(`${c.cls.name} and ${known.by} both own the migrations "${owner}" but declare different ones`);
      }
      owners.set(owner, { migrations: c.cls.migrations, by: c.cls.name });
    }
    for (const [owner, { migrations }] of owners) await store.migrate(owner, migrations);
    const bus = await openBus(this.config.bus);
    let http: HttpService | undefined;
    if (this.config.http) {
      const { HttpService } = await import('../services/http/index.js');
      http = await HttpService.create({
        listen: this.config.http.listen,
        publicUrl: this.config.http['public-url'],
        trustProxy: this.config.http['trust-proxy'],
        log: this.logging.get('porter.http'),
      });
      this.#addStatusRoute(http);
    }
    return { store, bus, http, logging: this.logging };
  }

  async #openPlug(plug: Plug, attempt: number): Promise<void> {
    if (this.#state === 'closing' || this.#state === 'closed') return;
    const timeout = this.#options.stageTimeoutMs ?? STAGE_TIMEOUT_MS;
    try {
      await withTimeout(plug.open(), timeout, `opening plug "${plug.name}"`);
      this.log.debug({ plug: plug.name }, 'plug open');
      if (attempt > 0) this.log.warn({ plug: plug.name, attempt }, 'plug open after retrying');
    } catch (error) {
      await plug.close().catch(() => {});
      const { first, max } = this.#options.retryDelayMs ?? { first: RETRY_FIRST_MS, max: RETRY_MAX_MS };
      const delay = Math.min(first * 2 ** attempt, max);
      this.log.error({ err: error, plug: plug.name, retryInMs: delay }, 'plug failed to open; retrying');
      const timer = setTimeout(() => {
        this.#retries.delete(plug.name);
        void this.#openPlug(plug, attempt + 1);
      }, delay);
      this.#retries.set(plug.name, timer);
    }
  }

  #indexHooks(): void {
    const active = [...this.hooks.values()].filter((h) => h.state === OpenState.active);
    const ordered = active.filter((h) => h.priority !== undefined).sort((a, b) => (a.priority ?? 0) - (b.priority ?? 0));
    this.#serialHooks = ordered.filter((h) => h.beforeReceive);
    this.#sendHooks = ordered.filter((h) => h.beforeSend);
    this.#parallelHooks = active.filter((h) => h.onReceive);
  }

  /** Closes everything in reverse order of opening; each object gets the stage timeout. */
  async close(): Promise<void> {
    if (this.#state === 'closing' || this.#state === 'closed') return;
    this.#state = 'closing';
    const timeout = this.#options.stageTimeoutMs ?? STAGE_TIMEOUT_MS;
    for (const timer of this.#retries.values()) clearTimeout(timer);
    this.#retries.clear();
    const services = this.#services;
    if (services?.http) await services.http.close().catch((error: unknown) => this.log.error({ err: error }, 'closing the web server'));
    if (this.#inFlight > 0) {
      await withTimeout(
        new Promise<void>((resolve) => {
          this.#drained = resolve;
        }),
        DRAIN_TIMEOUT_MS,
        'routing the messages in flight',
      ).catch((error: unknown) => this.log.warn({ err: error, inFlight: this.#inFlight }, 'stopping with messages in flight'));
    }
    const closeAll = (items: Iterable<Hook | Plug>, kind: string) =>
      Promise.all(
        [...items].map((item) =>
          withTimeout(item.close(), timeout, `closing ${kind} "${item.name}"`).catch((error: unknown) =>
            this.log.error({ err: error, [kind]: item.name }, `${kind} failed to close`),
          ),
        ),
      );
    await closeAll([...this.hooks.values()].reverse(), 'hook');
    this.#serialHooks = [];
    this.#parallelHooks = [];
    this.#sendHooks = [];
    await closeAll([...this.plugs.values()].reverse(), 'plug');
    if (services) {
      await services.bus.close().catch((error: unknown) => this.log.error({ err: error }, 'closing the bus'));
      await services.store.close().catch((error: unknown) => this.log.error({ err: error }, 'closing the store'));
    }
    if (this.#options.writeBack && this.config.file) await this.configChanged().catch(() => {});
    await this.#writeChain;
    this.logging.flush();
    this.#state = 'closed';
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---- routing ---------------------------------------------------------------------------

  /**
   * Entry point for every message a plug receives from its network. Never throws: a hook's
   * failure is logged with the message id and that hook is skipped. Work that needs no waiting
   * (no hook returned a promise) is done before this returns, without a turn of the event loop.
   * Returns false when the host takes no messages (it is closing or closed): a plug that can keep
   * the message on its network (a mailbox) keeps it for the next run.
   */
  receive(sent: SentMessage): boolean {
    if (this.#state === 'opening') {
      // A plug may hand over messages while others (and the hooks) still open: keep them until all are.
      this.#early.push(sent);
      return true;
    }
    if (this.#state !== 'open') return false;
    if (this.#sendDepth > 0 && !sent.fromPorter) {
      // A plug that echoes inside send(): route the echo once send() has returned its receipt,
      // so the echo is recognised (see #tracked).
      queueMicrotask(() => this.receive(sent));
      return true;
    }
    this.#inFlight++;
    let routing: Promise<void> | undefined;
    try {
      routing = this.#route(sent);
    } catch (error) {
      this.#routeFailed(sent, error);
      return true;
    }
    if (routing) routing.then(this.#routed, (error: unknown) => this.#routeFailed(sent, error));
    else this.#routed();
    return true;
  }

  readonly #routed = (): void => {
    if (--this.#inFlight === 0 && this.#drained) {
      this.#drained();
      this.#drained = undefined;
    }
  };

  #routeFailed(sent: SentMessage, error: unknown): void {
    this.log.error({ err: error, id: sent.id, channel: sent.channel.key }, 'routing failed');
    this.#routed();
  }

  #route(sent: SentMessage): Promise<void> | undefined {
    if (sent.fromPorter) return this.#routeKnown(sent);
    const pending = this.#pendingSends.get(sent.channel.key);
    // The echo can arrive before send() has returned its id: wait for sends in flight there.
    if (pending) return Promise.allSettled([...pending]).then(() => this.#routeKnown(this.#markEcho(sent)));
    return this.#routeKnown(this.#markEcho(sent));
  }

  /**
   * Runs the prioritised hooks, then starts the parallel ones. Messages of one channel pass the
   * prioritised hooks one at a time and in order: while one waits on a hook, the next queue
   * behind it.
   */
  #routeKnown(sent: SentMessage): Promise<void> | undefined {
    if (this.#serialHooks.length === 0) {
      this.#dispatch(sent);
      return undefined;
    }
    const key = sent.channel.key;
    const previous = this.#chains.get(key);
    let run: Promise<void>;
    if (previous === undefined) {
      const result = this.#serialPhase(sent, 0);
      if (!isPromise(result)) {
        if (result) this.#dispatch(result);
        return undefined;
      }
      run = result.then(this.#dispatchKept);
    } else {
      run = previous.then(() => {
        const result = this.#serialPhase(sent, 0);
        if (isPromise(result)) return result.then(this.#dispatchKept);
        this.#dispatchKept(result);
        return undefined;
      });
    }
    this.#chains.set(key, run);
    const forget = (): void => {
      if (this.#chains.get(key) === run) this.#chains.delete(key);
    };
    run.then(forget, forget);
    return run;
  }

  readonly #dispatchKept = (sent: SentMessage | null): void => {
    if (sent) this.#dispatch(sent);
  };

  /** The prioritised hooks from the `from`th on; a promise only once a hook returns one. */
  #serialPhase(sent: SentMessage, from: number): SentMessage | null | Promise<SentMessage | null> {
    const hooks = this.#serialHooks;
    let message = sent;
    for (let i = from; i < hooks.length; i++) {
      const hook = hooks[i] as Hook;
      let next: SentMessage | null | Promise<SentMessage | null>;
      try {
        next = (hook.beforeReceive as NonNullable<Hook['beforeReceive']>).call(hook, message);
      } catch (error) {
        this.#hookFailed(hook, message, error);
        continue;
      }
      if (isPromise(next)) {
        const kept = message;
        return next.then(
          (resolved) => (resolved ? this.#serialPhase(resolved, i + 1) : this.#dropped(hook, kept)),
          (error: unknown) => {
            this.#hookFailed(hook, kept, error);
            return this.#serialPhase(kept, i + 1);
          },
        );
      }
      if (!next) return this.#dropped(hook, message);
      message = next;
    }
    return message;
  }

  #dropped(hook: Hook, sent: SentMessage): null {
    this.log.debug({ hook: hook.name, id: sent.id }, 'message dropped by hook');
    return null;
  }

  /** Hands the message to every parallel hook without waiting for any. */
  #dispatch(sent: SentMessage): void {
    const hooks = this.#parallelHooks;
    for (let i = 0; i < hooks.length; i++) {
      const hook = hooks[i] as Hook;
      try {
        const result = hook.onReceive?.(sent);
        if (result) result.catch((error: unknown) => this.#hookFailed(hook, sent, error));
      } catch (error) {
        this.#hookFailed(hook, sent, error);
      }
    }
  }

  #hookFailed(hook: Hook, sent: SentMessage, error: unknown): void {
    this.log.error({ err: error, hook: hook.name, id: sent.id, channel: sent.channel.key }, 'hook failed on a message; skipped');
  }

  /** Marks a message porter itself sent (its echo) so bridges do not loop. */
  #markEcho(sent: SentMessage): SentMessage {
    if (this.#echoes.size === 0 && this.#oldEchoes.size === 0) return sent;
    const key = `${sent.channel.key}\u0000${sent.id}`;
    if (!this.#echoes.delete(key) && !this.#oldEchoes.delete(key)) return sent;
    return Object.assign({}, sent, ECHO);
  }

  #rememberEchoes(receipts: readonly Receipt[]): void {
    for (const r of receipts) {
      this.#echoes.add(`${r.channel.key}\u0000${r.id}`);
      // Networks that never echo would fill this: keep two generations, drop the older whole.
      if (this.#echoes.size >= ECHO_MEMORY) {
        this.#oldEchoes = this.#echoes;
        this.#echoes = new Set();
      }
    }
  }

  #activePlug(channel: Channel, what: string): Plug {
    const plug = channel.plug;
    if (plug.state !== OpenState.active) throw new PlugError(`cannot ${what} ${channel.key}: plug "${plug.name}" is ${plug.state}`);
    return plug;
  }

  /**
   * Calls a plug's send or edit, remembering what it returns so that the network's echo of it
   * is recognised as porter's own. Until it returns, messages arriving in that channel wait.
   */
  #tracked(channel: Channel, call: () => Promise<Receipt[]>): Promise<Receipt[]> {
    let operation: Promise<Receipt[]>;
    this.#sendDepth++;
    try {
      operation = call();
    } finally {
      this.#sendDepth--;
    }
    const key = channel.key;
    let pending = this.#pendingSends.get(key);
    if (!pending) {
      pending = new Set();
      this.#pendingSends.set(key, pending);
    }
    pending.add(operation);
    const settled = (): void => {
      pending.delete(operation);
      if (pending.size === 0 && this.#pendingSends.get(key) === pending) this.#pendingSends.delete(key);
    };
    return operation.then(
      (receipts) => {
        // Plugs that mark their echoes themselves need no memory of them.
        if (!channel.plug.marksEchoes) this.#rememberEchoes(receipts);
        settled();
        return receipts;
      },
      (error: unknown) => {
        settled();
        throw error;
      },
    );
  }

  /** Sends through the prioritised `beforeSend` hooks, then the channel's plug. */
  async send(channel: Channel, message: Message): Promise<Receipt[]> {
    let out: Message | null = message;
    for (const hook of this.#sendHooks) {
      try {
        out = await (hook.beforeSend as NonNullable<Hook['beforeSend']>).call(hook, channel, out);
      } catch (error) {
        this.log.error({ err: error, hook: hook.name, channel: channel.key }, 'hook failed before send; skipped');
      }
      if (!out) return [];
    }
    const plug = this.#activePlug(channel, 'send to');
    const kept = out;
    return this.#tracked(channel, () => plug.send(channel, kept));
  }

  async edit(channel: Channel, id: string, message: Message): Promise<Receipt[]> {
    const plug = this.#activePlug(channel, 'edit in');
    return this.#tracked(channel, () => plug.edit(channel, id, message));
  }

  async delete(channel: Channel, id: string): Promise<void> {
    const plug = this.#activePlug(channel, 'delete in');
    await plug.delete(channel, id);
  }

  // ---- status ----------------------------------------------------------------------------

  status(): HostStatus {
    return {
      plugs: this.config.plugs.map((p) => ({
        name: p.name,
        path: p.path,
        state: this.plugs.get(p.name)?.state ?? OpenState.disabled,
        network: this.plugs.get(p.name)?.network,
      })),
      hooks: this.config.hooks.map((h) => ({
        name: h.name,
        path: h.path,
        state: this.hooks.get(h.name)?.state ?? OpenState.disabled,
        priority: h.priority,
      })),
      channels: [...this.#channelsByName].map(([name, ch]) => ({ name, plug: ch.plug.name, source: ch.source })),
      groups: [...this.groups.keys()],
    };
  }

  #addStatusRoute(http: HttpService): void {
    http.app.get('/api/status', async () => this.status());
    // The web UI's shell answers `/` when it is built, and its Status page reads /api/status.
    if (http.webUi) return;
    http.app.get('/', async (_request, reply) => {
      const { renderStatusPage } = await import('../services/http/status-page.js');
      const { VERSION } = await import('../version.js');
      return reply.type('text/html; charset=utf-8').send(renderStatusPage({ version: VERSION, ...this.status() }));
    });
  }

  /** Prints the start lines: what porter serves and where. */
  announceStart(elapsedMs: number, version: string): void {
    if (this.#options.announce === false) return;
    const plugs = [...this.plugs.values()];
    announce(`porter ${version} ready in ${Math.round(elapsedMs)} ms (${this.config.file ?? 'config'})`);
    for (const plug of plugs) {
      const channels = [...this.#channelsByName].filter(([, ch]) => ch.plug === plug).map(([n]) => n);
      announce(`  plug ${plug.name} (${plug.network}, ${plug.state})${channels.length ? `: channels ${channels.join(', ')}` : ''}`);
    }
    for (const hook of this.hooks.values()) {
      announce(
        `  hook ${hook.name} (${hook.constructor.name}${hook.priority !== undefined ? `, priority ${hook.priority}` : ''}, ${hook.state})`,
      );
    }
    const web = this.#services?.http?.listening ? this.#services.http.url.replace(/\/$/, '') : '(no web server)';
    for (const line of this.#served) announce(`  ${line.replaceAll('{web}', web)}`);
  }
}

export interface HostStatus {
  readonly plugs: readonly { name: string; path: string; state: OpenState; network: string | undefined }[];
  readonly hooks: readonly { name: string; path: string; state: OpenState; priority: number | undefined }[];
  readonly channels: readonly { name: string; plug: string; source: string }[];
  readonly groups: readonly string[];
}
