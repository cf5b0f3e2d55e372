/**
 * `porter calendar handle --dry-run [--config FILE] [--agent ID] < message.eml`: runs one agent
 * on one mail as porter would, and prints the mail it would send instead of sending it
 * (imip-agent's `-d`). The store is read, never written.
 */
import { existsSync } from 'node:fs';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../core/config/index.js';
import { ConfigError } from '../../core/errors.js';
import { Logging } from '../../core/log.js';
import { parseStoreUrl, Store } from '../../services/store/index.js';
import { agentsOf } from './agent-list.js';
import { type Agent, CalendarAgents, type OutgoingPart } from './agents.js';
import type { CalendarConfig } from './config.js';
import { CALENDAR_MIGRATION_OWNER, CalendarStore, calendarMigrations } from './store.js';

export const CALENDAR_USAGE = 'usage: porter calendar handle --dry-run [--config FILE] [--agent ID] < message.eml';

interface Io {
  readonly stdin: AsyncIterable<Buffer | string> | Iterable<Buffer | string>;
  readonly stdout: { write(s: string): unknown };
  readonly stderr: { write(s: string): unknown };
}

/** Runs `porter calendar ARGS`; resolves with the exit code (0 done, 1 failed, 2 bad usage or config). */
export async function runCalendarCommand(args: readonly string[], io: Io): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(args);
  } catch (error) {
    io.stderr.write(`porter calendar: ${(error as Error).message}\n${CALENDAR_USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (positionals[0] !== 'handle' || positionals.length !== 1) {
    io.stderr.write(`${CALENDAR_USAGE}\n`);
    return 2;
  }
  if (!values['dry-run']) {
    io.stderr.write('porter calendar handle: only --dry-run is offered; a running porter handles the mail that arrives\n');
    return 2;
  }
  let config: Awaited<ReturnType<typeof loadConfig>>;
  try {
    config = await loadConfig(values.config ?? 'porter.yaml');
  } catch (error) {
    io.stderr.write(`${error instanceof ConfigError ? error.message : `porter calendar: ${(error as Error).message}`}\n`);
    return 2;
  }
  const hooks = config.hooks.filter((h) => h.enabled && h.cls?.name === 'CalendarHook');
  const hook = hooks[0];
  if (!hook) {
    io.stderr.write(`porter calendar: ${values.config ?? 'porter.yaml'} has no calendar hook\n`);
    return 2;
  }
  const cfg = hook.config as CalendarConfig;
  const chunks: Buffer[] = [];
  for await (const chunk of io.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  const source = Buffer.concat(chunks);

  // Log lines go to stderr, so stdout holds only the mail that would be sent.
  const toStderr = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      io.stderr.write(chunk.toString());
      done();
    },
  });
  const logging = Logging.create(config.logging, { baseDir: config.baseDir, destination: toStderr });
  const log = logging.get(`porter.hook.${hook.name}`);
  // A SQLite file that is not there yet is not created: an empty store in memory reads the same.
  const location = parseStoreUrl(config.store, config.baseDir);
  const missing = location.dialect === 'sqlite' && location.file !== ':memory:' && !existsSync(location.file);
  const stored = await Store.open(missing ? 'sqlite::memory:' : config.store, { baseDir: config.baseDir, log });
  // A store that never had the calendar's tables holds nothing for it: read an empty one instead of creating them.
  const store = (await hasCalendarTables(stored)) ? stored : await Store.open('sqlite::memory:', { baseDir: config.baseDir, log });
  if (store !== stored) await store.migrate(CALENDAR_MIGRATION_OWNER, calendarMigrations);
  try {
    let agentList: Agent[];
    try {
      agentList = agentsOf(cfg, (name) => config.channels.get(name)?.source);
    } catch (error) {
      io.stderr.write(`porter calendar: hooks.${hook.name}.${(error as Error).message}\n`);
      return 2;
    }
    const agents = new CalendarAgents({
      agents: agentList,
      store: new CalendarStore(store, { readOnly: true }),
      log,
      windowBackDays: cfg['window-back'],
      windowAheadDays: cfg['window-ahead'],
      maxBytes: cfg['max-size'],
      groups: new Map(Object.entries(cfg.groups)),
    });
    const agent = values.agent ? agents.byId.get(values.agent) : recipientAgent(agents, source);
    if (!agent) {
      io.stderr.write(
        values.agent
          ? `porter calendar: no agent "${values.agent}" (agents: ${[...agents.byId.keys()].join(', ')})\n`
          : "porter calendar: no agent among the mail's recipients (Delivered-To:, To:, Cc:); name one with --agent\n",
      );
      return 2;
    }
    const sender = /^From:.*?<?([^\s<>"]+@[^\s<>"]+?)>?\s*$/im.exec(headerBlock(source))?.[1]?.toLowerCase();
    const messageId = /^Message-ID:\s*<?([^>\s]+)>?/im.exec(headerBlock(source))?.[1];
    const parts = await agents.handle(agent, { source, sender, messageId });
    if (parts.length === 0) io.stdout.write(`# ${agent.id}: nothing to send\n`);
    for (const part of parts) io.stdout.write(show(part));
    return 0;
  } finally {
    if (store !== stored) await store.close();
    await stored.close();
  }
}

function parse(args: readonly string[]) {
  return parseArgs({
    args: [...args],
    allowPositionals: true,
    options: {
      'dry-run': { type: 'boolean', short: 'd' },
      config: { type: 'string', short: 'c' },
      agent: { type: 'string', short: 'a' },
    },
  });
}

async function hasCalendarTables(store: Store): Promise<boolean> {
  try {
    await store.db<{ calendar_version: { agent: string } }>().selectFrom('calendar_version').select('agent').limit(1).execute();
    return true;
  } catch {
    return false;
  }
}

/** The header block, unfolded. */
function headerBlock(source: Buffer): string {
  const text = source.toString('latin1');
  const end = text.search(/\r?\n\r?\n/);
  return (end < 0 ? text : text.slice(0, end)).replace(/\r?\n[ \t]+/g, ' ');
}

/** The agent the mail was delivered to: `Delivered-To:` first, then `To:` and `Cc:`. */
function recipientAgent(agents: CalendarAgents, source: Buffer): Agent | undefined {
  const headers = headerBlock(source);
  for (const name of ['Delivered-To', 'To', 'Cc']) {
    for (const match of headers.matchAll(new RegExp(`^${name}:(.*)$`, 'gim'))) {
      for (const address of (match[1] ?? '').matchAll(/[^\s<>",;:]+@[^\s<>",;]+/g)) {
        const agent = agents.byAddress.get(address[0].toLowerCase());
        if (agent) return agent;
      }
    }
  }
  return undefined;
}

function show(part: OutgoingPart): string {
  const head = [
    `From: ${part.fromName ? `${part.fromName} <${part.from}>` : part.from}`,
    `To: ${part.to.join(', ')}`,
    `Subject: ${part.subject}`,
    `Content-Type: text/calendar; method=${part.method}; charset=utf-8`,
  ];
  const attached = (part.attachments ?? []).map(
    (a) => `\n--- attached ${a.filename} (${a.contentType})\n${a.content.replace(/\r\n/g, '\n')}\n`,
  );
  return `${head.join('\n')}\n\n${part.content.replace(/\r\n/g, '\n')}\n${attached.join('')}`;
}
