// The occupancy service as transports see it: tkbd's sessions and filters, the order of
// messages in a batch, answers, errors, streams that resume or reload, fan-out that serialises
// once per filter, and a restart on a real store (SQLite and PostgreSQL).
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OCCUPANCY_MIGRATION_OWNER, OccupancyHistory, occupancyMigrations } from '../../../src/hooks/occupancy/history.js';
import type { ClientLink, Reservation, Serialized, ServerMessage } from '../../../src/hooks/occupancy/protocol.js';
import { RoomLayout } from '../../../src/hooks/occupancy/rules.js';
import { OccupancyQueryError, OccupancyService } from '../../../src/hooks/occupancy/service.js';
import { type PcUpdate, UnplacedPcError } from '../../../src/hooks/occupancy/state.js';
import { Store } from '../../../src/services/store/index.js';
import { tempDir } from '../../helpers/host.js';
import { createTestDatabase } from '../../peers/postgres.js';

const quiet = pino({ level: 'silent' });
const T0 = 1_700_000_000_000;

const LAB = {
  rooms: {
    hg137: { name: 'HG00.137', pcs: ['hg137pc*'] },
    hg075: { name: 'HG00.075', pcs: ['hg075pc*'] },
    bib: { name: 'Bibliotheek', pcs: ['bibpc*'] },
  },
  tags: { hg: ['hg137', 'hg075'], lib: ['bib'] },
};
const layout = RoomLayout.compile(LAB);

/** A transport's view of one client: every batch it was given. */
class RecordingLink implements ClientLink {
  readonly batches: { messages: readonly Serialized[]; seq: number }[] = [];

  deliver(messages: readonly Serialized[], seq: number): void {
    this.batches.push({ messages, seq });
  }

  /** Every message so far, parsed from the JSON a transport would send, and forgets them. */
  take(): ServerMessage[] {
    const out = this.batches.flatMap((b) => b.messages.map((m) => JSON.parse(m.json) as ServerMessage));
    this.batches.length = 0;
    return out;
  }

  types(): string[] {
    return this.take().map((m) => m.type);
  }
}

function open(options: { replayBatches?: number; history?: OccupancyHistory } = {}): Promise<OccupancyService> {
  let now = T0;
  return OccupancyService.open({ layout, log: quiet, now: () => now++, ...options });
}

const up = (pc: string, state: PcUpdate['state'], source = 'scan'): PcUpdate => ({ pc, state, source });
const LECTURE: Reservation = [[9, 0], [10, 45], 'Lecture'];

/** A Joyce session with its filter set and its welcome taken. */
function joyce(
  service: OccupancyService,
  filter?: Record<string, unknown>,
): { link: RecordingLink; session: ReturnType<OccupancyService['openSession']> } {
  const link = new RecordingLink();
  const session = service.openSession(link);
  if (filter) session.handle({ type: 'set_msgFilter', ...filter });
  link.take();
  return { link, session };
}

