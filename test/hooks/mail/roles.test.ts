// The mail roles split across four `porter run` processes that talk only over IPC: queue+auth,
// mailbox+pop3, smtp-out, smtp-in. swaks in, Python's poplib out, an smtp-sink smarthost, and the
// queue process killed and restarted while mail comes in.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { porter, porterExit, type Run } from '../../helpers/cli.js';
import { tempDir } from '../../helpers/host.js';
import { freePort } from '../../helpers/wait.js';
import { ensureMailTools, SMTP_SINK_PATH, swaks } from '../../peers/mail-tools.js';

const execFileP = promisify(execFile);

const PASSWORD = 'correct horse battery staple';
const ALICE = 'alice@example.org';

let dir: string;
let removeDir: (() => Promise<void>) | undefined;
let sink: ChildProcess | undefined;
let sinkPort: number;
let sinkDump: string;
const runs = new Map<string, Run>();

/** Warnings and up on stdout, so that a test can read what an operator would. */
const LOGGING = {
  version: 1,
  handlers: { out: { class: 'logging.StreamHandler', stream: 'ext://sys.stdout', level: 'INFO' } },
  root: { level: 'WARNING', handlers: ['out'] },
  loggers: { 'porter.hook.mail': { level: 'INFO' } },
};

function mailConfig(config: Record<string, unknown>, store = 'sqlite::memory:'): string {
  const document = {
    store,
    logging: LOGGING,
    hooks: { mail: { path: 'mail.MailHook', config: { domains: ['example.org'], spool: 'spool', mailboxes: 'mail', ...config } } },
  };
  // JSON is YAML.
  return JSON.stringify(document, null, 2);
}

const CONFIGS = {
  queue: () => mailConfig({ roles: ['auth', 'queue'], ipc: { socket: 'queue.sock' } }, 'sqlite:users.db'),
  mailbox: () =>
    mailConfig({
      roles: ['mailbox', 'pop3'],
      pop3: '127.0.0.1:0',
      servers: { auth: './queue.sock', queue: './queue.sock', 'smtp-out': './smtp-out.sock' },
      ipc: { socket: 'mailbox.sock' },
    }),
  'smtp-out': () =>
    mailConfig({
      roles: ['smtp-out'],
      outbound: { hostname: 'mx.example.org', smarthost: { host: '127.0.0.1', port: sinkPort }, backoff: { min: 1, max: 2 } },
      servers: { auth: './queue.sock', queue: './queue.sock', mailbox: './mailbox.sock' },
      ipc: { socket: 'smtp-out.sock' },
    }),
  'smtp-in': () =>
    mailConfig({
      roles: ['smtp-in'],
      smtp: {
        hostname: 'mx.example.org',
        listeners: [
          { address: '127.0.0.1:0', mode: 'smtp' },
          { address: '127.0.0.1:0', mode: 'submission', 'allow-insecure-auth': true },
        ],
      },
      servers: { auth: './queue.sock', queue: './queue.sock' },
    }),
} as const;
type Name = keyof typeof CONFIGS;

const LAST_START_LINE: Record<Name, RegExp> = {
  queue: /mail ipc .*queue\.sock/,
  mailbox: /mail ipc .*mailbox\.sock/,
  'smtp-out': /mail ipc .*smtp-out\.sock/,
  'smtp-in': /mail submission 127\.0\.0\.1:\d+/,
};

async function start(name: Name): Promise<Run> {
  const run = porter(['run', join(dir, `${name}.yaml`)]);
  runs.set(name, run);
  // The start lines come after `ready in`, perhaps in another write: wait for the last one.
  await run.waitFor(LAST_START_LINE[name], 20_000);
  return run;
}

async function stop(name: Name, signal: NodeJS.Signals): Promise<void> {
  const run = runs.get(name);
  if (!run || run.child.exitCode !== null || run.child.signalCode !== null) return;
  run.child.kill(signal);
  await run.exited;
}

