// The board's data layer: folding tkbd messages into state, the rooms and counts it derives, and reading events.
import { describe, expect, it } from 'vitest';
import {
  type BoardState,
  boardRooms,
  countsAsFree,
  formatTime,
  initialState,
  kindOf,
  knownTags,
  type PcState,
  parseBatch,
  type Reservation,
  reduce,
  reduceAll,
  reservationsAt,
  type ServerMessage,
  StreamFormatError,
} from './store.js';

const NOON = 12 * 60;

function lab(): ServerMessage[] {
  return [
    { type: 'welcome', protocols: [1] },
    { type: 'tags', version: 1, tags: ['lab', 'library'] },
    { type: 'tagMap', version: 1, tagMap: { lab: ['hg761', 'hg023'], library: ['lib'] } },
    {
      type: 'roomMap',
      version: 3,
      roomMap: { hg023: ['HG 00.23', ['hg023pc1', 'hg023pc2']], hg761: ['HG 07.61', ['hg761pc1', 'hg761pc2', 'hg761pc3', 'hg761pc4']] },
    },
    { type: 'occupation', version: 7, occupation: { hg761pc1: 'wf', hg761pc2: 'lu', hg761pc3: 'o', hg761pc4: 'wx', hg023pc1: 'x' } },
    {
      type: 'schedule',
      version: 2,
      schedule: {
        hg761: [
          [[13, 0], [14, 0], 'Later'],
          [[11, 30], [12, 30], 'Lecture'],
          [[8, 0], [9, 0], 'Early'],
        ],
      },
    },
  ];
}

describe('reduce', () => {
  it('takes the full state from a session start', () => {
    const state = reduceAll(initialState, lab());
    expect(state.protocols).toEqual([1]);
    expect(state.tags).toEqual(['lab', 'library']);
    expect(state.roomMap.hg761?.[0]).toBe('HG 07.61');
    expect(state.occupation.hg761pc2).toBe('lu');
    expect(state.versions).toEqual({ tags: 1, tagMap: 1, roomMap: 3, occupation: 7, schedule: 2 });
  });

  it('applies occupation updates on top, and skips one older than the occupation in hand', () => {
    let state = reduceAll(initialState, lab());
    state = reduce(state, { type: 'occupation_update', version: 8, update: { hg761pc1: 'wu', hg023pc2: 'lf' } });
    expect(state.occupation).toMatchObject({ hg761pc1: 'wu', hg761pc2: 'lu', hg023pc2: 'lf' });
    expect(state.versions.occupation).toBe(8);

    const stale = reduce(state, { type: 'occupation_update', version: 6, update: { hg761pc1: 'wf' } });
    expect(stale).toBe(state);
  });

  it('replaces a part with each full message, even at a lower version (a restarted server)', () => {
    let state = reduceAll(initialState, lab());
    state = reduce(state, { type: 'occupation', version: 1, occupation: { hg761pc1: 'lf' } });
    expect(state.occupation).toEqual({ hg761pc1: 'lf' });
    expect(state.versions.occupation).toBe(1);
    state = reduce(state, { type: 'occupation_update', version: 2, update: { hg761pc2: 'wf' } });
    expect(state.occupation).toEqual({ hg761pc1: 'lf', hg761pc2: 'wf' });
  });

  it('forgets the filtered state on reload but keeps the tags, which the reload does not resend', () => {
    const state = reduce(reduceAll(initialState, lab()), { type: 'reload', seq: 40 });
    expect(state.occupation).toEqual({});
    expect(state.roomMap).toEqual({});
    expect(state.schedule).toEqual({});
    expect(knownTags(state)).toEqual(['lab', 'library']);
    expect(state.versions).toEqual({ tags: 1, tagMap: 1 });
  });

  it('keeps the last error and ignores history answers', () => {
    const start = reduceAll(initialState, lab());
    expect(reduce(start, { type: 'historic_updates', offset: 0, count: 0, updates: [] })).toBe(start);
    expect(reduce(start, { type: 'error', message: 'unknown tag' }).error).toBe('unknown tag');
  });

  it('leaves the state it was given untouched', () => {
    const frozen: BoardState = Object.freeze(reduceAll(initialState, lab()));
    const before = JSON.stringify(frozen);
    reduceAll(frozen, [
      { type: 'occupation_update', version: 9, update: { hg761pc1: 'lu' } },
      { type: 'reload', seq: 1 },
    ]);
    expect(JSON.stringify(frozen)).toBe(before);
  });
});

