// Config loading and checking: every bad input is reported with its place, all at once.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, loadConfig, resolveConfig } from 'porter';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/core/config/parse.js';
import { FIXTURES, tempDir } from '../helpers/host.js';

let dir: string;
let remove: () => Promise<void>;
beforeEach(async () => {
  ({ dir, remove } = await tempDir());
});
afterEach(async () => {
  await remove();
});

async function problemsOf(document: Record<string, unknown>): Promise<string[]> {
  try {
    await resolveConfig({ path: [FIXTURES], ...document }, { baseDir: dir });
  } catch (error) {
    if (error instanceof ConfigError) return error.message.split('\n');
    throw error;
  }
  return [];
}

async function syntaxProblems(text: string, format: 'yaml' | 'json' | 'toml'): Promise<string[]> {
  try {
    await parseConfigText(text, format, `porter.${format}`);
  } catch (error) {
    if (error instanceof ConfigError) return error.message.split('\n');
    throw error;
  }
  return [];
}

const loop = { path: 'loopback.LoopbackPlug' };

describe('the three formats', () => {
  const yaml = `
plugs:
  net: {path: loopback.LoopbackPlug}
channels:
  a: {plug: net, source: 1234}
  b: {plug: net, source: b}
hooks:
  bridge:
    path: sync.SyncHook
    priority: 1
    config: {channels: {main: [a, b]}}
x-custom: kept
`;
  const json = JSON.stringify({
    plugs: { net: { path: 'loopback.LoopbackPlug' } },
    channels: { a: { plug: 'net', source: 1234 }, b: { plug: 'net', source: 'b' } },
    hooks: { bridge: { path: 'sync.SyncHook', priority: 1, config: { channels: { main: ['a', 'b'] } } } },
    'x-custom': 'kept',
  });
  const toml = `
x-custom = "kept"
[plugs.net]
path = "loopback.LoopbackPlug"
[channels.a]
plug = "net"
source = 1234
[channels.b]
plug = "net"
source = "b"
[hooks.bridge]
path = "sync.SyncHook"
priority = 1
[hooks.bridge.config.channels]
main = ["a", "b"]
`;
  for (const [ext, text] of [
    ['yaml', yaml],
    ['json', json],
    ['toml', toml],
  ] as const) {
    it(`loads the same config from ${ext}`, async () => {
      const file = join(dir, `porter.${ext}`);
      await writeFile(file, text);
      const config = await loadConfig(file);
      expect(config.format).toBe(ext);
      expect(config.channels.get('a')).toEqual({ plug: 'net', source: '1234' });
      expect(config.hooks[0]?.priority).toBe(1);
      expect(config.hooks[0]?.config).toMatchObject({ channels: { main: ['a', 'b'] }, 'name-format': '{name}' });
      expect(config.document['x-custom']).toBe('kept');
      expect(config.store).toBe('sqlite:data/porter.db');
    });
  }
});

describe('syntax errors carry line and column', () => {
  it('YAML', async () => {
    const lines = await syntaxProblems('plugs:\n  net:\n    path: [unclosed\n', 'yaml');
    expect(lines[0]).toMatch(/^porter\.yaml:\d+:\d+: /);
  });
  it('YAML duplicate key', async () => {
    const lines = await syntaxProblems('plugs:\n  a: {path: x.Y}\n  a: {path: x.Z}\n', 'yaml');
    expect(lines[0]).toMatch(/^porter\.yaml:3:3: .*unique/i);
  });
  it('TOML', async () => {
    const lines = await syntaxProblems('[plugs.net]\npath = "x.Y"\nbroken = \n', 'toml');
    expect(lines[0]).toMatch(/^porter\.toml:3:\d+: /);
  });
  it('JSON', async () => {
    const lines = await syntaxProblems('{\n  "plugs": {\n    "net": ,\n  }\n}', 'json');
    expect(lines[0]).toMatch(/^porter\.json:3:\d+: /);
  });
});

