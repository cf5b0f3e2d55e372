/**
 * The `porter` command: parses arguments and calls the library. `porter run [-w] CONFIG`,
 * `porter check CONFIG`. Exit status: 0 clean, 1 failure at run time, 2 bad config or usage.
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
