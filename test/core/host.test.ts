// The host's routing and lifecycle: hook order, change and drop, failures isolated, plugs retried.

import type { Host } from 'porter';
import { OpenState, RichText } from 'porter';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LoopbackPlug } from '../../src/plugs/loopback/index.js';
import type { EchoPlug } from '../fixtures/plugins/echo.js';
import type { FlakyPlug } from '../fixtures/plugins/flaky.js';
import type { RecorderHook } from '../fixtures/plugins/recorder.js';
import { type LogRecord, openHost, tempDir } from '../helpers/host.js';
import { until } from '../helpers/wait.js';

const loop = { path: 'loopback.LoopbackPlug', config: { users: [{ id: 'ada', name: 'Ada' }] } };
const settle = () => new Promise((r) => setTimeout(r, 20));
const recorder = (h: Host | undefined, name: string) => h?.hooks.get(name) as RecorderHook;
const loopback = (h: Host | undefined, name: string) => h?.plugs.get(name) as LoopbackPlug;

let dir: string;
let remove: () => Promise<void>;
let host: Host | undefined;

beforeEach(async () => {
  ({ dir, remove } = await tempDir());
});
afterEach(async () => {
  await host?.close();
  host = undefined;
  await remove();
});

describe('routing through hooks', () => {
  it('runs prioritised hooks lowest first, each seeing the previous change, then the parallel hooks', async () => {
    ({ host } = await openHost(
      {
        plugs: { net: loop },
        channels: { room: { plug: 'net', source: 'room' } },
        hooks: {
          third: { path: 'recorder.RecorderHook', priority: 30, config: { mode: 'tag', tag: 'c' } },
          first: { path: 'recorder.RecorderHook', priority: 1, config: { mode: 'tag', tag: 'a' } },
          second: { path: 'recorder.RecorderHook', priority: 2, config: { mode: 'tag', tag: 'b' } },
          watcher: { path: 'recorder.RecorderHook' },
          watcher2: { path: 'recorder.RecorderHook' },
        },
      },
      dir,
    ));
    const net = host.plugs.get('net') as LoopbackPlug;
    net.post('room', 'hi', 'ada');
    const watcher = host.hooks.get('watcher') as RecorderHook;
    const watcher2 = host.hooks.get('watcher2') as RecorderHook;
    await until(() => watcher.seen.length >= 1 && watcher2.seen.length >= 1);
    await settle();
    expect(watcher.seen.map((m) => m.text?.toPlain())).toEqual(['hi a b c']);
    expect(watcher2.seen.map((m) => m.text?.toPlain())).toEqual(['hi a b c']);
    expect((host.hooks.get('second') as RecorderHook).seen.map((m) => m.text?.toPlain())).toEqual(['hi a']);
  });

  it('drops a message when a prioritised hook returns null; later hooks never see it', async () => {
    ({ host } = await openHost(
      {
        plugs: { net: loop },
        hooks: {
          filter: { path: 'recorder.RecorderHook', priority: 1, config: { mode: 'drop', match: 'spam' } },
          later: { path: 'recorder.RecorderHook', priority: 2 },
          watcher: { path: 'recorder.RecorderHook' },
        },
      },
      dir,
    ));
    const net = host.plugs.get('net') as LoopbackPlug;
    net.post('room', 'buy spam now', 'ada');
    net.post('room', 'hello', 'ada');
    await until(() => recorder(host, 'watcher').seen.length >= 1);
    await settle();
    expect((host.hooks.get('later') as RecorderHook).seen.map((m) => m.text?.toPlain())).toEqual(['hello']);
    expect((host.hooks.get('watcher') as RecorderHook).seen.map((m) => m.text?.toPlain())).toEqual(['hello']);
  });

  it('logs a hook that throws, with the message id, and carries on with the others', async () => {
    let records: LogRecord[];
    ({ host, records } = await openHost(
      {
        plugs: { net: loop },
        hooks: {
          broken: { path: 'recorder.RecorderHook', priority: 1, config: { mode: 'throw' } },
          alsoBroken: { path: 'recorder.RecorderHook', config: { mode: 'throw' } },
          watcher: { path: 'recorder.RecorderHook' },
        },
      },
      dir,
    ));
    const net = host.plugs.get('net') as LoopbackPlug;
    const sent = net.post('room', 'still delivered', 'ada');
    await until(() => recorder(host, 'watcher').seen.length >= 1 && records.filter((r) => r.msg.includes('hook failed')).length >= 2);
    expect((host.hooks.get('watcher') as RecorderHook).seen.map((m) => m.text?.toPlain())).toEqual(['still delivered']);
    const failures = records.filter((r) => r.msg.includes('hook failed'));
    expect(failures.map((r) => r.hook).sort()).toEqual(['alsoBroken', 'broken']);
    expect(failures.every((r) => r.id === sent.id)).toBe(true);
  });

  it('keeps the order of messages from one channel through slow prioritised hooks', async () => {
    ({ host } = await openHost(
      {
        plugs: { net: loop },
        hooks: {
          slow: { path: 'recorder.RecorderHook', priority: 1, config: { mode: 'slow' } },
          watcher: { path: 'recorder.RecorderHook' },
        },
      },
      dir,
    ));
    const net = host.plugs.get('net') as LoopbackPlug;
    for (let i = 0; i < 20; i++) net.post('room', `m${i}`, 'ada');
    await new Promise((r) => setTimeout(r, 300));
    const seen = (host.hooks.get('watcher') as RecorderHook).seen.map((m) => m.text?.toPlain());
    expect(seen).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
  });

  it('keeps order when a hook answers some messages at once and makes the first one wait', async () => {
    ({ host } = await openHost(
      {
        plugs: { net: loop },
        hooks: {
          mixed: { path: 'recorder.RecorderHook', priority: 1, config: { mode: 'slow-first' } },
          watcher: { path: 'recorder.RecorderHook' },
        },
      },
      dir,
    ));
    const net = host.plugs.get('net') as LoopbackPlug;
    for (let i = 0; i < 5; i++) net.post('room', `m${i}`, 'ada');
    const watcher = host.hooks.get('watcher') as RecorderHook;
    expect(watcher.seen).toEqual([]); // all five wait behind the first
    await new Promise((r) => setTimeout(r, 80));
    expect(watcher.seen.map((m) => m.text?.toPlain())).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    net.post('room', 'm5', 'ada');
    expect(watcher.seen.length).toBe(6); // nothing in the way now: handled before post returns
  });

  it('passes outgoing messages through beforeSend hooks', async () => {
    ({ host } = await openHost(
      {
        plugs: { net: loop },
        channels: { room: { plug: 'net', source: 'room' } },
        hooks: { stamp: { path: 'recorder.RecorderHook', priority: 1, config: { mode: 'tag', tag: 'sent' } } },
      },
      dir,
    ));
    const room = host.channelByName('room');
    if (!room) throw new Error('no room');
    await host.send(room, { text: RichText.plain('hello') });
    const net = host.plugs.get('net') as LoopbackPlug;
    expect(net.history('room').map((m) => m.text?.toPlain())).toEqual(['hello sent>']);
  });

  it('marks what porter sent as its own when the network echoes it back', async () => {
    ({ host } = await openHost(
      { plugs: { net: loop }, channels: { room: { plug: 'net', source: 'room' } }, hooks: { watcher: { path: 'recorder.RecorderHook' } } },
      dir,
    ));
    const room = host.channelByName('room');
    if (!room) throw new Error('no room');
    await host.send(room, { text: RichText.plain('from porter') });
    (host.plugs.get('net') as LoopbackPlug).post('room', 'from a person', 'ada');
    await until(() => recorder(host, 'watcher').seen.length >= 2);
    await settle();
    const seen = (host.hooks.get('watcher') as RecorderHook).seen;
    expect(seen.map((m) => [m.text?.toPlain(), Boolean(m.fromPorter)])).toEqual([
      ['from porter', true],
      ['from a person', false],
    ]);
  });
});