describe('Joyce sessions', () => {
  it('start with welcome and the tag names, delivered inside openSession', async () => {
    const service = await open();
    const link = new RecordingLink();
    service.openSession(link);
    expect(link.take()).toEqual([
      { type: 'welcome', protocols: [1] },
      { type: 'tags', version: 0, tags: ['hg', 'lib'] },
    ]);
    expect(service.sessionCount).toBe(1);
  });

  it('get nothing with the default filters', async () => {
    const service = await open();
    const { link, session } = joyce(service);
    service.applyPush([up('hg137pc1', 'wf')]);
    service.setSchedule('hg137', [LECTURE]);
    expect(link.take()).toEqual([]);
    session.handle({ type: 'get_occupation' });
    session.handle({ type: 'get_roomMap' });
    session.handle({ type: 'get_schedule' });
    expect(link.take()).toEqual([
      { type: 'occupation', version: 1, occupation: {} },
      { type: 'roomMap', version: 1, roomMap: {} },
      { type: 'schedule', version: 1, schedule: {} },
    ]);
  });

  it('send the room map change before the occupation change that needs it, in one batch', async () => {
    const service = await open();
    const { link } = joyce(service, { occupation: null, roomMap: null, schedule: null });
    service.applyPush([up('HG137PC2', 'wf'), up('bibpc1', 'lu')]);
    expect(link.batches).toHaveLength(1);
    expect(link.batches[0]?.seq).toBe(service.seq);
    expect(link.take()).toEqual([
      { type: 'roomMap', version: 1, roomMap: { hg137: ['HG00.137', ['hg137pc2']], bib: ['Bibliotheek', ['bibpc1']] } },
      { type: 'occupation_update', version: 1, update: { hg137pc2: 'wf', bibpc1: 'lu' } },
    ]);
    // A known PC changing is an occupation change only.
    service.applyPush([up('hg137pc2', 'wu'), up('bibpc1', 'lu')]);
    expect(link.take()).toEqual([{ type: 'occupation_update', version: 2, update: { hg137pc2: 'wu' } }]);
    // Nothing changed: nothing sent, no new version.
    expect(service.applyPush([up('hg137pc2', 'wu')])).toBeUndefined();
    expect(link.take()).toEqual([]);
  });

  it('never send an occupation update for a PC outside the roomMap filter', async () => {
    const service = await open();
    const { link } = joyce(service, { occupation: null, roomMap: ['lib'] });
    service.applyPush([up('hg137pc1', 'wf'), up('bibpc1', 'wu')]);
    expect(link.take()).toEqual([
      { type: 'roomMap', version: 1, roomMap: { bib: ['Bibliotheek', ['bibpc1']] } },
      { type: 'occupation_update', version: 1, update: { bibpc1: 'wu' } },
    ]);
    // A new PC in a room outside the filter: no roomMap message, and the update stays empty.
    service.applyPush([up('hg075pc1', 'lf')]);
    expect(link.take()).toEqual([{ type: 'occupation_update', version: 2, update: {} }]);
  });

  it('give a mirror (occupation null, roomMap left at []) every PC and no room maps', async () => {
    const service = await open();
    const { link } = joyce(service, { occupation: null });
    service.applyPush([up('hg137pc1', 'wf'), up('bibpc1', 'wu')]);
    expect(link.take()).toEqual([{ type: 'occupation_update', version: 1, update: { hg137pc1: 'wf', bibpc1: 'wu' } }]);
  });

  it('send an empty update when nothing in the filter changed, so versions stay consecutive', async () => {
    const service = await open();
    const { link } = joyce(service, { occupation: ['lib'], roomMap: ['lib'] });
    service.applyPush([up('bibpc1', 'wf')]);
    service.applyPush([up('hg137pc1', 'wf')]);
    service.applyPush([up('bibpc1', 'wu')]);
    const updates = link.take().filter((m) => m.type === 'occupation_update');
    expect(updates).toEqual([
      { type: 'occupation_update', version: 1, update: { bibpc1: 'wf' } },
      { type: 'occupation_update', version: 2, update: {} },
      { type: 'occupation_update', version: 3, update: { bibpc1: 'wu' } },
    ]);
  });

  it('follow set_msgFilter: lists of known tags, null for all, anything else or a missing key unchanged', async () => {
    const service = await open();
    service.applyPush([up('hg137pc1', 'wf'), up('hg075pc1', 'wf'), up('bibpc1', 'wf')]);
    const { link, session } = joyce(service);
    const occupationKeys = () => {
      session.handle({ type: 'get_occupation' });
      const [answer] = link.take();
      return answer?.type === 'occupation' ? Object.keys(answer.occupation).sort() : undefined;
    };
    session.handle({ type: 'set_msgFilter', occupation: ['lib', 'nope', 7] });
    expect(occupationKeys()).toEqual(['bibpc1']);
    session.handle({ type: 'set_msgFilter', occupation: 'hg', roomMap: { tags: ['hg'] } });
    expect(occupationKeys()).toEqual(['bibpc1']);
    session.handle({ type: 'set_msgFilter' });
    expect(occupationKeys()).toEqual(['bibpc1']);
    session.handle({ type: 'set_msgFilter', occupation: null });
    expect(occupationKeys()).toEqual(['bibpc1', 'hg075pc1', 'hg137pc1']);
    session.handle({ type: 'set_msgFilter', roomMap: ['hg'] });
    expect(occupationKeys()).toEqual(['hg075pc1', 'hg137pc1']); // narrowed to the room map it follows
    session.handle({ type: 'set_msgFilter', occupation: ['nope'] });
    expect(occupationKeys()).toEqual([]); // unknown tags are dropped, leaving []
    expect(link.take()).toEqual([]); // set_msgFilter itself has no answer
  });

  it('answer every get_*, tagMap correctly, and schedules filtered by tag', async () => {
    const service = await open();
    service.applyPush([up('hg137pc1', 'wf'), up('bibpc1', 'lu')]);
    service.setSchedule('hg137', [LECTURE]);
    service.setSchedule('bib', [[[13, 0], [14, 0], 'Course']]);
    const { link, session } = joyce(service, { occupation: ['hg'], roomMap: ['hg'], schedule: ['lib'] });
    for (const type of ['get_occupation', 'get_roomMap', 'get_schedule', 'get_tag_names', 'get_tagMap']) session.handle({ type });
    expect(link.take()).toEqual([
      { type: 'occupation', version: 1, occupation: { hg137pc1: 'wf' } },
      { type: 'roomMap', version: 1, roomMap: { hg137: ['HG00.137', ['hg137pc1']] } },
      { type: 'schedule', version: 2, schedule: { bib: [[[13, 0], [14, 0], 'Course']] } },
      { type: 'tags', version: 0, tags: ['hg', 'lib'] },
      { type: 'tagMap', version: 0, tagMap: { hg: ['hg137', 'hg075'], lib: ['bib'] } },
    ]);
  });

  it('fan out schedule changes to the sessions whose schedule filter covers the room', async () => {
    const service = await open();
    const lib = joyce(service, { schedule: ['lib'] });
    const hg = joyce(service, { schedule: ['hg'] });
    const all = joyce(service, { schedule: null });
    expect(service.setSchedule('bib', [LECTURE])).toBe(true);
    expect(service.setSchedule('bib', [LECTURE])).toBe(false);
    expect(lib.link.take()).toEqual([{ type: 'schedule', version: 1, schedule: { bib: [LECTURE] } }]);
    expect(hg.link.take()).toEqual([]);
    expect(all.link.take()).toEqual([{ type: 'schedule', version: 1, schedule: { bib: [LECTURE] } }]);
    expect(() => service.setSchedule('nowhere', [])).toThrow('unknown room "nowhere"');
  });

  it('answer malformed messages with an error and keep working', async () => {
    const service = await open();
    const { link, session } = joyce(service);
    const bad: unknown[] = [
      'get_occupation',
      ['get_occupation'],
      null,
      {},
      { type: 7 },
      { type: 'get_everything' },
      { type: 'get_historic_updates', offset: '5', count: 10 },
      { type: 'get_historic_updates', offset: 0 },
      { type: 'get_historic_updates', offset: 0, count: Number.NaN },
    ];
    for (const message of bad) session.handle(message);
    session.handle({ type: 'get_tag_names' });
    const answers = link.take();
    expect(answers.map((m) => (m.type === 'error' ? m.message : m.type))).toEqual([
      'a message must be an object with a "type"',
      'a message must be an object with a "type"',
      'a message must be an object with a "type"',
      'a message needs a "type" string',
      'a message needs a "type" string',
      'unknown message type "get_everything"',
      'get_historic_updates needs "offset" as a number',
      'get_historic_updates needs "count" as a number',
      'get_historic_updates needs "count" as a number',
      'tags',
    ]);
    expect(answers[5]).toEqual({ type: 'error', message: 'unknown message type "get_everything"', request: { type: 'get_everything' } });
  });

  it('refuse a batch with a PC that matches no rule, sending and changing nothing', async () => {
    const service = await open();
    const { link } = joyce(service, { occupation: null, roomMap: null });
    expect(() => service.applyPush([up('hg137pc1', 'wf'), up('lab9', 'wu')])).toThrow(UnplacedPcError);
    expect(link.take()).toEqual([]);
    expect(service.seq).toBe(0);
    expect(service.state.occupation.size).toBe(0);
  });

  it('stop delivering to a closed session, and after the service closes', async () => {
    const service = await open();
    const a = joyce(service, { occupation: null });
    const b = joyce(service, { occupation: null });
    a.session.close();
    a.session.close();
    expect(service.sessionCount).toBe(1);
    service.applyPush([up('hg137pc1', 'wf')]);
    expect(a.link.take()).toEqual([]);
    expect(b.link.types()).toEqual(['occupation_update']);
    a.session.handle({ type: 'get_tag_names' });
    expect(a.link.take()).toEqual([]);
    await service.close();
    expect(() => service.applyPush([up('hg137pc1', 'wu')])).toThrow('closed');
    b.session.handle({ type: 'get_tag_names' });
    expect(b.link.take()).toEqual([]);
  });

  it('keep fanning out when one transport throws', async () => {
    const service = await open();
    service
      .openSession({
        deliver(messages) {
          if (messages.some((m) => m.message.type === 'occupation_update')) throw new Error('socket gone');
        },
      })
      .handle({ type: 'set_msgFilter', occupation: null });
    const { link } = joyce(service, { occupation: null });
    service.applyPush([up('hg137pc1', 'wf')]);
    expect(link.types()).toEqual(['occupation_update']);
  });

  it('send everyone the tags and the full state again when the layout changes', async () => {
    const service = await open();
    service.applyPush([up('hg137pc1', 'wf'), up('bibpc1', 'wu')]);
    const { link } = joyce(service, { occupation: ['lib'], roomMap: ['lib'] });
    const idle = joyce(service);
    const moved = RoomLayout.compile({
      rooms: { hg137: { pcs: ['hg137pc*'] }, bib: { name: 'Library', pcs: ['bibpc*'] } },
      tags: { lib: ['bib', 'hg137'] },
    });
    expect(service.reconfigure(moved)).toBe(true);
    expect(link.take()).toEqual([
      { type: 'tags', version: 1, tags: ['lib'] },
      { type: 'tagMap', version: 1, tagMap: { lib: ['bib', 'hg137'] } },
      { type: 'roomMap', version: 2, roomMap: { hg137: ['hg137', ['hg137pc1']], bib: ['Library', ['bibpc1']] } },
      { type: 'occupation', version: 1, occupation: { bibpc1: 'wu', hg137pc1: 'wf' } },
    ]);
    expect(idle.link.types()).toEqual(['tags', 'tagMap']);
    expect(service.reconfigure(moved)).toBe(false);
  });
});

