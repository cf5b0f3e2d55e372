/**
 * Logging: pino underneath, configured by the shape of Python's logging.config dict that IMMP
 * users know (handlers with a class, level and filename; loggers by dotted name; root).
 * Quiet by default: without a `logging` section only warnings, errors and the start/stop lines.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import pino, { type DestinationStream, type Level, type Logger, type StreamEntry } from 'pino';
import pretty from 'pino-pretty';
import { z } from 'zod';

export type { Logger } from 'pino';

const LEVEL_NAMES: Record<string, Level | 'silent'> = {
  notset: 'trace',
  trace: 'trace',
  debug: 'debug',
  info: 'info',
  warn: 'warn',
  warning: 'warn',
  error: 'error',
  critical: 'fatal',
  fatal: 'fatal',
  silent: 'silent',
  off: 'silent',
};

const level = z
  .string()
  .transform((v) => v.toLowerCase())
  .refine((v) => v in LEVEL_NAMES, { message: `expected one of ${Object.keys(LEVEL_NAMES).join(', ')}` })
  .transform((v) => LEVEL_NAMES[v] as Level | 'silent');

const handler = z
  .object({
    class: z.string().default('console'),
    level: level.optional(),
    filename: z.string().optional(),
    /** `text` is one readable line per record; `json` is pino's own line. */
    format: z.enum(['text', 'json']).optional(),
    /** For console handlers: `ext://sys.stdout` or `ext://sys.stderr` (the default), as in Python. */
    stream: z.string().optional(),
  })
  .loose()
  .superRefine((h, ctx) => {
    const kind = handlerKind(h.class);
    if (kind === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['class'],
        message: `unknown handler class "${h.class}" (use console, file, logging.StreamHandler or logging.FileHandler)`,
      });
    }
    if (kind === 'file' && !h.filename) ctx.addIssue({ code: 'custom', path: ['filename'], message: 'a file handler needs a filename' });
  });

/** dictConfig keys porter accepts for compatibility but does not use. */
const ignored = z.unknown().optional();

/**
 * The `logging` section: Python's dictConfig shape. Its other keys (formatters, filters, …) are
 * accepted and ignored; anything else is an error, so that a section indented under `logging` by
 * mistake is not silently dropped. Handlers stay open to extra keys, as dictConfig passes them on
 * to the handler's constructor (maxBytes, encoding, …).
 */
export const loggingSchema = z
  .object({
    version: z.literal(1).optional(),
    handlers: z.record(z.string(), handler).default({}),
    loggers: z
      .record(
        z.string(),
        z.strictObject({ level: level.optional(), propagate: z.boolean().optional(), handlers: ignored, filters: ignored }),
      )
      .default({}),
    root: z.strictObject({ level: level.optional(), handlers: z.array(z.string()).optional(), filters: ignored }).default({}),
    formatters: ignored,
    filters: ignored,
    incremental: ignored,
    disable_existing_loggers: ignored,
  })
  .strict()
  .superRefine((cfg, ctx) => {
    for (const [i, name] of (cfg.root.handlers ?? []).entries()) {
      if (!(name in cfg.handlers)) ctx.addIssue({ code: 'custom', path: ['root', 'handlers', i], message: `unknown handler "${name}"` });
    }
  });

export type LoggingConfig = z.input<typeof loggingSchema>;

function handlerKind(cls: string): 'console' | 'file' | undefined {
  const c = cls.toLowerCase();
  if (c === 'console' || c === 'stream' || c === 'logging.streamhandler') return 'console';
  if (c === 'file' || c === 'logging.filehandler' || c.endsWith('rotatingfilehandler')) return 'file';
  return undefined;
}

const ORDER: Record<Level | 'silent', number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

/** The logging of one porter process: named loggers with levels inherited along dotted names. */
export class Logging {
  readonly #root: Logger;
  readonly #levels: ReadonlyMap<string, Level | 'silent'>;
  readonly #rootLevel: Level | 'silent';
  readonly #closers: (() => void)[];
  readonly #cache = new Map<string, Logger>();

