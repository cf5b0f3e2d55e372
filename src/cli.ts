/**
 * The `porter` command: parses arguments and calls the library. `porter run [-w] CONFIG`,
 * `porter check CONFIG`, `porter user -c CONFIG add|passwd|del|list`. Exit status: 0 clean,
 * 1 failure at run time (or a refused request), 2 bad config or usage.
 */
import { Command, CommanderError } from 'commander';
import { loadConfig } from './core/config/index.js';
import { ConfigError } from './core/errors.js';
import { Host } from './core/host.js';
import { announce } from './core/log.js';
import { VERSION } from './version.js';

const EXIT_RUNTIME = 1;
const EXIT_CONFIG = 2;
const EXIT_FORCED = 130; // as a shell reports a second Ctrl-C
const STOP_TIMEOUT_MS = 30_000;

function failConfig(error: unknown): never {
  if (error instanceof ConfigError) {
    for (const line of error.message.split('\n')) process.stderr.write(`${line}\n`);
    process.exit(EXIT_CONFIG);
  }
  throw error;
}

async function check(file: string): Promise<void> {
  const config = await loadConfig(file).catch(failConfig);
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  const enabled = (list: readonly { enabled: boolean }[]) => list.filter((c) => c.enabled).length;
  announce(
    `${file}: OK (${count(enabled(config.plugs), 'plug')}, ${count(config.channels.size, 'channel')}, ` +
      `${count(config.groups.size, 'group')}, ${count(enabled(config.hooks), 'hook')})`,
  );
}

async function run(file: string, options: { write?: boolean }): Promise<void> {
  const started = performance.now();
  const config = await loadConfig(file).catch(failConfig);
  const host = new Host(config, { writeBack: options.write === true });
  const log = host.logging.get('porter');

  // The daemon outlives a bug in one hook or plug: log what escaped, keep serving.
  process.on('unhandledRejection', (reason) => log.error({ err: reason }, 'unhandled rejection'));
  process.on('uncaughtException', (error) => log.error({ err: error }, 'uncaught exception'));

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      announce(`porter: ${signal} again, exiting at once`);
      process.exit(EXIT_FORCED);
    }
    stopping = true;
    announce(`porter: ${signal}, stopping`);
    const force = setTimeout(() => {
      announce(`porter: not stopped within ${STOP_TIMEOUT_MS / 1000} s, exiting`);
      process.exit(EXIT_RUNTIME);
    }, STOP_TIMEOUT_MS);
    force.unref();
    host.close().then(
      () => {
        announce('porter stopped');
        process.exit(0);
      },
      (error: unknown) => {
        log.fatal({ err: error }, 'stop failed');
        process.exit(EXIT_RUNTIME);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));

  try {
    await host.open();
  } catch (error) {
    log.fatal({ err: error }, 'start failed');
    process.stderr.write(`porter: cannot start: ${(error as Error).message}\n`);
    await host.close().catch(() => {});
    process.exit(EXIT_RUNTIME);
  }
  host.announceStart(performance.now() - started, VERSION);
  // A daemon runs until it is told to stop, even when no plug holds a socket open.
  setInterval(() => {}, 2 ** 30);
}

/** `porter user -c CONFIG …`: the mail users, in the store the config names. */
async function user(args: readonly string[]): Promise<void> {
  const rest = [...args];
  const at = rest.findIndex((a) => a === '-c' || a === '--config');
  const file = at >= 0 ? rest[at + 1] : undefined;
  if (at >= 0) rest.splice(at, 2);
  const { runUserCommand, USER_USAGE } = await import('./mail/auth/index.js');
  if (!file) {
    process.stderr.write(`porter user needs the config file whose store holds the users: porter user -c CONFIG …\n${USER_USAGE}\n`);
    process.exit(EXIT_CONFIG);
  }
  const config = await loadConfig(file).catch(failConfig);
  const { Store } = await import('./services/store/index.js');
  const { Logging } = await import('./core/log.js');
  const log = Logging.create(config.logging, { baseDir: config.baseDir }).get('porter.mail.auth');
  const store = await Store.open(config.store, { baseDir: config.baseDir, log });
  try {
    const result = await runUserCommand(store, rest, { stdin: process.stdin, log });
    (result.code === 0 ? process.stdout : process.stderr).write(`${result.output}\n`);
    process.exitCode = result.code;
  } finally {
    await store.close();
  }
}