describe('echoes of what porter sent', () => {
  for (const echo of ['inside-send', 'later'] as const) {
    it(`recognises a network's unmarked echo (${echo}) and does not bridge it back`, async () => {
      ({ host } = await openHost(
        {
          plugs: { a: { path: 'echo.EchoPlug', config: { echo } }, b: { path: 'echo.EchoPlug', config: { echo } } },
          channels: { left: { plug: 'a', source: 'room' }, right: { plug: 'b', source: 'room' } },
          hooks: {
            bridge: { path: 'sync.SyncHook', config: { channels: { main: ['left', 'right'] } } },
            watcher: { path: 'recorder.RecorderHook' },
          },
        },
        dir,
      ));
      const a = host.plugs.get('a') as EchoPlug;
      const b = host.plugs.get('b') as EchoPlug;
      a.post('room', 'hello');
      b.post('room', 'hi back');
      await until(() => a.shown.length >= 2 && b.shown.length >= 2);
      await new Promise((r) => setTimeout(r, 60));
      // Each side shows its own message and the other's copy, once: no copy of a copy.
      expect(a.shown.map((m) => m.text?.toPlain()).sort()).toEqual(['hello', 'hi back']);
      expect(b.shown.map((m) => m.text?.toPlain()).sort()).toEqual(['hello', 'hi back']);
      const seen = (host.hooks.get('watcher') as RecorderHook).seen;
      expect(
        seen
          .filter((m) => m.fromPorter)
          .map((m) => `${m.channel.plug.name}:${m.text?.toPlain()}`)
          .sort(),
      ).toEqual(['a:hi back', 'b:hello']);
      expect(seen.filter((m) => !m.fromPorter).length).toBe(2);
    });
  }
});

