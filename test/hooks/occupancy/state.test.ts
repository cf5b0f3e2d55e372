// The board's layout rules (which room a PC is in, tags) and its in-memory state: versions per
// change batch, rooms growing as PCs appear, schedules, and a restart under a changed layout.
import { describe, expect, it } from 'vitest';
import { zodProblems } from '../../../src/core/config/schema.js';
import { IGNORED, type LayoutConfig, layoutSchema, RoomLayout } from '../../../src/hooks/occupancy/rules.js';
import { OccupancyState, type PcUpdate, UnplacedPcError } from '../../../src/hooks/occupancy/state.js';

const LAB = {
  rooms: {
    hg137: { name: 'HG00.137', pcs: ['hg137pc*'] },
    hg075: { name: 'HG00.075', pcs: ['/^hg075pc\\d+$/'] },
    bib: { pcs: ['bib?pc*'] },
    other: { name: 'Elsewhere' },
  },
  aliases: { HG137Docent: 'hg075' },
  ignore: ['cz*', '*docent'],
  catchAll: 'other',
  tags: { hg: ['hg137', 'hg075'], lib: ['bib'] },
};

function problems(config: unknown): string[] {
  const result = layoutSchema.safeParse(config);
  if (result.success) return [];
  return zodProblems(result.error, ['hooks', 'board', 'config']).map((p) => `${p.place}: ${p.message}`);
}

const at = 1_700_000_000_000;
const up = (pc: string, state: PcUpdate['state'], source = 'scan'): PcUpdate => ({ pc, state, source });

describe('layout config', () => {
  it('accepts the documented shape and fills in defaults', () => {
    expect(problems(LAB)).toEqual([]);
    const parsed = layoutSchema.parse({ rooms: { a: { pcs: ['a*'] } } });
    expect(parsed).toEqual({ rooms: { a: { pcs: ['a*'] } }, aliases: {}, ignore: [], tags: {} });
  });

  it('names the place of every cross-reference that does not resolve', () => {
    expect(
      problems({
        rooms: { a: { pcs: ['a*'] } },
        aliases: { x1: 'nowhere' },
        catchAll: 'missing',
        tags: { t: ['a', 'b', 'a'] },
      }),
    ).toEqual([
      'hooks.board.config.aliases.x1: unknown room "nowhere"',
      'hooks.board.config.catchAll: unknown room "missing"',
      'hooks.board.config.tags.t[1]: unknown room "b"',
      'hooks.board.config.tags.t[2]: room "a" is listed twice',
    ]);
  });

  it('refuses bad patterns, no rooms, unknown keys and aliases that differ only in case', () => {
    expect(problems({ rooms: { a: { pcs: ['a*', '/(unclosed/'] } } })).toEqual([
      expect.stringMatching(/^hooks\.board\.config\.rooms\.a\.pcs\[1\]: bad pattern "\/\(unclosed\/": /),
    ]);
    expect(problems({ rooms: {} })).toEqual(['hooks.board.config.rooms: at least one room is needed']);
    expect(problems({ rooms: { a: { pcs: [], capacity: 3 } } })).toEqual(['hooks.board.config.rooms.a.capacity: unknown key']);
    expect(problems({ rooms: { a: { pcs: [''] } } })).toEqual(['hooks.board.config.rooms.a.pcs[0]: a pattern cannot be empty']);
    expect(problems({ rooms: { a: {} }, aliases: { PC1: 'a', pc1: 'a' } })).toEqual([
      'hooks.board.config.aliases.pc1: same PC as alias "PC1" (PC names are lower-cased)',
    ]);
  });
});

describe('room rules', () => {
  const layout = RoomLayout.compile(LAB);

  it('places PCs by glob and regex, without regard to case', () => {
    expect(layout.place('hg137pc01')).toBe('hg137');
    expect(layout.place('HG137PC01')).toBe('hg137');
    expect(layout.place('hg075pc12')).toBe('hg075');
    expect(layout.place('bibapc3')).toBe('bib');
    expect(layout.place('bibpc3')).toBe('other'); // `?` is exactly one character
  });

  it('takes an alias first, then drops ignored names, then the first matching room, then the catch-all', () => {
    expect(layout.place('hg137docent')).toBe('hg075'); // the alias wins over `*docent` and `hg137pc*`
    expect(layout.place('hg075docent')).toBe(IGNORED);
    expect(layout.place('czpc1')).toBe(IGNORED);
    expect(layout.place('hg075pcx')).toBe('other'); // the regex wants digits
    const first = RoomLayout.compile({ rooms: { one: { pcs: ['pc*'] }, two: { pcs: ['pc1*'] } } });
    expect(first.place('pc12')).toBe('one');
  });

  it('leaves a PC unplaced without a catch-all', () => {
    const strict = RoomLayout.compile({ rooms: { a: { pcs: ['a*'] } } });
    expect(strict.place('b1')).toBeUndefined();
    expect(strict.place('A1')).toBe('a');
  });

  it('treats glob characters other than * and ? literally', () => {
    const literal = RoomLayout.compile({ rooms: { a: { pcs: ['a.b+c*'] } } });
    expect(literal.place('a.b+c1')).toBe('a');
    expect(literal.place('axbbc1')).toBeUndefined();
  });

  it('keeps display names (the id when none is given) and tags in config order', () => {
    expect([...layout.rooms]).toEqual([
      ['hg137', 'HG00.137'],
      ['hg075', 'HG00.075'],
      ['bib', 'bib'],
      ['other', 'Elsewhere'],
    ]);
    expect([...layout.tags]).toEqual([
      ['hg', ['hg137', 'hg075']],
      ['lib', ['bib']],
    ]);
  });
});

