// `porter user add|passwd|del|list`: the mail users from the command line, as text and an exit code.
import type { Logger } from '../../core/log.js';
import type { Store } from '../../services/store/index.js';
import { normaliseUserName, UserNameError } from './names.js';
import { MailUserError, MailUsers } from './users.js';

export interface UserCommandIo {
  /** Where a password comes from when `--password` is not given: its first line is the password. */
  readonly stdin?: AsyncIterable<Buffer | string>;
  readonly log?: Logger;
}

/** What to print (on stdout when `code` is 0, else on stderr) and the exit status. */
export interface CommandResult {
  readonly output: string;
  readonly code: number;
}

export const USER_USAGE = `usage:
  porter user add NAME [--password PASSWORD]     add a mail user (password read from stdin if not given)
  porter user passwd NAME [--password PASSWORD]  change a mail user's password
  porter user del NAME                           remove a mail user (their mailbox stays on disk)
  porter user list                               list the mail users
NAME is a local part (alice) or an address (alice@example.org), kept in lower case.
Prefer stdin to --password: other users of the machine can see a command line.`;

/** A refusal of the user's input: status 1. Usage mistakes: status 2. */
const REFUSED = 1;
const USAGE = 2;

/** Runs one `porter user` command (argv without `porter user`) against the store. */
export async function runUserCommand(store: Store, argv: readonly string[], io: UserCommandIo = {}): Promise<CommandResult> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    return { output: USER_USAGE, code: command === undefined ? USAGE : 0 };
  }
  let parsed: { name?: string; password?: string };
  try {
    parsed = parseArgs(rest);
  } catch (error) {
    return { output: `${(error as Error).message}\n${USER_USAGE}`, code: USAGE };
  }
  const needsName = command === 'add' || command === 'passwd' || command === 'del';
  if (needsName && parsed.name === undefined) return { output: `porter user ${command} needs a NAME\n${USER_USAGE}`, code: USAGE };
  if (!needsName && command !== 'list') return { output: `unknown command "user ${command}"\n${USER_USAGE}`, code: USAGE };
  if (command === 'list' && parsed.name !== undefined) return { output: `porter user list takes no NAME\n${USER_USAGE}`, code: USAGE };
  if ((command === 'del' || command === 'list') && parsed.password !== undefined) {
    return { output: `porter user ${command} takes no password\n${USER_USAGE}`, code: USAGE };
  }

  const users = await MailUsers.open(store, { log: io.log });
  try {
    switch (command) {
      case 'add': {
        // A bad name is refused before a password is asked for.
        const name = userName(parsed.name!);
        if (await users.verify(name)) throw new MailUserError(`user "${name}" already exists`);
        const user = await users.add(name, parsed.password ?? (await readPassword(io.stdin)));
        return { output: `added ${user.name}`, code: 0 };
      }
      case 'passwd': {
        // Fail on an unknown user before asking for a password nobody will use.
        const name = userName(parsed.name!);
        if (!(await users.verify(name))) throw new MailUserError(`no user "${name}"`);
        await users.passwd(name, parsed.password ?? (await readPassword(io.stdin)));
        return { output: `changed the password of ${name}`, code: 0 };
      }
      case 'del':
        await users.remove(parsed.name!);
        return { output: `removed ${userName(parsed.name!)}`, code: 0 };
      default: {
        const list = await users.list();
        return { output: list.map((u) => `${u.name}\tcreated ${new Date(u.created).toISOString()}`).join('\n'), code: 0 };
      }
    }
  } catch (error) {
    if (error instanceof MailUserError) return { output: error.message, code: REFUSED };
    throw error;
  }
}

function parseArgs(args: readonly string[]): { name?: string; password?: string } {
  const out: { name?: string; password?: string } = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--password' || arg === '-p') {
      const value = args[++i];
      if (value === undefined) throw new Error(`${arg} needs a value`);
      out.password = value;
    } else if (arg.startsWith('--password=')) {
      out.password = arg.slice('--password='.length);
    } else if (arg.startsWith('-')) {
      throw new Error(`unknown option "${arg}"`);
    } else if (out.name === undefined) {
      out.name = arg;
    } else {
      throw new Error(`unexpected argument "${arg}"`);
    }
  }
  return out;
}

/** The first line of stdin, without its line end. */
async function readPassword(stdin: AsyncIterable<Buffer | string> | undefined): Promise<string> {
  if (!stdin) throw new MailUserError('no password: give --password or write it on stdin');
  let text = '';
  for await (const chunk of stdin) {
    text += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    if (text.includes('\n')) break;
  }
  const line = text.split('\n')[0]!.replace(/\r$/, '');
  if (line === '') throw new MailUserError('no password: give --password or write it on stdin');
  return line;
}

function userName(input: string): string {
  try {
    return normaliseUserName(input);
  } catch (error) {
    throw error instanceof UserNameError ? new MailUserError(error.message) : error;
  }
}