describe('the rooms of a tag', () => {
  it('counts wf, lf and o as free and everything else, and no state, as used (as tkb.js does)', () => {
    const free: PcState[] = ['wf', 'lf', 'o'];
    const used: PcState[] = ['wu', 'lu', 'wx', 'lx', 'x'];
    for (const s of free) expect(countsAsFree(s)).toBe(true);
    for (const s of used) expect(countsAsFree(s)).toBe(false);
    expect(countsAsFree(undefined)).toBe(false);
    expect([...free, ...used].map(kindOf)).toEqual(['free', 'free', 'off', 'used', 'used', 'booted', 'booted', 'unknown']);
    expect(kindOf(undefined)).toBe('unknown');
  });

  it('lists the rooms in the tag map order with their counts and reservations', () => {
    const rooms = boardRooms(reduceAll(initialState, lab()), 'lab', NOON);
    expect(rooms.map((r) => [r.id, r.name, r.free, r.used])).toEqual([
      ['hg761', 'HG 07.61', 2, 2],
      ['hg023', 'HG 00.23', 0, 2],
    ]);
    expect(rooms[0]?.pcs.map((pc) => pc.kind)).toEqual(['free', 'used', 'off', 'booted']);
    expect(rooms[0]?.current?.[2]).toBe('Lecture');
    expect(rooms[0]?.next?.[2]).toBe('Later');
    expect(rooms[1]?.current).toBeUndefined();
  });

  it('follows an update into the counts', () => {
    const state = reduce(reduceAll(initialState, lab()), { type: 'occupation_update', version: 8, update: { hg761pc1: 'wu' } });
    expect(boardRooms(state, 'lab', NOON)[0]).toMatchObject({ free: 1, used: 3 });
  });

  it('shows every room of the room map by name when the tag map does not name the tag', () => {
    const state = reduceAll(
      initialState,
      lab().filter((m) => m.type !== 'tagMap'),
    );
    expect(boardRooms(state, 'lab', NOON).map((r) => r.name)).toEqual(['HG 00.23', 'HG 07.61']);
    expect(boardRooms(state, undefined, NOON)).toHaveLength(2);
  });

  it('skips a room of the tag map that the room map does not have yet', () => {
    const state = reduceAll(initialState, [...lab(), { type: 'tagMap', version: 2, tagMap: { lab: ['new', 'hg023'] } }]);
    expect(boardRooms(state, 'lab', NOON).map((r) => r.id)).toEqual(['hg023']);
  });

  it('names the tags of the tag map too', () => {
    const state = reduce(initialState, { type: 'tagMap', version: 1, tagMap: { a: [], b: [] } });
    expect(knownTags(reduce(state, { type: 'tags', version: 1, tags: ['b', 'c'] }))).toEqual(['b', 'c', 'a']);
  });
});

describe('reservations', () => {
  const day: Reservation[] = [
    [[9, 0], [10, 0], 'A'],
    [[10, 0], [11, 0], 'B'],
    [[14, 0], [15, 0], 'C'],
  ];
  const at = (h: number, m: number) => {
    const { current, next } = reservationsAt(day, h * 60 + m);
    return [current?.[2], next?.[2]];
  };

  it('finds the one under way and the next to start', () => {
    expect(at(8, 59)).toEqual([undefined, 'A']);
    expect(at(9, 0)).toEqual(['A', 'B']);
    expect(at(9, 59)).toEqual(['A', 'B']);
    expect(at(10, 0)).toEqual(['B', 'C']);
    expect(at(12, 0)).toEqual([undefined, 'C']);
    expect(at(15, 0)).toEqual([undefined, undefined]);
  });

  it('formats times of day', () => {
    expect(formatTime([9, 5])).toBe('09:05');
    expect(formatTime([23, 59])).toBe('23:59');
  });
});

describe('parseBatch', () => {
  it('reads a JSON array of messages, skipping types the board does not know', () => {
    const messages = parseBatch(JSON.stringify([...lab(), { type: 'something_new', x: 1 }]));
    expect(messages).toEqual(lab());
  });

  it.each([
    ['not JSON', '{', /not JSON/],
    ['not an array', '{"type":"welcome"}', /not a JSON array/],
    ['a message without a type', '[{}]', /message 0 has no type/],
    [
      'an unknown state',
      '[{"type":"occupation_update","version":1,"update":{"pc1":"busy"}}]',
      /message 0 \(occupation_update\): bad update/,
    ],
    ['a missing version', '[{"type":"occupation","occupation":{}}]', /bad version/],
    ['a bad room map', '[{"type":"roomMap","version":1,"roomMap":{"r":["R","pc1"]}}]', /bad roomMap/],
    ['a bad reservation', '[{"type":"schedule","version":1,"schedule":{"r":[[[9],[10,0],"x"]]}}]', /bad schedule/],
    ['a welcome without protocol 1', '[{"type":"welcome","protocols":[2]}]', /bad protocols/],
  ])('rejects %s', (_what, data, message) => {
    expect(() => parseBatch(data)).toThrow(StreamFormatError);
    expect(() => parseBatch(data)).toThrow(message);
  });

  it('rejects a whole batch when one message is malformed', () => {
    const data = JSON.stringify([
      { type: 'occupation_update', version: 2, update: { pc1: 'wf' } },
      { type: 'tags', version: 1, tags: 'lab' },
    ]);
    expect(() => parseBatch(data)).toThrow(/message 1 \(tags\): bad tags/);
  });
});
