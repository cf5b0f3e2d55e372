// The bridges' message map in the store: its migrations carry old maps over, and it answers
// which message a copy stems from and where its copies are, on SQLite and PostgreSQL.
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bridgeMigrations, MessageMap } from '../../src/core/bridge/index.js';
import { Store } from '../../src/services/store/index.js';
import { tempDir } from '../helpers/host.js';
import { createTestDatabase } from '../peers/postgres.js';

const quiet = pino({ level: 'silent' });

describe.each(['sqlite', 'postgres'] as const)('message map on %s', (engine) => {
  let url: string;
  let cleanup: () => Promise<void>;
  let baseDir: string;

  beforeAll(async () => {
    const { dir, remove } = await tempDir();
    baseDir = dir;
    if (engine === 'sqlite') {
      url = 'sqlite:map.db';
      cleanup = remove;
    } else {
      const db = await createTestDatabase();
      url = db.url;
      cleanup = async () => {
        await db.drop();
        await remove();
      };
    }
  });
  afterAll(async () => cleanup?.());

  it('carries a map written in the first layout over to one row per copy', async () => {
    const first = await Store.open(url, { baseDir, log: quiet });
    const firstOnly = { '0001_bridge_message': bridgeMigrations['0001_bridge_message'] } as typeof bridgeMigrations;
    await first.migrate('bridge', firstOnly);
    const old = first.db<{ bridge_message: { bridge: string; ref: string; channel: string; message_id: string; at: number } }>();
    await old
      .insertInto('bridge_message')
      .values([
        { bridge: 'b', ref: 'irc:#lobby/41', channel: 'irc:#lobby', message_id: '41', at: 1 },
        { bridge: 'b', ref: 'irc:#lobby/41', channel: 'web:hall', message_id: 'h7', at: 2 },
        { bridge: 'b', ref: 'irc:#lobby/41', channel: 'web:annex', message_id: 'a3', at: 3 },
      ])
      .execute();
    await first.close();

    const store = await Store.open(url, { baseDir, log: quiet });
    await store.migrate('bridge', bridgeMigrations);
    const map = new MessageMap(store, 'b', quiet);
    expect(await map.originalOf('web:annex', 'a3')).toEqual({ channel: 'irc:#lobby', id: '41' });
    expect(await map.originalOf('irc:#lobby', '41')).toEqual({ channel: 'irc:#lobby', id: '41' });
    expect(Object.fromEntries(await map.copiesOf({ channel: 'irc:#lobby', id: '41' }))).toEqual({
      'irc:#lobby': ['41'],
      'web:hall': ['h7'],
      'web:annex': ['a3'],
    });

    // New copies are seen by lookups at once, before the write-behind has run.
    map.add({ channel: 'web:hall', id: 'h8' }, 'irc:#lobby', ['42', '43']);
    expect(await map.originalOf('irc:#lobby', '43')).toEqual({ channel: 'web:hall', id: 'h8' });
    expect(Object.fromEntries(await map.copiesOf({ channel: 'web:hall', id: 'h8' }))).toEqual({
      'web:hall': ['h8'],
      'irc:#lobby': ['42', '43'],
    });
    // Another bridge's map is its own.
    expect(await new MessageMap(store, 'other', quiet).originalOf('irc:#lobby', '43')).toEqual({ channel: 'irc:#lobby', id: '43' });
    await store.close();
  });
});