describe('fan-out', () => {
  it('serialises once per distinct filter and hands the same messages to every session', async () => {
    const service = await open();
    const links = Array.from({ length: 10_000 }, () => new RecordingLink());
    links.forEach((link, i) => {
      const session = service.openSession(link);
      // Two spellings of one filter, and a third filter.
      const tags = i % 3 === 0 ? ['hg', 'lib'] : i % 3 === 1 ? ['lib', 'hg', 'lib', 'nope'] : ['lib'];
      session.handle({ type: 'set_msgFilter', occupation: tags, roomMap: tags });
      link.batches.length = 0;
    });
    const stringify = JSON.stringify;
    let serialised = 0;
    JSON.stringify = ((...args: Parameters<typeof stringify>) => {
      serialised++;
      return stringify(...args);
    }) as typeof JSON.stringify;
    let elapsed: number;
    try {
      const started = performance.now();
      service.applyPush([up('hg137pc1', 'wf'), up('bibpc1', 'wu')]);
      elapsed = performance.now() - started;
    } finally {
      JSON.stringify = stringify;
    }
    // Two filters, two messages each (roomMap, occupation_update); plus the saved-state bookkeeping, which has no history here.
    expect(serialised).toBe(4);
    const first = links[0]?.batches[0]?.messages;
    expect(first?.map((m) => m.message.type)).toEqual(['roomMap', 'occupation_update']);
    for (let i = 0; i < links.length; i++) {
      const got = links[i]?.batches;
      expect(got).toHaveLength(1);
      if (i % 3 !== 2) expect(got?.[0]?.messages).toBe(first);
    }
    expect(links[2]?.take()).toEqual([
      { type: 'roomMap', version: 1, roomMap: { bib: ['Bibliotheek', ['bibpc1']] } },
      { type: 'occupation_update', version: 1, update: { bibpc1: 'wu' } },
    ]);
    // Generous: the work is one array hand-over per session.
    expect(elapsed).toBeLessThan(100);
  });
});

