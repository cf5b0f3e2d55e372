// The forward hook: one way only, from channels or groups, optionally only some users' messages.

import type { Host, SentMessage } from 'porter';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LoopbackPlug } from '../../src/plugs/loopback/index.js';
import { openHost, tempDir } from '../helpers/host.js';
import { until } from '../helpers/wait.js';

// `until` waits for what is expected; `settle` then gives anything unexpected time to show.
const settle = () => new Promise((r) => setTimeout(r, 60));
const text = (m: SentMessage) => m.text?.toPlain();

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

const base = {
  plugs: { net: { path: 'loopback.LoopbackPlug', config: { private: ['@ada'] } }, ops: { path: 'loopback.LoopbackPlug' } },
  channels: {
    desk: { plug: 'net', source: 'desk' },
    lab: { plug: 'net', source: 'lab' },
    quiet: { plug: 'net', source: 'quiet' },
    log: { plug: 'ops', source: 'log' },
  },
};

describe('forward hook', () => {
  it('copies one way only, keeping edits in step', async () => {
    ({ host } = await openHost({ ...base, hooks: { fw: { path: 'forward.ForwardHook', config: { from: ['desk'], to: ['log'] } } } }, dir));
    const net = host.plugs.get('net') as LoopbackPlug;
    const ops = host.plugs.get('ops') as LoopbackPlug;
    const m = net.post('desk', 'printer jammed', 'ada');
    await until(() => ops.history('log').length === 1);
    ops.post('log', 'noted', 'tim');
    await settle();
    net.postEdit('desk', m.id, 'printer jammed in B12');
    await until(() => ops.history('log')[0]?.edited === true);
    await settle();
    expect(ops.history('log').map(text)).toEqual(['printer jammed in B12', 'noted']);
    expect(net.history('desk').map(text)).toEqual(['printer jammed in B12']);
  });

  it('takes channels from a group, by rule', async () => {
    ({ host } = await openHost(
      {
        ...base,
        groups: { rooms: { anywhere: ['net'], exclude: ['quiet'] }, dms: { private: ['net'] } },
        hooks: {
          fw: { path: 'forward.ForwardHook', config: { from: ['rooms'], to: ['log'] } },
        },
      },
      dir,
    ));
    const net = host.plugs.get('net') as LoopbackPlug;
    const ops = host.plugs.get('ops') as LoopbackPlug;
    net.post('desk', 'from desk', 'ada');
    net.post('lab', 'from lab', 'ada');
    net.post('quiet', 'from quiet', 'ada');
    net.post('undeclared', 'from an undeclared channel', 'ada');
    await until(() => ops.history('log').length >= 3);
    await settle();
    expect(ops.history('log').map(text)).toEqual(['from desk', 'from lab', 'from an undeclared channel']);
    const dms = host.groups.get('dms');
    expect(await dms?.has(net.channel('@ada'))).toBe(true);
    expect(await dms?.has(net.channel('desk'))).toBe(false);
  });

  it('forwards only the listed users', async () => {
    ({ host } = await openHost(
      { ...base, hooks: { fw: { path: 'forward.ForwardHook', config: { from: ['desk'], to: ['log'], users: ['ada'] } } } },
      dir,
    ));
    const net = host.plugs.get('net') as LoopbackPlug;
    const ops = host.plugs.get('ops') as LoopbackPlug;
    net.post('desk', 'from ada', 'ada');
    net.post('desk', 'from tim', 'tim');
    await until(() => ops.history('log').length >= 1);
    await settle();
    expect(ops.history('log').map(text)).toEqual(['from ada']);
  });

  it('does not loop when two forwards point at each other', async () => {
    ({ host } = await openHost(
      {
        ...base,
        hooks: {
          there: { path: 'forward.ForwardHook', config: { from: ['desk'], to: ['log'] } },
          back: { path: 'forward.ForwardHook', config: { from: ['log'], to: ['desk'] } },
        },
      },
      dir,
    ));
    const net = host.plugs.get('net') as LoopbackPlug;
    const ops = host.plugs.get('ops') as LoopbackPlug;
    net.post('desk', 'once', 'ada');
    await until(() => ops.history('log').length >= 1);
    await settle();
    await settle();
    expect(ops.history('log').map(text)).toEqual(['once']);
    expect(net.history('desk').map(text)).toEqual(['once']);
  });
});