describe('state', () => {
  const layout = RoomLayout.compile(LAB);

  it('adds PCs to their rooms and counts one version per batch', () => {
    const state = new OccupancyState(layout);
    const change = state.apply([up('HG137PC10', 'wf'), up('hg137pc2', 'lu'), up('hg075pc1', 'o')], at);
    expect(change?.roomMap?.version).toBe(1);
    expect([...(change?.roomMap?.rooms ?? [])]).toEqual(['hg137', 'hg075']);
    expect(change?.occupation).toEqual({
      version: 1,
      changes: [
        { pc: 'hg137pc10', room: 'hg137', state: 'wf', source: 'scan' },
        { pc: 'hg137pc2', room: 'hg137', state: 'lu', source: 'scan' },
        { pc: 'hg075pc1', room: 'hg075', state: 'o', source: 'scan' },
      ],
    });
    // Natural PC order inside a room; rooms in the layout's order.
    expect(state.roomMapJson()).toEqual({ hg137: ['HG00.137', ['hg137pc2', 'hg137pc10']], hg075: ['HG00.075', ['hg075pc1']] });
    expect(state.versions).toEqual({ occupation: 1, roomMap: 1, tagMap: 0, schedule: 0 });

    const second = state.apply([up('hg137pc2', 'lf', 'log'), up('hg137pc10', 'wf')], at + 1);
    expect(second?.roomMap).toBeUndefined();
    expect(second?.occupation?.changes).toEqual([{ pc: 'hg137pc2', room: 'hg137', state: 'lf', source: 'log' }]);
    expect(state.versions).toEqual({ occupation: 2, roomMap: 1, tagMap: 0, schedule: 0 });
    expect(Object.keys(state.roomMapJson())).toEqual(['hg137', 'hg075']);
  });

  it('reports nothing for a batch that changes nothing', () => {
    const state = new OccupancyState(layout);
    state.apply([up('hg137pc1', 'wf')], at);
    expect(state.apply([up('hg137pc1', 'wf'), up('czpc9', 'wu')], at)).toBeUndefined();
    expect(state.apply([], at)).toBeUndefined();
    expect(state.versions.occupation).toBe(1);
  });

  it('keeps rooms in layout order when a room earlier in the layout appears later', () => {
    const state = new OccupancyState(layout);
    state.apply([up('bibapc1', 'wf')], at);
    state.apply([up('hg137pc1', 'wf')], at);
    expect(Object.keys(state.roomMapJson())).toEqual(['hg137', 'bib']);
    expect(state.roomMapJson().bib).toEqual(['bib', ['bibapc1']]);
  });

  it('refuses a whole batch when one PC matches no rule', () => {
    const strict = new OccupancyState(RoomLayout.compile({ rooms: { a: { pcs: ['a*'] } } }));
    expect(() => strict.apply([up('a1', 'wf'), up('b1', 'wu'), up('B2', 'wu')], at)).toThrow(UnplacedPcError);
    try {
      strict.apply([up('a1', 'wf'), up('b1', 'wu')], at);
    } catch (error) {
      expect((error as UnplacedPcError).pcs).toEqual(['b1']);
      expect((error as Error).message).toBe('no room rule matches "b1"');
    }
    expect(strict.occupation.size).toBe(0);
    expect(strict.rooms.size).toBe(0);
    expect(strict.versions).toEqual({ occupation: 0, roomMap: 0, tagMap: 0, schedule: 0 });
  });

  it('resolves tag filters to rooms', () => {
    const state = new OccupancyState(layout);
    expect(state.roomsOfTags(null)).toBeNull();
    expect([...(state.roomsOfTags(['hg', 'nope']) ?? [])]).toEqual(['hg137', 'hg075']);
    expect(state.roomsOfTags([])?.size).toBe(0);
  });

  it('versions the schedule per change and refuses rooms the layout does not have', () => {
    const state = new OccupancyState(layout);
    const lecture: [[number, number], [number, number], string] = [[9, 0], [10, 45], 'Lecture'];
    const change = state.setSchedule('hg137', [lecture], at);
    expect(change?.schedule?.version).toBe(1);
    expect([...(change?.schedule?.rooms ?? [])]).toEqual(['hg137']);
    expect(state.setSchedule('hg137', [lecture], at)).toBeUndefined();
    // A room without PCs yet may still have a schedule.
    expect(state.setSchedule('bib', [lecture], at)?.schedule?.version).toBe(2);
    expect(state.scheduleJson()).toEqual({ hg137: [lecture], bib: [lecture] });
    expect(state.setSchedule('bib', [], at)?.schedule?.version).toBe(3);
    expect(state.scheduleJson()).toEqual({ hg137: [lecture] });
    expect(() => state.setSchedule('hg999', [lecture], at)).toThrow('unknown room "hg999"');
    expect(state.versions.schedule).toBe(3);
  });

  it('restores a snapshot unchanged under the same layout', () => {
    const state = new OccupancyState(layout);
    state.apply([up('hg137pc1', 'wf'), up('bibapc1', 'lu')], at);
    state.apply([up('hg137pc1', 'wu')], at);
    state.setSchedule('hg075', [[[8, 30], [9, 30], 'Exam']], at);
    const snapshot = JSON.parse(JSON.stringify(state.snapshot()));
    const { state: restored, change } = OccupancyState.restore(layout, snapshot);
    expect(change).toBeUndefined();
    expect(restored.snapshot()).toEqual(state.snapshot());
    expect(restored.versions).toEqual({ occupation: 2, roomMap: 1, tagMap: 0, schedule: 1 });
    // A PC seen before is not a new room-map change.
    expect(restored.apply([up('hg137pc1', 'wf')], at)?.roomMap).toBeUndefined();
  });

  it('lays a restored state out by a changed layout, with new versions where it differs', () => {
    const state = new OccupancyState(layout);
    state.apply([up('hg137pc1', 'wf'), up('hg075pc1', 'lu'), up('bibapc1', 'o')], at);
    state.setSchedule('bib', [[[8, 0], [9, 0], 'Course']], at);
    const changed = RoomLayout.compile({
      rooms: {
        hg137: { name: 'Room 137', pcs: ['hg137pc*', 'hg075pc*'] }, // hg075's PCs move here
        lab: { pcs: ['lab*'] },
      },
      tags: { hg: ['hg137'] },
      // No catch-all: bibapc1 matches nothing any more and is dropped, with bib's schedule.
    });
    const { state: restored, change } = OccupancyState.restore(changed, state.snapshot(), at);
    expect(change?.reset).toBe(true);
    expect(restored.roomMapJson()).toEqual({ hg137: ['Room 137', ['hg075pc1', 'hg137pc1']] });
    expect(Object.fromEntries(restored.occupation)).toEqual({ hg137pc1: 'wf', hg075pc1: 'lu' });
    expect(restored.tagMapJson()).toEqual({ hg: ['hg137'] });
    expect(restored.scheduleJson()).toEqual({});
    expect(restored.versions).toEqual({ occupation: 2, roomMap: 2, tagMap: 1, schedule: 2 });
    expect(restored.roomOf('HG075PC1')).toBe('hg137');
  });

  it('skips damaged parts of a saved snapshot instead of failing', () => {
    const damaged = {
      versions: { occupation: 4, roomMap: 2, tagMap: 0, schedule: 0 },
      occupation: { hg137pc1: 'wf', hg137pc2: 'sleepy' },
      roomMap: { hg137: ['HG00.137', ['hg137pc1']], broken: 'x' },
      tagMap: { hg: ['hg137', 'hg075'], lib: ['bib'] },
      schedule: { hg137: [['bad']] },
    } as unknown as Parameters<typeof OccupancyState.restore>[1];
    const { state } = OccupancyState.restore(layout, damaged);
    expect(Object.fromEntries(state.occupation)).toEqual({ hg137pc1: 'wf' });
    expect(state.roomMapJson()).toEqual({ hg137: ['HG00.137', ['hg137pc1']] });
    expect(state.scheduleJson()).toEqual({});
    expect(state.versions).toEqual({ occupation: 4, roomMap: 2, tagMap: 0, schedule: 0 });
  });

  it('compiles a layout from a config that passed the schema already', () => {
    const parsed: LayoutConfig = layoutSchema.parse(LAB);
    expect(RoomLayout.compile(parsed).place('hg137pc9')).toBe('hg137');
  });
});
