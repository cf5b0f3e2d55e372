// The board's history in the store, on SQLite and PostgreSQL: changes written behind and read
// back in order, tkbd's offsets, the HTTP query, what survives a restart, and a crash between
// the two writes.
import { sql } from 'kysely';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  OCCUPANCY_MIGRATION_OWNER,
  OccupancyHistory,
  type OccupancyTables,
  occupancyMigrations,
} from '../../../src/hooks/occupancy/history.js';
import { Store } from '../../../src/services/store/index.js';
import { tempDir } from '../../helpers/host.js';
import { createTestDatabase } from '../../peers/postgres.js';

const quiet = pino({ level: 'silent' });
const T0 = 1_700_000_000_000;

describe.each(['sqlite', 'postgres'] as const)('occupancy history on %s', (engine) => {
  let baseDir: string;
  let cleanup: () => Promise<void>;
  let fresh: () => Promise<string>;
  let store: Store;
  let url: string;

  beforeAll(async () => {
    const { dir, remove } = await tempDir();
    baseDir = dir;
    const drops: (() => Promise<void>)[] = [];
    let n = 0;
    fresh =
      engine === 'sqlite'
        ? async () => `sqlite:history-${++n}.db`
        : async () => {
            const db = await createTestDatabase();
            drops.push(db.drop);
            return db.url;
          };
    cleanup = async () => {
      for (const drop of drops) await drop();
      await remove();
    };
  });
  afterAll(async () => cleanup?.());

  beforeEach(async () => {
    url = await fresh();
    store = await Store.open(url, { baseDir, log: quiet });
    await store.migrate(OCCUPANCY_MIGRATION_OWNER, occupancyMigrations);
  });
  afterEach(async () => store?.close());

  async function reopen(): Promise<Store> {
    await store.close();
    store = await Store.open(url, { baseDir, log: quiet });
    await store.migrate(OCCUPANCY_MIGRATION_OWNER, occupancyMigrations);
    return store;
  }

  const rows = () => store.db<OccupancyTables>().selectFrom('occupancy_update').selectAll().orderBy('seq').execute();

  it('starts empty, then writes changes behind within a few tens of ms', async () => {
    const history = new OccupancyHistory(store, 'board', quiet);
    expect(await history.open()).toEqual({ snapshot: undefined, streamSeq: -1, recovered: 0 });
    history.record('hg137pc1', 'scan', T0, 'wf');
    history.record('hg137pc2', 'log', T0 + 1500, 'lu');
    expect(await rows()).toEqual([]); // not yet: written behind
    await new Promise((r) => setTimeout(r, 100));
    expect(await rows()).toEqual([
      { board: 'board', seq: 0, pc: 'hg137pc1', source: 'scan', at: T0, state: 'wf' },
      { board: 'board', seq: 1, pc: 'hg137pc2', source: 'log', at: T0 + 1500, state: 'lu' },
    ]);
    await history.close();
    expect(() => history.record('hg137pc1', 'scan', T0, 'wu')).toThrow('closed');
  });

  it('answers get_historic_updates oldest first from an offset, in whole seconds, flushing first', async () => {
    const history = new OccupancyHistory(store, 'board', quiet);
    await history.open();
    for (let i = 0; i < 1200; i++) history.record(`pc${i % 7}`, i % 2 ? 'log' : 'scan', T0 + i * 999, i % 3 ? 'wf' : 'wu');
    // No wait: a read writes what is pending first.
    const first = await history.historicUpdates(0, 3);
    expect(first).toEqual([
      ['pc0', 'scan', T0 / 1000, 'wu'],
      ['pc1', 'log', Math.floor((T0 + 999) / 1000), 'wf'],
      ['pc2', 'scan', Math.floor((T0 + 1998) / 1000), 'wf'],
    ]);
    expect((await history.historicUpdates(1000, 2)).map((u) => u[0])).toEqual([`pc${1000 % 7}`, `pc${1001 % 7}`]);
    expect(await history.historicUpdates(1199, 10)).toHaveLength(1);
    expect(await history.historicUpdates(1200, 10)).toEqual([]);
    expect(await history.historicUpdates(5, 0)).toEqual([]);
    expect(await history.historicUpdates(5, -3)).toEqual([]);
    expect(await history.historicUpdates(-10, 2)).toEqual(first.slice(0, 2));
    expect(await history.historicUpdates(0, 5000)).toHaveLength(1000); // clamped, as tkbd does
    expect(await history.historicUpdates(1.7, 1.9)).toEqual([first[1]]);
    await history.close();
  });

  it('continues the sequence after a restart', async () => {
    const history = new OccupancyHistory(store, 'board', quiet);
    await history.open();
    history.record('pc1', 'scan', T0, 'wf');
    history.record('pc1', 'scan', T0 + 1, 'wu');
    await history.close();
    await reopen();
    const again = new OccupancyHistory(store, 'board', quiet);
    await again.open();
    expect(again.nextSeq).toBe(2);
    again.record('pc1', 'log', T0 + 2, 'wf');
    expect((await again.historicUpdates(2, 5)).map((u) => u[3])).toEqual(['wf']);
    expect((await rows()).map((r) => r.seq)).toEqual([0, 1, 2]);
    await again.close();
  });

  it('keeps boards apart', async () => {
    const a = new OccupancyHistory(store, 'a', quiet);
    const b = new OccupancyHistory(store, 'b', quiet);
    await a.open();
    await b.open();
    a.record('pc1', 'scan', T0, 'wf');
    b.record('pc9', 'scan', T0, 'lu');
    b.record('pc9', 'scan', T0, 'lf');
    expect(await a.historicUpdates(0, 10)).toEqual([['pc1', 'scan', T0 / 1000, 'wf']]);
    expect((await b.historicUpdates(0, 10)).map((u) => u[3])).toEqual(['lu', 'lf']);
    expect((await b.query()).total).toBe(2);
    await a.close();
    await b.close();
  });

  it('answers the HTTP query: time range, PCs, total, offset and limit', async () => {
    const history = new OccupancyHistory(store, 'board', quiet);
    await history.open();
    for (let i = 0; i < 30; i++) history.record(`pc${i % 3}`, 'scan', T0 + i * 1000, i % 2 ? 'wf' : 'wu');
    const all = await history.query();
    expect(all.total).toBe(30);
    expect(all.records.map((r) => r.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(all.records[4]).toEqual({ seq: 4, pc: 'pc1', source: 'scan', at: T0 + 4000, state: 'wu' });

    const range = await history.query({ from: T0 + 10_000, to: T0 + 20_000 });
    expect(range.total).toBe(10);
    expect(range.records.map((r) => r.seq)).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);

    const page = await history.query({ pcs: ['pc0', 'pc2'], from: T0 + 3000, offset: 2, limit: 3 });
    expect(page.total).toBe(18); // seq 3..29 with seq % 3 in {0, 2}
    expect(page).toMatchObject({ offset: 2, limit: 3 });
    expect(page.records.map((r) => `${r.seq}:${r.pc}`)).toEqual(['6:pc0', '8:pc2', '9:pc0']);

    expect(await history.query({ pcs: [] })).toEqual({ total: 0, offset: 0, limit: 1000, records: [] });
    expect((await history.query({ offset: 40 })).records).toEqual([]);
    expect((await history.query({ limit: 0 })).total).toBe(30);
    await history.close();
  });

  it('restores versions, room map, tags, schedule and each PC latest state after a restart', async () => {
    const history = new OccupancyHistory(store, 'board', quiet);
    await history.open();
    history.record('hg137pc1', 'scan', T0, 'wf');
    history.record('hg137pc2', 'scan', T0, 'lu');
    history.record('hg137pc1', 'log', T0 + 5, 'wu');
    history.saveMeta('versions', { occupation: 2, roomMap: 1, tagMap: 0, schedule: 3, seq: 7 });
    history.saveMeta('roomMap', { hg137: ['HG00.137', ['hg137pc1', 'hg137pc2']] });
    history.saveMeta('tagMap', { hg: ['hg137'] });
    history.saveMeta('schedule', { hg137: [[[9, 0], [10, 0], 'Lecture']] });
    await history.close();
    await reopen();

    const again = new OccupancyHistory(store, 'board', quiet);
    expect(await again.open()).toEqual({
      snapshot: {
        versions: { occupation: 2, roomMap: 1, tagMap: 0, schedule: 3 },
        occupation: { hg137pc1: 'wu', hg137pc2: 'lu' },
        roomMap: { hg137: ['HG00.137', ['hg137pc1', 'hg137pc2']] },
        tagMap: { hg: ['hg137'] },
        schedule: { hg137: [[[9, 0], [10, 0], 'Lecture']] },
      },
      streamSeq: 7,
      recovered: 0,
    });
    await again.close();
  });

  it('recovers changes written to the log but not yet to the saved state (a crash between the writes)', async () => {
    const history = new OccupancyHistory(store, 'board', quiet);
    await history.open();
    history.record('pc1', 'scan', T0, 'wf');
    history.saveMeta('versions', { occupation: 1, roomMap: 1, tagMap: 0, schedule: 0, seq: 1 });
    await history.close();
    // What a process that died after the first write of a flush leaves behind.
    await store.insertMany(
      'occupancy_update',
      ['board', 'seq', 'pc', 'source', 'at', 'state'],
      [
        ['board', 1, 'pc1', 'log', T0 + 1, 'wu'],
        ['board', 2, 'pc2', 'log', T0 + 2, 'lf'],
      ],
    );
    await reopen();
    const again = new OccupancyHistory(store, 'board', quiet);
    const persisted = await again.open();
    expect(persisted.recovered).toBe(2);
    expect(persisted.snapshot?.occupation).toEqual({ pc1: 'wu', pc2: 'lf' });
    expect(persisted.snapshot?.versions.occupation).toBe(2); // one version more than saved
    expect(again.nextSeq).toBe(3);
    await again.close();
  });

  // How fast is measured in bench/occupancy-history.mjs (docs/benchmarks.md); here, that the read
  // is a range of the primary key (no scan of the table, no sort), which is what keeps it fast at
  // any offset, and that it returns the right rows.
  it('reads get_historic_updates from the middle of a large history by its key, not by a scan', async () => {
    const total = engine === 'sqlite' ? 1_000_000 : 300_000;
    const db = store.db<OccupancyTables>();
    if (engine === 'sqlite') {
      await sql`
        with recursive n(i) as (select 0 union all select i + 1 from n where i < ${total - 1})
        insert into occupancy_update (board, seq, pc, source, at, state)
        select 'big', i, 'pc' || (i % 500), 'scan', ${T0} + i, 'wf' from n`.execute(db);
    } else {
      await sql`
        insert into occupancy_update (board, seq, pc, source, at, state)
        select 'big', i, 'pc' || (i % 500), 'scan', cast(${T0} as bigint) + i, 'wf' from generate_series(0, ${total - 1}) as i`.execute(db);
      await sql`analyze occupancy_update`.execute(db);
    }
    const history = new OccupancyHistory(store, 'big', quiet);
    await history.open();
    expect(history.nextSeq).toBe(total);
    const middle = total / 2;
    for (let i = 0; i < 5; i++) {
      const updates = await history.historicUpdates(middle + i * 1000, 1000);
      expect(updates).toHaveLength(1000);
      expect(updates[0]).toEqual([`pc${(middle + i * 1000) % 500}`, 'scan', Math.floor((T0 + middle + i * 1000) / 1000), 'wf']);
    }
    // The same query as historicUpdates makes, explained by the database.
    const query = db
      .selectFrom('occupancy_update')
      .select(['pc', 'source', 'at', 'state'])
      .where('board', '=', 'big')
      .where('seq', '>=', middle)
      .orderBy('seq')
      .limit(1000)
      .compile();
    const explain = engine === 'sqlite' ? 'explain query plan ' : 'explain ';
    const plan = await db.executeQuery<Record<string, unknown>>({ ...query, sql: explain + query.sql });
    const text = plan.rows.map((row) => String(row.detail ?? row['QUERY PLAN'] ?? JSON.stringify(row))).join('\n');
    if (engine === 'sqlite') {
      expect(text).toMatch(/SEARCH occupancy_update USING (PRIMARY KEY|INDEX)/);
      expect(text).not.toMatch(/TEMP B-TREE/);
    } else {
      expect(text).toMatch(/Index (Only )?Scan/);
      expect(text).not.toMatch(/Seq Scan|Sort/);
    }
    await history.close();
  }, 120_000);
});