describe('stream sessions', () => {
  it('start with welcome and the full state for their filter', async () => {
    const service = await open();
    service.applyPush([up('hg137pc1', 'wf'), up('bibpc1', 'lu')]);
    service.setSchedule('bib', [LECTURE]);
    const link = new RecordingLink();
    service.openSession(link, { filter: { occupation: ['lib'], roomMap: ['lib'], schedule: null } });
    expect(link.batches.map((b) => b.seq)).toEqual([service.seq]);
    expect(link.take()).toEqual([
      { type: 'welcome', protocols: [1] },
      { type: 'tags', version: 0, tags: ['hg', 'lib'] },
      { type: 'tagMap', version: 0, tagMap: { hg: ['hg137', 'hg075'], lib: ['bib'] } },
      { type: 'roomMap', version: 1, roomMap: { bib: ['Bibliotheek', ['bibpc1']] } },
      { type: 'occupation', version: 1, occupation: { bibpc1: 'lu' } },
      { type: 'schedule', version: 1, schedule: { bib: [LECTURE] } },
    ]);
    // Without a filter a stream starts like a Joyce channel: nothing but the tags.
    const bare = new RecordingLink();
    service.openSession(bare, {});
    expect(bare.types()).toEqual(['welcome', 'tags', 'tagMap']);
  });

  it('number each change batch and deliver it with its number', async () => {
    const service = await open();
    const link = new RecordingLink();
    service.openSession(link, { filter: { occupation: null, roomMap: null, schedule: null } });
    expect(service.seq).toBe(0);
    service.applyPush([up('hg137pc1', 'wf')]);
    service.setSchedule('hg137', [LECTURE]);
    expect(service.seq).toBe(2);
    expect(link.batches.map((b) => b.seq)).toEqual([0, 1, 2]);
  });

  it('resume with exactly the batches they missed, filtered for them', async () => {
    const service = await open({ replayBatches: 10 });
    const filter = { occupation: ['hg'], roomMap: ['hg'], schedule: [] };
    service.applyPush([up('hg137pc1', 'wf')]);
    const since = service.seq;
    service.applyPush([up('hg137pc1', 'wu'), up('bibpc1', 'lf')]);
    service.applyPush([up('hg075pc1', 'lu')]);
    service.setSchedule('hg137', [LECTURE]); // outside the schedule filter: nothing for it
    const link = new RecordingLink();
    service.openSession(link, { filter, since });
    expect(link.batches.map((b) => b.seq)).toEqual([service.seq]);
    expect(link.take()).toEqual([
      { type: 'welcome', protocols: [1] },
      // bibpc1 joined a room outside the filter: no room map for that batch.
      { type: 'occupation_update', version: 2, update: { hg137pc1: 'wu' } },
      { type: 'roomMap', version: 3, roomMap: { hg137: ['HG00.137', ['hg137pc1']], hg075: ['HG00.075', ['hg075pc1']] } },
      { type: 'occupation_update', version: 3, update: { hg075pc1: 'lu' } },
    ]);
    const current = new RecordingLink();
    service.openSession(current, { filter, since: service.seq });
    expect(current.take()).toEqual([{ type: 'welcome', protocols: [1] }]);
  });

  it('reload with the full state when the missed batches are no longer held, or the number is not ours', async () => {
    const service = await open({ replayBatches: 2 });
    const filter = { occupation: null, roomMap: null, schedule: null };
    service.applyPush([up('hg137pc1', 'wf')]);
    service.applyPush([up('hg137pc1', 'wu')]);
    service.applyPush([up('hg137pc1', 'lu')]);
    for (const since of [0, service.seq + 5, -1, 1.5]) {
      const link = new RecordingLink();
      service.openSession(link, { filter, since });
      expect(link.take()).toEqual([
        { type: 'welcome', protocols: [1] },
        { type: 'reload', seq: 3 },
        { type: 'tags', version: 0, tags: ['hg', 'lib'] },
        { type: 'tagMap', version: 0, tagMap: { hg: ['hg137', 'hg075'], lib: ['bib'] } },
        { type: 'roomMap', version: 1, roomMap: { hg137: ['HG00.137', ['hg137pc1']] } },
        { type: 'occupation', version: 3, occupation: { hg137pc1: 'lu' } },
        { type: 'schedule', version: 0, schedule: {} },
      ]);
    }
    // One batch back is still held.
    const link = new RecordingLink();
    service.openSession(link, { filter, since: 1 });
    expect(link.types()).toEqual(['welcome', 'occupation_update', 'occupation_update']);
  });

  it('reload across a layout change rather than replay it', async () => {
    const service = await open();
    service.applyPush([up('hg137pc1', 'wf')]);
    const since = service.seq;
    service.reconfigure(RoomLayout.compile({ ...LAB, tags: { hg: ['hg137'] } }));
    const link = new RecordingLink();
    service.openSession(link, { filter: { occupation: null, roomMap: [], schedule: [] }, since });
    expect(link.types()).toEqual(['welcome', 'reload', 'tags', 'tagMap', 'occupation']);
  });

  it('take set_msgFilter and get_* like a Joyce session', async () => {
    const service = await open();
    service.applyPush([up('bibpc1', 'wf')]);
    const link = new RecordingLink();
    const session = service.openSession(link, {});
    link.take();
    session.handle({ type: 'set_msgFilter', occupation: ['lib'] });
    session.handle({ type: 'get_occupation' });
    expect(link.take()).toEqual([{ type: 'occupation', version: 1, occupation: { bibpc1: 'wf' } }]);
  });
});