/** `porter ipc -s ADDRESS [-t TOKEN] 'name: p1 ; p2'`: one IPC request, the reply on stdout. */
async function ipc(message: string, options: { socket: string; token?: string; timeout: string }): Promise<void> {
  const { IpcClient, parseLine, encodeReply, SHAPES } = await import('./mail/ipc/index.js');
  let request: { name: string; params: string[] };
  try {
    request = parseLine(message);
  } catch (error) {
    process.stderr.write(`porter ipc: ${(error as Error).message}\n`);
    process.exit(EXIT_CONFIG);
  }
  const shape = SHAPES[request.name];
  // A raw operation (`store: to ; recipient ; length`) takes its bytes from stdin.
  let body: Buffer | undefined;
  if (shape?.body !== undefined) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    body = Buffer.concat(chunks);
  }
  const client = new IpcClient({ address: options.socket, token: options.token, timeoutMs: Number(options.timeout) * 1000 });
  try {
    const reply = await client.request(request.name, request.params, body);
    for (const part of encodeReply(reply, shape?.reply ?? 'plain')) process.stdout.write(part);
    process.exitCode = reply.ok ? 0 : EXIT_RUNTIME;
  } catch (error) {
    process.stderr.write(`porter ipc: ${(error as Error).message}\n`);
    process.exitCode = EXIT_RUNTIME;
  } finally {
    await client.close();
  }
}

/** `porter calendar handle --dry-run …`: the calendar agents by hand (see src/hooks/calendar/cli.ts). */
async function calendar(args: readonly string[]): Promise<void> {
  const { runCalendarCommand } = await import('./hooks/calendar/cli.js');
  process.exitCode = await runCalendarCommand(args, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
}

export async function main(argv: readonly string[]): Promise<void> {
  const program = new Command('porter')
    .description('one daemon, one config file: agents for people, rooms and resources on e-mail, XMPP, IRC and the web')
    .version(VERSION, '-V, --version')
    .exitOverride()
    .showHelpAfterError();
  program
    .command('run')
    .description('run porter with a config file (YAML, JSON or TOML)')
    .option('-w, --write', 'write the config back on run-time changes and on exit')
    .argument('<config>', 'the config file')
    .action(run);
  program
    .command('check')
    .description('check a config file and exit: 0 if it is valid, 2 if not')
    .argument('<config>', 'the config file')
    .action(check);
  program
    .command('ipc')
    .description("send one message to porter's mail servers and print the reply, e.g. porter ipc -s data/mail.sock 'slot: incoming'")
    .requiredOption('-s, --socket <address>', 'a Unix socket path, or tcp:HOST:PORT')
    .option('-t, --token <token>', 'the token of a TCP listener')
    .option('--timeout <seconds>', 'how long to wait for the reply', '30')
    .argument('<message>', "the message in the servers' notation: 'name: p1 ; p2'")
    .action(ipc);
  program
    .command('user')
    .description('manage the mail users: porter user -c CONFIG add|passwd NAME [--password P], del NAME, list')
    .helpOption(false)
    .allowUnknownOption()
    .argument('[args...]', 'the user command and its arguments')
    .action(user);
  program
    .command('calendar')
    .description('the calendar agents: porter calendar handle --dry-run [--config FILE] [--agent ID] < message.eml')
    .helpOption(false)
    .allowUnknownOption()
    .argument('[args...]', 'the calendar command and its arguments')
    .action(calendar);
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exit(error.exitCode === 0 ? 0 : EXIT_CONFIG);
    }
    throw error;
  }
}

await main(process.argv.slice(2));
