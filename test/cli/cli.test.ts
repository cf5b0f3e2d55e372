// The `porter` command as a user runs it (the built bin): help, version, check, run, signals, -w.
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { VERSION } from '../../src/version.js';
import { porter, porterExit } from '../helpers/cli.js';
import { tempDir } from '../helpers/host.js';

let dir: string;
let remove: () => Promise<void>;
beforeEach(async () => {
  ({ dir, remove } = await tempDir());
});
afterEach(async () => {
  await remove();
});

const demo = (port = 0) => ({
  store: 'sqlite:data/porter.db',
  http: { listen: `127.0.0.1:${port}` },
  plugs: { lab: { path: 'loopback.LoopbackPlug' } },
  channels: { a: { plug: 'lab', source: 'a' }, b: { plug: 'lab', source: 'b' } },
  hooks: { bridge: { path: 'sync.SyncHook', config: { channels: { main: ['a', 'b'] } } } },
  'x-note': 'kept by -w',
});

describe('porter', () => {
  it('prints its version and help', async () => {
    const version = await porterExit(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toBe(VERSION);
    const help = await porterExit(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/run \[options\] <config>/);
    expect(help.stdout).toMatch(/check <config>/);
  });

  it('exits 2 on an unknown command or a missing argument', async () => {
    expect((await porterExit(['frobnicate'])).code).toBe(2);
    expect((await porterExit(['run'])).code).toBe(2);
  });

  it('checks a good config and says what it holds', async () => {
    const file = join(dir, 'porter.json');
    await writeFile(file, JSON.stringify(demo()));
    const result = await porterExit(['check', file]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/OK \(1 plug, 2 channels, 0 groups, 1 hook\)/);
  });

  it('accepts every example config shipped in examples/', async () => {
    const examples = fileURLToPath(new URL('../../examples/', import.meta.url));
    // Configs in subfolders too: a deployment of several processes (mail-split/) is one folder.
    const files = (await readdir(examples, { recursive: true })).filter((f) => /\.(ya?ml|json|toml)$/.test(f));
    expect(files.length).toBeGreaterThanOrEqual(2);
    expect(files).toContain(join('mail-split', 'smtp-in.yaml'));
    for (const file of files) {
      const result = await porterExit(['check', join(examples, file)]);
      expect({ file, code: result.code, stderr: result.stderr }).toEqual({ file, code: 0, stderr: '' });
    }
    // One `porter check` (a Node start) per file: about a second each, several on a busy machine.
  }, 120_000);

  it('manages mail users in the store of a config: add (password on stdin), list, del', async () => {
    const file = join(dir, 'porter.yaml');
    await writeFile(file, 'store: sqlite:users.db\n');
    const added = porter(['user', '-c', file, 'add', 'Alice@Example.org'], { input: 'correct horse\n' });
    expect(await added.exited).toBe(0);
    expect(added.stdout).toBe('added alice@example.org\n');
    expect(added.stdout + added.stderr).not.toContain('correct horse');
    const listed = await porterExit(['user', '-c', file, 'list']);
    expect(listed.stdout).toMatch(/^alice@example\.org\t/);
    expect((await porterExit(['user', '-c', file, 'add', 'alice@example.org', '--password', 'x'])).code).toBe(1);
    expect((await porterExit(['user', '-c', file, 'add', '../etc', '--password', 'x'])).code).toBe(1);
    expect((await porterExit(['user', 'list'])).code).toBe(2);
    expect((await porterExit(['user', '-c', file, 'del', 'alice@example.org'])).code).toBe(0);
    expect((await porterExit(['user', '-c', file, 'list'])).stdout.trim()).toBe('');
  });

  it("sends one IPC message to a mail server's socket and prints the reply", async () => {
    const { IpcServer } = await import('../../src/mail/ipc/index.js');
    const { ok, fail } = await import('../../src/mail/protocol.js');
    const socket = join(dir, 'mail.sock');
    const server = new IpcServer({
      path: socket,
      log: pino({ level: 'silent' }),
      handlers: { verify: async (request) => (request.params[0] === 'alice' ? ok() : fail('no such user')) },
    });
    await server.listen();
    try {
      const known = await porterExit(['ipc', '-s', socket, 'verify: alice']);
      expect([known.code, known.stdout]).toEqual([0, 'ok\n']);
      const unknown = await porterExit(['ipc', '-s', socket, 'verify: bob']);
      expect([unknown.code, unknown.stdout]).toEqual([1, 'error: no such user\n']);
      expect((await porterExit(['ipc', '-s', socket, 'nonsense: a'])).stdout).toBe('error: unknown message "nonsense"\n');
      expect((await porterExit(['ipc', '-s', join(dir, 'nobody.sock'), 'verify: alice'])).code).toBe(1);
    } finally {
      await server.close();
    }
  });

  it('rejects a bad config with exit 2 and one line per problem', async () => {
    const file = join(dir, 'porter.yaml');
    await writeFile(
      file,
      `plugs:
  lab: {path: loopback.LoopbackPlug}
  ghost: {path: ghost.GhostPlug}
channels:
  foo: {plug: lab, source: foo}
  lab: {plug: lab, source: x}
hooks:
  bridge:
    path: sync.SyncHook
    priority: 0
    config:
      channels:
        main: [foo, bar]
`,
    );
    const result = await porterExit(['check', file]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^plugs\.ghost\.path: no module "ghost"/),
      'channels.lab: the name "lab" is already used by plugs.lab',
      'hooks.bridge.priority: a priority must be a whole number of 1 or more',
    ]);
    // Fixing the priority reveals the hook's own schema problem.
    await writeFile(
      file,
      (await readFile(file, 'utf8'))
        .replace('priority: 0', 'priority: 1')
        .replace('  ghost: {path: ghost.GhostPlug}\n', '')
        .replace('  lab: {plug: lab, source: x}\n', ''),
    );
    const again = await porterExit(['run', file]);
    expect(again.code).toBe(2);
    expect(again.stderr.trim()).toBe('hooks.bridge.config.channels.main[1]: unknown channel "bar"');
  });

  it('reports a YAML syntax error with line and column', async () => {
    const file = join(dir, 'porter.yaml');
    await writeFile(file, 'plugs:\n  lab: {path: loopback.LoopbackPlug\n');
    const result = await porterExit(['check', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/porter\.yaml:\d+:\d+: /);
  });

  it('runs, prints what it serves, and stops cleanly on SIGTERM', async () => {
    const file = join(dir, 'porter.yaml');
    await writeFile(file, JSON.stringify(demo()));
    const run = porter(['run', file]);
    await run.waitFor(/web UI http:\/\/127\.0\.0\.1:\d+\//);
    expect(run.stdout).toMatch(/^porter \S+ ready in \d+ ms/m);
    expect(run.stdout).toMatch(/plug lab \(Loopback, active\): channels a, b/);
    expect(run.stdout).toMatch(/store sqlite .*data\/porter\.db/);
    const url = /web UI (\S+)/.exec(run.stdout)?.[1] as string;
    const status = (await (await fetch(`${url}api/status`)).json()) as { plugs: { state: string }[] };
    expect(status.plugs[0]?.state).toBe('active');
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    expect(run.stdout).toMatch(/porter stopped/);
    expect(run.stderr).toBe('');
  });

  it('exits at once on a second signal', async () => {
    const file = join(dir, 'porter.json');
    await mkdir(join(dir, 'plugins'));
    // A hook that takes far too long to stop, so the first signal cannot finish.
    await writeFile(
      join(dir, 'plugins', 'stuck.js'),
      `import { Hook } from 'porter';\nexport class StuckHook extends Hook { async stop() { await new Promise((r) => setTimeout(r, 60000)); } }\n`,
    );
    await writeFile(file, JSON.stringify({ ...demo(), path: ['plugins'], hooks: { stuck: { path: 'stuck.StuckHook' } } }));
    const run = porter(['run', file]);
    await run.waitFor('ready in');
    run.child.kill('SIGINT');
    await run.waitFor('stopping');
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(130);
  });

  it('with -w, writes the config back on exit in the same format, keeping unknown keys', async () => {
    const file = join(dir, 'porter.json');
    await writeFile(file, JSON.stringify(demo()));
    const run = porter(['run', '-w', file]);
    await run.waitFor('ready in');
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    const written = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    expect(written).toEqual(demo());
  });

  it('loads a third-party TypeScript plug and hook from the path folder', async () => {
    const file = join(dir, 'porter.yaml');
    const examples = new URL('../../examples/plugins/', import.meta.url).pathname;
    await writeFile(
      file,
      JSON.stringify({
        path: [examples],
        store: 'sqlite::memory:',
        plugs: { terminal: { path: 'stdio.StdioPlug', config: { user: 'you' } }, lab: { path: 'loopback.LoopbackPlug' } },
        channels: { console: { plug: 'terminal', source: 'console' }, room: { plug: 'lab', source: 'room' } },
        hooks: {
          shout: { path: 'shout.ShoutHook', priority: 1 },
          bridge: { path: 'sync.SyncHook', config: { channels: { main: ['console', 'room'] } } },
        },
        logging: {
          version: 1,
          handlers: { out: { class: 'logging.StreamHandler', stream: 'ext://sys.stdout', level: 'INFO' } },
          loggers: { 'porter.plug.lab': { level: 'INFO' } },
          root: { level: 'WARNING', handlers: ['out'] },
        },
      }),
    );
    const run = porter(['run', file]);
    await run.waitFor('ready in');
    run.child.stdin?.write('hello from the terminal\n');
    // Read by the TypeScript plug, shouted by the TypeScript hook, bridged to the room (whose log shows it).
    await run.waitFor(/INFO \(porter\.plug\.lab\): <you> HELLO FROM THE TERMINAL/);
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
  });
});