describe.each(['sqlite', 'postgres'] as const)('the service on a %s store', (engine) => {
  let baseDir: string;
  let url: string;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    const { dir, remove } = await tempDir();
    baseDir = dir;
    if (engine === 'sqlite') {
      url = 'sqlite:occupancy.db';
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

  async function openOn(board: string, options: { layout?: RoomLayout } = {}): Promise<{ store: Store; service: OccupancyService }> {
    const store = await Store.open(url, { baseDir, log: quiet });
    await store.migrate(OCCUPANCY_MIGRATION_OWNER, occupancyMigrations);
    let now = T0;
    const service = await OccupancyService.open({
      layout: options.layout ?? layout,
      history: new OccupancyHistory(store, board, quiet),
      log: quiet,
      now: () => (now += 1000),
    });
    return { store, service };
  }

  it('keeps the order of replies when a history answer is awaited', async () => {
    const { store, service } = await openOn('order');
    service.applyPush([up('hg137pc1', 'wf'), up('bibpc1', 'lu')]);
    const { link, session } = joyce(service, { occupation: null });
    session.handle({ type: 'get_historic_updates', offset: 0, count: 10 });
    session.handle({ type: 'get_tag_names' });
    service.applyPush([up('hg137pc1', 'wu')]);
    session.handle({ type: 'get_historic_updates', offset: 2, count: -4 });
    session.handle({ type: 'get_tag_names' });
    expect(link.batches).toHaveLength(0); // all wait behind the first history answer
    await expect.poll(() => link.batches.length).toBe(5);
    expect(link.take()).toEqual([
      {
        type: 'historic_updates',
        offset: 0,
        count: 10,
        // The history as it was when asked: the change pushed after the request is not in it.
        updates: [
          ['hg137pc1', 'scan', (T0 + 2000) / 1000, 'wf'],
          ['bibpc1', 'scan', (T0 + 2000) / 1000, 'lu'],
        ],
      },
      { type: 'tags', version: 0, tags: ['hg', 'lib'] },
      { type: 'occupation_update', version: 2, update: { hg137pc1: 'wu' } },
      { type: 'historic_updates', offset: 2, count: 0, updates: [] },
      { type: 'tags', version: 0, tags: ['hg', 'lib'] },
    ]);
    // Once answered, messages go straight through again.
    session.handle({ type: 'get_tag_names' });
    expect(link.batches).toHaveLength(1);
    await service.close();
    await store.close();
  });

  it('comes back after a restart with the same state, versions, room map and schedule', async () => {
    const first = await openOn('restart');
    first.service.applyPush([up('hg137pc2', 'wf'), up('hg137pc10', 'lu'), up('bibpc1', 'o')]);
    first.service.applyPush([up('hg137pc2', 'wu')]);
    first.service.setSchedule('bib', [LECTURE]);
    const before = first.service.state.snapshot();
    const seq = first.service.seq;
    await first.service.close();
    await first.store.close();

    const second = await openOn('restart');
    expect(second.service.state.snapshot()).toEqual(before);
    expect(before.versions).toEqual({ occupation: 2, roomMap: 1, tagMap: 0, schedule: 1 });
    expect(second.service.seq).toBeGreaterThan(seq);
    const { link, session } = joyce(second.service, { occupation: null, roomMap: null, schedule: null });
    session.handle({ type: 'get_roomMap' });
    session.handle({ type: 'get_schedule' });
    expect(link.take()).toEqual([
      { type: 'roomMap', version: 1, roomMap: { hg137: ['HG00.137', ['hg137pc2', 'hg137pc10']], bib: ['Bibliotheek', ['bibpc1']] } },
      { type: 'schedule', version: 1, schedule: { bib: [LECTURE] } },
    ]);
    // The versions go on from where they were; a known PC is no room-map change.
    second.service.applyPush([up('hg137pc10', 'lf')]);
    expect(link.take()).toEqual([{ type: 'occupation_update', version: 3, update: { hg137pc10: 'lf' } }]);
    // A stream from before the restart reloads.
    const stream = new RecordingLink();
    second.service.openSession(stream, { filter: { occupation: null, roomMap: [], schedule: [] }, since: seq });
    expect(stream.types()).toEqual(['welcome', 'reload', 'tags', 'tagMap', 'occupation']);
    await second.service.close();
    await second.store.close();

    // A changed layout: the restored state is laid out again and the change kept.
    const renamed = RoomLayout.compile({ ...LAB, rooms: { ...LAB.rooms, bib: { name: 'Library', pcs: ['bibpc*'] } } });
    const third = await openOn('restart', { layout: renamed });
    expect(third.service.state.roomMapJson().bib).toEqual(['Library', ['bibpc1']]);
    expect(third.service.state.versions.roomMap).toBe(2);
    await third.service.close();
    await third.store.close();
    const fourth = await openOn('restart', { layout: renamed });
    expect(fourth.service.state.versions).toEqual({ occupation: 3, roomMap: 2, tagMap: 0, schedule: 1 });
    await fourth.service.close();
    await fourth.store.close();
  });

  it('answers history queries by PC, room and tag', async () => {
    const { store, service } = await openOn('query');
    service.applyPush([up('hg137pc1', 'wf'), up('hg075pc1', 'wf'), up('bibpc1', 'wf')]);
    service.applyPush([up('hg137pc1', 'wu'), up('bibpc1', 'wu')]);
    const pcs = async (query: Parameters<OccupancyService['queryHistory']>[0]) =>
      (await service.queryHistory(query)).records.map((r) => `${r.pc}:${r.state}`);
    expect(await pcs({ rooms: ['hg137'] })).toEqual(['hg137pc1:wf', 'hg137pc1:wu']);
    expect(await pcs({ tags: ['hg'] })).toEqual(['hg137pc1:wf', 'hg075pc1:wf', 'hg137pc1:wu']);
    expect(await pcs({ pcs: ['BIBPC1'], rooms: ['hg075'] })).toEqual(['hg075pc1:wf', 'bibpc1:wf', 'bibpc1:wu']);
    expect(await pcs({ from: T0 + 3000 })).toEqual(['hg137pc1:wu', 'bibpc1:wu']); // the clock ticks 1 s per reading
    expect((await service.queryHistory({ tags: ['lib'], limit: 1 })).total).toBe(2);
    await expect(service.queryHistory({ tags: ['nope'] })).rejects.toThrow(OccupancyQueryError);
    await expect(service.queryHistory({ rooms: ['nope'] })).rejects.toThrow('unknown room "nope"');
    await service.close();
    await store.close();
  });
});