describe('messages during start-up', () => {
  it('routes what a plug receives while the host is still opening, once it is open', async () => {
    ({ host } = await openHost(
      {
        plugs: { a: { path: 'echo.EchoPlug', config: { backlog: 'room' } }, lab: loop },
        channels: { left: { plug: 'a', source: 'room' }, right: { plug: 'lab', source: 'room' } },
        hooks: { bridge: { path: 'sync.SyncHook', config: { channels: { main: ['left', 'right'] } } } },
      },
      dir,
    ));
    await until(() => loopback(host, 'lab').history('room').length >= 1);
    await settle();
    expect((host.plugs.get('lab') as LoopbackPlug).history('room').map((m) => m.text?.toPlain())).toEqual([
      'written while porter was starting',
    ]);
  });
});

describe('lifecycle', () => {
  it('retries a plug that cannot connect, with backoff, while the others work', async () => {
    let records: LogRecord[];
    ({ host, records } = await openHost(
      {
        plugs: { down: { path: 'flaky.FlakyPlug', config: { failures: 2 } }, net: loop },
        hooks: { watcher: { path: 'recorder.RecorderHook' } },
      },
      dir,
      { retryDelayMs: { first: 50, max: 200 } },
    ));
    const down = host.plugs.get('down') as FlakyPlug;
    expect(down.state).not.toBe(OpenState.active);
    (host.plugs.get('net') as LoopbackPlug).post('room', 'working meanwhile', 'ada');
    await until(() => recorder(host, 'watcher').seen.length >= 1);
    expect((host.hooks.get('watcher') as RecorderHook).seen).toHaveLength(1);
    await until(() => down.state === OpenState.active);
    const retries = records.filter((r) => r.msg.includes('plug failed to open'));
    expect(retries.map((r) => r.retryInMs)).toEqual([50, 100]);
    expect(records.some((r) => r.msg === 'plug open after retrying' && r.attempt === 2)).toBe(true);
  });

  it('closes hooks before plugs, and everything ends inactive', async () => {
    ({ host } = await openHost({ plugs: { net: loop }, hooks: { watcher: { path: 'recorder.RecorderHook' } } }, dir));
    const order: string[] = [];
    const net = host.plugs.get('net') as LoopbackPlug;
    const watcher = host.hooks.get('watcher') as RecorderHook;
    const closePlug = net.close.bind(net);
    const closeHook = watcher.close.bind(watcher);
    net.close = async () => {
      order.push('plug');
      await closePlug();
    };
    watcher.close = async () => {
      order.push('hook');
      await closeHook();
    };
    await host.close();
    expect(order).toEqual(['hook', 'plug']);
    expect(net.state).toBe(OpenState.inactive);
    host = undefined;
  });

  it('does not open disabled plugs and hooks', async () => {
    ({ host } = await openHost(
      { plugs: { net: loop, off: { ...loop, enabled: false } }, hooks: { quiet: { path: 'recorder.RecorderHook', enabled: false } } },
      dir,
    ));
    expect(host.plugs.has('off')).toBe(false);
    expect(host.hooks.has('quiet')).toBe(false);
    expect(host.status().plugs.find((p) => p.name === 'off')?.state).toBe(OpenState.disabled);
  });
});