  private constructor(root: Logger, levels: Map<string, Level | 'silent'>, rootLevel: Level | 'silent', closers: (() => void)[]) {
    this.#root = root;
    this.#levels = levels;
    this.#rootLevel = rootLevel;
    this.#closers = closers;
  }

  /**
   * Builds logging from a validated `logging` section. Relative file names are resolved
   * against `baseDir` (the config file's folder).
   */
  static create(config: LoggingConfig | undefined, options: { baseDir?: string; destination?: DestinationStream } = {}): Logging {
    const cfg = loggingSchema.parse(config ?? {});
    const baseDir = options.baseDir ?? process.cwd();
    const closers: (() => void)[] = [];
    const streams: StreamEntry[] = [];
    const rootLevel = cfg.root.level ?? 'warn';
    const handlerNames = cfg.root.handlers ?? Object.keys(cfg.handlers);
    for (const name of handlerNames) {
      const h = cfg.handlers[name];
      if (!h) continue;
      const kind = handlerKind(h.class);
      const hLevel = h.level && h.level !== 'silent' ? h.level : 'trace';
      if (h.level === 'silent') continue;
      if (kind === 'file' && h.filename) {
        const file = resolve(baseDir, h.filename);
        mkdirSync(dirname(file), { recursive: true });
        const dest = pino.destination({ dest: file, sync: false, mkdir: true });
        closers.push(() => dest.flushSync());
        streams.push({ level: hLevel, stream: h.format === 'text' ? textStream(dest, false) : dest });
      } else {
        const fd = h.stream?.includes('stdout') ? 1 : 2;
        const dest = options.destination ?? pino.destination({ fd, sync: true });
        streams.push({ level: hLevel, stream: h.format === 'json' ? dest : textStream(dest, fd === 2 && process.stderr.isTTY) });
      }
    }
    if (streams.length === 0) {
      const dest = options.destination ?? pino.destination({ fd: 2, sync: true });
      streams.push({ level: 'trace', stream: textStream(dest, process.stderr.isTTY) });
    }
    const levels = new Map<string, Level | 'silent'>();
    for (const [name, l] of Object.entries(cfg.loggers)) if (l.level) levels.set(name, l.level);
    const root = pino({ level: 'trace', base: undefined }, pino.multistream(streams, { dedupe: false }));
    return new Logging(root, levels, rootLevel, closers);
  }

  /** A logging that drops everything; for tests and benchmarks. */
  static silent(): Logging {
    return new Logging(pino({ level: 'silent' }), new Map(), 'silent', []);
  }

  /** The logger called `name` (`porter.plug.demo`), at the level configured for it or its nearest parent. */
  get(name: string): Logger {
    let logger = this.#cache.get(name);
    if (!logger) {
      logger = this.#root.child({ name }, { level: this.levelOf(name) });
      this.#cache.set(name, logger);
    }
    return logger;
  }

  levelOf(name: string): Level | 'silent' {
    let n = name;
    for (;;) {
      const l = this.#levels.get(n);
      if (l) return l;
      const dot = n.lastIndexOf('.');
      if (dot < 0) return this.#rootLevel;
      n = n.slice(0, dot);
    }
  }

  /** True when `name` logs at `level`; guards costly debug output. */
  enabled(name: string, level: Level): boolean {
    const l = this.levelOf(name);
    return ORDER[level] >= ORDER[l];
  }

  flush(): void {
    for (const close of this.#closers) {
      try {
        close();
      } catch {
        // A file that was never written cannot be flushed; nothing is lost.
      }
    }
  }
}

function textStream(dest: DestinationStream, colorize: boolean): Writable {
  return pretty({
    destination: dest as unknown as Writable,
    sync: true,
    colorize,
    translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l',
    ignore: 'pid,hostname',
    messageKey: 'msg',
    singleLine: true,
  }) as unknown as Writable;
}

/** The start and stop lines a person reads: plain text on stdout, whatever the log config says. */
export function announce(line: string): void {
  process.stdout.write(`${line}\n`);
}