describe('problems are named by place', () => {
  it('an unknown plug or hook module, and an unknown export', async () => {
    const lines = await problemsOf({
      plugs: { a: { path: 'nowhere.NoPlug' }, b: { path: 'loopback.NoSuchPlug' } },
      hooks: { c: { path: 'nested.deep.NotAHook' }, d: { path: 'nested.deep.DeepHook' } },
    });
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^plugs\.a\.path: no module "nowhere" in the path folders .*built-in plugs \([a-z, ]*\bloopback\b[a-z, ]*\)/);
    expect(lines[1]).toBe('plugs.b.path: module "loopback" has no export "NoSuchPlug" (it exports LoopbackPlug)');
    expect(lines[2]).toBe('hooks.c.path: "nested.deep.NotAHook" is not a hook class (a hook extends porter\'s Hook)');
  });

  it('a hook class used as a plug', async () => {
    expect(await problemsOf({ plugs: { a: { path: 'sync.SyncHook' } } })).toEqual([
      expect.stringMatching(/^plugs\.a\.path: no module "sync" in .*built-in plugs/),
    ]);
  });

  it('a duplicate name across the namespace', async () => {
    const lines = await problemsOf({
      plugs: { lobby: loop },
      channels: { lobby: { plug: 'lobby', source: 'x' } },
      hooks: { lobby: { path: 'recorder.RecorderHook' } },
    });
    expect(lines).toEqual([
      'channels.lobby: the name "lobby" is already used by plugs.lobby',
      'hooks.lobby: the name "lobby" is already used by plugs.lobby',
    ]);
  });

  it('a non-integer and a repeated priority', async () => {
    const lines = await problemsOf({
      hooks: { a: { path: 'recorder.RecorderHook', priority: 1.5 }, b: { path: 'recorder.RecorderHook', priority: 'high' } },
    });
    expect(lines).toEqual([
      'hooks.a.priority: a priority must be a whole number of 1 or more',
      'hooks.b.priority: a priority must be a whole number of 1 or more',
    ]);
    expect(
      await problemsOf({ hooks: { a: { path: 'recorder.RecorderHook', priority: 1 }, b: { path: 'recorder.RecorderHook', priority: 1 } } }),
    ).toEqual(['hooks.b.priority: priority 1 is already used by hooks.a']);
  });

  it('channels and groups naming unknown plugs and channels', async () => {
    const lines = await problemsOf({
      plugs: { net: loop },
      channels: { a: { plug: 'nope', source: 'x' } },
      groups: { g: { channels: ['a', 'zz'], exclude: ['yy'], anywhere: ['net', 'ghost'] } },
    });
    expect(lines).toEqual([
      'channels.a.plug: unknown plug "nope"',
      'groups.g.channels[1]: unknown channel "zz"',
      'groups.g.exclude[0]: unknown channel "yy"',
      'groups.g.anywhere[1]: unknown plug "ghost"',
    ]);
  });

  it("a hook config that fails the hook's schema", async () => {
    const lines = await problemsOf({
      plugs: { net: loop },
      channels: { foo: { plug: 'net', source: 'foo' } },
      hooks: { bridge: { path: 'sync.SyncHook', config: { channels: { main: ['foo', 'bar'] }, 'name-format': '{nick}' } } },
    });
    expect(lines).toEqual([
      'hooks.bridge.config.channels.main[1]: unknown channel "bar"',
      expect.stringMatching(/^hooks\.bridge\.config\.name-format: unknown placeholder \{nick\}/),
    ]);
  });

  it('a channel bridged twice, under one label or two', async () => {
    const lines = await problemsOf({
      plugs: { net: loop },
      channels: { a: { plug: 'net', source: 'a' }, b: { plug: 'net', source: 'b' }, c: { plug: 'net', source: 'c' } },
      hooks: { bridge: { path: 'sync.SyncHook', config: { channels: { one: ['a', 'b', 'b'], two: ['c', 'a'] } } } },
    });
    expect(lines).toEqual([
      'hooks.bridge.config.channels.one[2]: channel "b" is listed twice',
      'hooks.bridge.config.channels.two[1]: channel "a" is already bridged under label "one"',
    ]);
  });

  it('unknown keys, wrong types and a missing path', async () => {
    const lines = await problemsOf({ plugs: { net: { path: 'loopback.LoopbackPlug', confg: {} }, other: { enabled: true } } });
    expect(lines).toEqual(['plugs.net.confg: unknown key', 'plugs.other.path: Invalid input: expected string, received undefined']);
  });

  it('refuses a section indented under logging, and accepts the dictConfig keys porter ignores', async () => {
    const logging = {
      version: 1,
      disable_existing_loggers: false,
      formatters: { plain: { format: '%(message)s' } },
      root: { level: 'info' },
    };
    expect(await problemsOf({ plugs: { net: loop }, logging })).toEqual([]);
    expect(await problemsOf({ plugs: { net: loop }, logging: { ...logging, bridge: { path: 'sync.SyncHook' } } })).toEqual([
      'logging.bridge: unknown key',
    ]);
    expect(await problemsOf({ logging: { loggers: { porter: { levle: 'debug' } } } })).toEqual([
      'logging.loggers.porter.levle: unknown key',
    ]);
  });

  it('collects every problem in one report', async () => {
    const lines = await problemsOf({
      plugs: { net: loop },
      channels: { a: { plug: 'missing', source: 'a' } },
      hooks: { h: { path: 'nowhere.Hook' }, i: { path: 'recorder.RecorderHook', config: { mode: 'loud' } } },
    });
    expect(lines).toHaveLength(3);
  });

  it('says what is wrong inside the http section, or with it as a whole', async () => {
    expect(await problemsOf({ http: { listen: 99999 } })).toEqual(['http.listen: Too big: expected number to be <=65535']);
    expect(await problemsOf({ http: true })).toEqual(['http: expected a table (listen, public-url) or false']);
  });

  it('names a missing file and an unknown extension', async () => {
    await expect(loadConfig(join(dir, 'missing.yaml'))).rejects.toThrow(/cannot read config .*missing\.yaml": no such file/);
    await expect(loadConfig(join(dir, 'porter.ini'))).rejects.toThrow(/name it \.yaml, \.yml, \.json or \.toml/);
  });

  it('checks the services keys', async () => {
    expect(await problemsOf({ store: 'sqlite://data/porter.db', http: { listen: 'everywhere' }, bus: 'nats://127.0.0.1:4222' })).toEqual([
      'store: store "sqlite://data/porter.db": write sqlite:PATH (sqlite:data/porter.db or sqlite:/var/lib/porter/porter.db), not sqlite://',
      'http.listen: expected "host:port", like "127.0.0.1:8080"',
      'bus: only "memory" is available in this version of porter',
    ]);
  });
});