function port(name: Name, what: RegExp): number {
  const match = what.exec(runs.get(name)!.stdout);
  if (!match) throw new Error(`${name} did not print ${what}:\n${runs.get(name)!.stdout}`);
  return Number(match[1]);
}

const smtpPort = () => port('smtp-in', /mail smtp 127\.0\.0\.1:(\d+)/);
const submissionPort = () => port('smtp-in', /mail submission 127\.0\.0\.1:(\d+)/);
const pop3Port = () => port('mailbox', /mail pop3 127\.0\.0\.1:(\d+)/);

const swaksTo = (p: number, args: readonly string[]) =>
  swaks(['--server', '127.0.0.1', '--port', String(p), '--helo', 'client.test', '--timeout', '15', ...args]);

/** Every message in the user's mailbox, through Python's poplib; with `dele`, each is deleted after reading. */
async function pop(user: string, dele = false): Promise<string[]> {
  const script = `
import poplib, json, sys
p = poplib.POP3('127.0.0.1', int(sys.argv[1]), timeout=10)
p.user(sys.argv[2])
p.pass_(sys.argv[3])
count = p.stat()[0]
out = []
for i in range(count):
    out.append(b'\\r\\n'.join(p.retr(i + 1)[1]).decode('utf-8', 'replace'))
    if sys.argv[4] == '1':
        p.dele(i + 1)
p.quit()
print(json.dumps(out))
`;
  const { stdout } = await execFileP('python3', ['-c', script, String(pop3Port()), user, PASSWORD, dele ? '1' : '0'], { timeout: 15_000 });
  return JSON.parse(stdout) as string[];
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function answers(p: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port: p }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

/** The files in alice's maildir, by the `X-Test-Id` each carries. */
async function maildirIds(): Promise<Map<string, number>> {
  const ids = new Map<string, number>();
  for (const sub of ['new', 'cur']) {
    const folder = join(dir, 'mail', ALICE, sub);
    for (const name of await readdir(folder).catch(() => [] as string[])) {
      const id = /^X-Test-Id: (\S+)$/m.exec(await readFile(join(folder, name), 'latin1'))?.[1];
      if (id !== undefined) ids.set(id, (ids.get(id) ?? 0) + 1);
    }
  }
  return ids;
}

beforeAll(async () => {
  await ensureMailTools();
  ({ dir, remove: removeDir } = await tempDir());
  // smtp-sink drops to `nobody`, which must be able to reach and write its dump folder.
  await chmod(dir, 0o755);
  sinkDump = join(dir, 'sink');
  await mkdir(sinkDump);
  await chmod(sinkDump, 0o777);
  sinkPort = await freePort();
  sink = spawn(SMTP_SINK_PATH, ['-u', 'nobody', '-d', `${sinkDump}/%H%M%S.`, `127.0.0.1:${sinkPort}`, '256'], { stdio: 'ignore' });
  await until('smtp-sink', async () => ((await answers(sinkPort)) ? true : undefined), 5_000);
  for (const name of Object.keys(CONFIGS) as Name[]) await writeFile(join(dir, `${name}.yaml`), CONFIGS[name]());
  const added = await porterExit(['user', '-c', join(dir, 'queue.yaml'), 'add', ALICE, '--password', PASSWORD]);
  expect(added.code, added.stderr).toBe(0);
  // The queue first; the others would retry until it answers.
  await start('queue');
  await Promise.all((['mailbox', 'smtp-out', 'smtp-in'] as const).map(start));
}, 120_000);

afterAll(async () => {
  await Promise.all([...runs.keys()].map((name) => stop(name as Name, 'SIGTERM')));
  if (sink && sink.exitCode === null) {
    const exited = new Promise((resolve) => sink!.once('exit', resolve));
    sink.kill('SIGTERM');
    await exited;
  }
  await removeDir?.();
});

describe('mail roles in separate processes', () => {
  it('passes `porter check` for each process of the split', async () => {
    for (const name of Object.keys(CONFIGS)) {
      const result = await porterExit(['check', join(dir, `${name}.yaml`)]);
      expect({ name, code: result.code, stderr: result.stderr }).toEqual({ name, code: 0, stderr: '' });
    }
  });

  it('delivers mail from SMTP in (one process) to POP3 (another) through the queue (a third)', async () => {
    const body = `split delivery ${Math.random().toString(36).slice(2)}`;
    const sent = await swaksTo(smtpPort(), ['--to', ALICE, '--from', 'bob@example.net', '--body', body]);
    expect(sent.code, sent.output).toBe(0);
    expect(sent.output).toMatch(/<- {2}250 /);
    const messages = await until('the message in the mailbox', async () => {
      const found = await pop(ALICE);
      return found.some((m) => m.includes(body)) ? found : undefined;
    });
    const message = messages.find((m) => m.includes(body))!;
    expect(message).toMatch(/^Delivered-To: alice@example\.org\r\n/);
    expect(message).toContain('by mx.example.org');
  });

  it('refuses unknown local users at RCPT with the auth server in another process', async () => {
    const sent = await swaksTo(smtpPort(), ['--to', 'nobody@example.org', '--from', 'bob@example.net']);
    expect(sent.output).toMatch(/<\*\* 550 5\.1\.1/);
  });

  it('relays an authenticated submission to another domain through SMTP out (its own process) to the smarthost', async () => {
    const body = `split relay ${Math.random().toString(36).slice(2)}`;
    const sent = await swaksTo(submissionPort(), [
      '--auth',
      'PLAIN',
      '--auth-user',
      ALICE,
      '--auth-password',
      PASSWORD,
      '--to',
      'carol@example.net',
      '--from',
      ALICE,
      '--body',
      body,
    ]);
    expect(sent.code, sent.output).toBe(0);
    const dumped = await until('the message at the smarthost', async () => {
      for (const name of await readdir(sinkDump)) {
        const text = await readFile(join(sinkDump, name), 'latin1');
        if (text.includes(body)) return text;
      }
      return undefined;
    });
    expect(dumped).toContain('carol@example.net');
    expect(dumped).toMatch(/by mx\.example\.org/);
  });

  it('answers 4xx while the queue process is down, never 250, and loses nothing acknowledged across its restart', async () => {
    await pop(ALICE, true);
    const acknowledged: string[] = [];
    const refused: string[] = [];
    /** When each message's SMTP session began. */
    const began = new Map<string, number>();
    let n = 0;
    const send = async (): Promise<void> => {
      const id = `m${++n}`;
      began.set(id, Date.now());
      const result = await swaksTo(smtpPort(), ['--to', ALICE, '--from', 'bob@example.net', '--add-header', `X-Test-Id: ${id}`]);
      // The reply to the final dot: 250 once the queue has the message durably.
      if (/-> \.\n<- +250 /.test(result.output)) acknowledged.push(id);
      else
        refused.push(
          `${id}: ${result.output
            .split('\n')
            .filter((l) => l.startsWith('<**') || l.startsWith('<~'))
            .join(' | ')}`,
        );
    };
    // Mail keeps coming in while the queue process is killed (no chance to clean up) and restarted.
    let sending = true;
    const loop = (async () => {
      while (sending) await send();
    })();
    await until('a few acknowledged messages', async () => (acknowledged.length >= 3 ? true : undefined));
    await stop('queue', 'SIGKILL');
    const killed = Date.now();
    const refusedBefore = refused.length;
    await until('refusals while the queue is down', async () => (refused.length >= refusedBefore + 2 ? true : undefined));
    const restarting = Date.now();
    // No session that began while the queue was down got a 250 (one under way at the kill may have).
    expect(acknowledged.filter((id) => began.get(id)! > killed)).toEqual([]);
    expect(refused.slice(refusedBefore).join('\n')).toMatch(/<\*\* +4\d\d /);
    await start('queue');
    await until(
      'acknowledged messages after the restart',
      async () => (acknowledged.filter((id) => began.get(id)! > restarting).length >= 3 ? true : undefined),
      30_000,
    );
    sending = false;
    await loop;
    // Every acknowledged message reaches the mailbox (a duplicate would be allowed; a loss is not).
    const ids = await until(
      'every acknowledged message in the mailbox',
      async () => {
        const found = await maildirIds();
        return acknowledged.every((id) => found.has(id)) ? found : undefined;
      },
      30_000,
    );
    expect(acknowledged.filter((id) => !ids.has(id))).toEqual([]);
    // SMTP in said what went wrong, and that it came back (the users are asked first, at RCPT, and
    // live in the queue's process).
    expect(runs.get('smtp-in')!.stdout).toMatch(/WARN .*the (auth|queue) server is unreachable; retrying with backoff/);
    expect(runs.get('smtp-in')!.stdout).toMatch(/INFO .*the (auth|queue) server is reachable again/);
    // The mailbox process went on taking mail from the restarted queue (checked above: every
    // acknowledged message is in the mailbox); if it noticed the queue was gone, it says it is back.
    const mailboxLog = runs.get('mailbox')!.stdout;
    if (/the queue server is unreachable/.test(mailboxLog)) expect(mailboxLog).toMatch(/the queue server is reachable again/);
  }, 120_000);
});

describe('a process whose spool is not the queue’s', () => {
  it('does not start its mail hook, and says that the spool must be shared', async () => {
    const file = join(dir, 'elsewhere.yaml');
    await writeFile(
      file,
      mailConfig({
        spool: 'another-spool',
        roles: ['smtp-in'],
        smtp: { listeners: [{ address: '127.0.0.1:0', mode: 'smtp' }] },
        servers: { auth: './queue.sock', queue: './queue.sock' },
      }),
    );
    const run = porter(['run', file]);
    try {
      await run.waitFor(/hook mail \(MailHook, \w+\)/, 20_000);
      expect(run.stdout).toContain('hook mail (MailHook, failed)');
      expect(run.stdout).toMatch(/outside this process's spool .*another-spool.*must share the spool folder with the queue server/);
    } finally {
      run.child.kill('SIGTERM');
      await run.exited;
    }
  });
});

describe('bounces across processes', () => {
  it('bounces a message the mailbox refuses through SMTP out in its own process', async () => {
    // Accepted for carol while she exists; she is gone by the time the mailbox process delivers.
    const queueConfig = join(dir, 'queue.yaml');
    expect((await porterExit(['user', '-c', queueConfig, 'add', 'carol@example.org', '--password', PASSWORD])).code).toBe(0);
    await stop('mailbox', 'SIGTERM');
    const marker = `bounce-${Math.random().toString(36).slice(2)}`;
    const sent = await swaksTo(smtpPort(), [
      '--to',
      'carol@example.org',
      '--from',
      'bob@example.net',
      '--add-header',
      `X-Test-Id: ${marker}`,
    ]);
    expect(sent.code, sent.output).toBe(0);
    expect((await porterExit(['user', '-c', queueConfig, 'del', 'carol@example.org'])).code).toBe(0);
    await start('mailbox');
    const bounce = await until('the bounce at the smarthost', async () => {
      for (const name of await readdir(sinkDump)) {
        const text = await readFile(join(sinkDump, name), 'latin1');
        if (text.includes(marker) && /multipart\/report/i.test(text)) return text;
      }
      return undefined;
    });
    expect(bounce).toContain('bob@example.net');
    expect(bounce).toMatch(/Status: 5\.1\.1/);
  }, 60_000);
});

describe('a consumer process killed without unsubscribing', () => {
  it('keeps the queue quiet about it, and delivers what waited once it is back', async () => {
    await stop('mailbox', 'SIGKILL');
    const ids = ['k1', 'k2', 'k3'];
    for (const id of ids) {
      const sent = await swaksTo(smtpPort(), ['--to', ALICE, '--from', 'bob@example.net', '--add-header', `X-Test-Id: ${id}`]);
      expect(sent.code, sent.output).toBe(0);
    }
    // One warning for the dead callback, not one per push.
    const warnings = runs.get('queue')!.stdout.match(/a queue subscriber cannot be reached/g) ?? [];
    expect(warnings.length).toBeLessThanOrEqual(1);
    await start('mailbox');
    await until('the waiting messages in the mailbox', async () => {
      const found = await maildirIds();
      return ids.every((id) => found.has(id)) ? true : undefined;
    });
  }, 60_000);
});

describe('porter check on a split', () => {
  async function check(config: Record<string, unknown>): Promise<{ code: number | null; stderr: string }> {
    const file = join(dir, `check-${Math.random().toString(36).slice(2)}.yaml`);
    await writeFile(file, mailConfig(config));
    const result = await porterExit(['check', file]);
    return { code: result.code, stderr: result.stderr };
  }

  it('accepts roles whose peers are here or have an address', async () => {
    expect(
      await check({
        roles: ['smtp-in'],
        smtp: { listeners: [{ address: '127.0.0.1:0', mode: 'smtp' }] },
        servers: { auth: './a.sock', queue: './q.sock' },
      }),
    ).toEqual({
      code: 0,
      stderr: '',
    });
    expect(
      await check({
        roles: ['mailbox', 'smtp-out'],
        servers: { queue: { address: 'tcp:10.0.0.2:7000', token: 'sixteen-characters-or-more' } },
        alerts: 'tcp:10.0.0.3:7100',
      }),
    ).toEqual({ code: 0, stderr: '' });
  });

  it('says which role is missing, and where to give it', async () => {
    const smtpIn = await check({
      roles: ['smtp-in'],
      smtp: { listeners: [{ address: '127.0.0.1:0', mode: 'smtp' }] },
      servers: { auth: './a.sock' },
    });
    expect(smtpIn.code).toBe(2);
    expect(smtpIn.stderr).toContain(
      'hooks.mail.config.roles: role "smtp-in" needs "queue": add it to roles, or give servers.queue, the address of the process that runs it',
    );
    const pop3 = await check({ roles: ['pop3'], pop3: '127.0.0.1:0', servers: { auth: './a.sock', mailbox: './m.sock' } });
    expect(pop3.code).toBe(2);
    expect(pop3.stderr).toContain('role "pop3" needs "mailbox" in the same process');
  });

  it('refuses an address for a role that runs here, TCP without a token, and a TCP queue nobody can call back', async () => {
    const twice = await check({ roles: ['auth', 'queue'], servers: { queue: './q.sock' } });
    expect(twice.stderr).toContain(
      'hooks.mail.config.servers.queue: the queue role runs in this process (it is in roles); remove servers.queue',
    );
    const noToken = await check({ roles: ['mailbox'], servers: { queue: 'tcp:10.0.0.2:7000' } });
    expect(noToken.stderr).toContain("hooks.mail.config.servers.queue: tcp:10.0.0.2:7000 is TCP, which needs the server's token");
    const noAlerts = await check({
      roles: ['mailbox'],
      servers: { queue: { address: 'tcp:10.0.0.2:7000', token: 'sixteen-characters-or-more' } },
    });
    expect(noAlerts.stderr).toContain('hooks.mail.config.alerts: the queue server at tcp:10.0.0.2:7000 must call this process back');
    const badAddress = await check({
      roles: ['smtp-in'],
      smtp: { listeners: [{ address: '127.0.0.1:0', mode: 'smtp' }] },
      servers: { auth: 'queue.sock', queue: './q.sock' },
    });
    expect(badAddress.stderr).toContain('hooks.mail.config.servers.auth');
    expect(badAddress.stderr).toContain('expected a socket path or tcp:host:port');
  });
});
