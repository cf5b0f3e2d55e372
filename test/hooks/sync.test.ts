// The sync hook on the loopback network: two-way bridging, no loops, edits, deletes, replies and
// mentions mapped, and the map kept in the store across a restart (SQLite and PostgreSQL).
import { join } from 'node:path';
import type { Host, SentMessage } from 'porter';
import { RichText } from 'porter';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { LoopbackPlug } from '../../src/plugs/loopback/index.js';
import { openHost, tempDir } from '../helpers/host.js';
import { until } from '../helpers/wait.js';
import { createTestDatabase } from '../peers/postgres.js';

// Waits are for what the test expects to see, never a fixed time, so a slow machine (PostgreSQL under
// load in CI) makes the test slower, not red. `settle` is only for proving that nothing else arrives.
const settle = (ms = 60) => new Promise((r) => setTimeout(r, ms));
const text = (m: SentMessage) => m.text?.toPlain();

function bridgeConfig(store: string, extra: Record<string, unknown> = {}) {
  return {
    store,
    plugs: {
      irc: { path: 'loopback.LoopbackPlug', config: { users: [{ id: 'ada', name: 'Ada' }] } },
      web: { path: 'loopback.LoopbackPlug', config: { users: [{ id: 'tim', name: 'Tim' }] } },
    },
    channels: {
      lobby: { plug: 'irc', source: '#lobby' },
      hall: { plug: 'web', source: 'hall' },
      annex: { plug: 'web', source: 'annex' },
      elsewhere: { plug: 'web', source: 'elsewhere' },
    },
    hooks: {
      bridge: {
        path: 'sync.SyncHook',
        config: { channels: { main: ['lobby', 'hall', 'annex'] }, 'name-format': '{name} ({network})', ...extra },
      },
    },
  };
}

const stores: [string, () => Promise<{ url: (dir: string) => string; drop(): Promise<void> }>][] = [
  ['SQLite', async () => ({ url: (dir) => `sqlite:${join(dir, 'porter.db')}`, drop: async () => {} })],
  [
    'PostgreSQL',
    async () => {
      const db = await createTestDatabase();
      return { url: () => db.url, drop: db.drop };
    },
  ],
];

describe.each(stores)('sync hook on %s', (_name, makeStore) => {
  let dir: string;
  let remove: () => Promise<void>;
  let store: { url: (dir: string) => string; drop(): Promise<void> };
  let host: Host | undefined;
  beforeAll(async () => {
    store = await makeStore();
  });
  afterAll(async () => {
    await store.drop();
  });
  beforeEach(async () => {
    ({ dir, remove } = await tempDir());
  });
  afterEach(async () => {
    await host?.close();
    host = undefined;
    await remove();
  });

  const open = async (extra?: Record<string, unknown>) => {
    ({ host } = await openHost(bridgeConfig(store.url(dir), extra), dir));
    return { irc: host.plugs.get('irc') as LoopbackPlug, web: host.plugs.get('web') as LoopbackPlug };
  };

  it('copies a message to every other channel of its label, once, with the name format', async () => {
    const { irc, web } = await open();
    irc.post('#lobby', 'hello from irc', 'ada');
    await until(() => web.history('hall').length === 1 && web.history('annex').length === 1);
    web.post('hall', 'hello from the web', 'tim');
    web.post('elsewhere', 'not bridged', 'tim');
    await until(() => irc.history('#lobby').length === 2 && web.history('annex').length === 2);
    await settle();
    expect(irc.history('#lobby').map(text)).toEqual(['hello from irc', 'hello from the web']);
    expect(web.history('hall').map(text)).toEqual(['hello from irc', 'hello from the web']);
    expect(web.history('annex').map(text)).toEqual(['hello from irc', 'hello from the web']);
    expect(web.history('elsewhere').map(text)).toEqual(['not bridged']);
    expect(web.history('hall')[0]?.user?.realName).toBe('Ada (Loopback)');
    expect(irc.history('#lobby')[1]?.user?.realName).toBe('Tim (Loopback)');
  });

  it('keeps order per target under a burst', async () => {
    const { irc, web } = await open();
    for (let i = 0; i < 200; i++) irc.post('#lobby', `n${i}`, 'ada');
    await until(() => web.history('hall').length >= 200);
    expect(web.history('hall').map(text)).toEqual(Array.from({ length: 200 }, (_, i) => `n${i}`));
  });

  it('follows edits and deletes to the copies', async () => {
    const { irc, web } = await open();
    const original = irc.post('#lobby', 'meet at 3', 'ada');
    await until(() => web.history('hall').length === 1 && web.history('annex').length === 1);
    irc.postEdit('#lobby', original.id, 'meet at 4');
    await until(() => web.history('hall')[0]?.edited === true);
    expect(web.history('hall').map(text)).toEqual(['meet at 4']);
    irc.postDelete('#lobby', original.id);
    await until(() => web.history('hall')[0]?.deleted === true && web.history('annex')[0]?.deleted === true);
    expect(web.history('hall')[0]?.deleted).toBe(true);
    expect(web.history('annex')[0]?.deleted).toBe(true);
  });

  it("points a reply at the target's copy, and makes foreign mentions plain", async () => {
    const { irc, web } = await open();
    const question = irc.post('#lobby', 'who has the projector?', 'ada');
    await until(() => web.history('hall').length === 1 && web.history('annex').length === 1);
    const copyInHall = web.history('hall')[0] as SentMessage;
    web.post(
      'hall',
      { text: new RichText([{ text: '@Ada', mention: { id: 'ada', plug: 'irc' } }, { text: ' I do' }]), replyTo: copyInHall },
      'tim',
    );
    await until(() => irc.history('#lobby').length === 2 && web.history('annex').length === 2);
    const reply = irc.history('#lobby')[1] as SentMessage;
    expect(reply.replyTo?.id).toBe(question.id);
    expect(reply.text?.segments[0]?.mention?.id).toBe('ada'); // same network: still a mention
    const inAnnex = web.history('annex')[1] as SentMessage;
    expect(inAnnex.replyTo?.id).toBe(web.history('annex')[0]?.id);
    expect(inAnnex.text?.segments[0]?.mention).toBeUndefined(); // other network: plain text
    expect(inAnnex.text?.toPlain()).toBe('@Ada I do');
  });

  it('still maps edits and replies after a restart', async () => {
    const before = await open();
    const original = before.irc.post('#lobby', 'draft', 'ada');
    await until(() => before.web.history('hall').length === 1 && before.web.history('annex').length === 1);
    await host?.close();
    const { irc, web } = await open();
    // After a restart the networks still show the copies; the loopback network starts empty, so
    // the edit arrives for an id the new plug has never shown, as a real network's would.
    irc.postEdit('#lobby', original.id, 'final');
    await until(() => web.history('hall').length === 1 && web.history('annex').length === 1);
    const copies = web.history('hall');
    expect(copies.map(text)).toEqual(['final']);
    expect(copies[0]?.edited).toBe(true);
    const stored = await host?.store
      .db<{ bridge_copy: { source_channel: string; source_id: string; channel: string } }>()
      .selectFrom('bridge_copy')
      .select(['source_channel', 'source_id', 'channel'])
      .execute();
    expect(
      stored
        ?.filter((r) => r.source_channel === 'irc:#lobby' && r.source_id === original.id)
        .map((r) => r.channel)
        .sort(),
    ).toEqual(['web:annex', 'web:hall']);
  });
});
