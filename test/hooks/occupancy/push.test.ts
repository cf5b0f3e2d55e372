// tkbd's push body: the mapping of event, status and session to a PC state, and every way a
// body can be wrong, each refused whole with the place of the problem.
import { describe, expect, it } from 'vitest';
import { PushBodyError, parsePushBody, pcStateOf } from '../../../src/hooks/occupancy/push.js';
import { RoomLayout } from '../../../src/hooks/occupancy/rules.js';

const layout = RoomLayout.compile({
  rooms: { hg137: { pcs: ['hg137pc*'] }, bib: { pcs: ['bibpc*'] } },
  ignore: ['cz*'],
});

/** The problems of a refused body, as `place: message`. */
function refusal(body: unknown): string[] {
  try {
    parsePushBody(body, layout);
  } catch (error) {
    expect(error).toBeInstanceOf(PushBodyError);
    return (error as PushBodyError).problems.map((p) => `${p.place}: ${p.message}`);
  }
  throw new Error('the body was accepted');
}

describe('push mapping', () => {
  it.each([
    [{ status: 'offline' }, 'o'],
    [{ status: 'unknown' }, 'x'],
    [{ status: 'free' }, 'wf'],
    [{ status: 'used' }, 'wu'],
    [{ status: 'free', session: 'windows' }, 'wf'],
    [{ status: 'free', session: 'linux' }, 'lf'],
    [{ status: 'used', session: 'linux' }, 'lu'],
    [{ status: 'used', session: 'windows' }, 'wu'],
    [{ status: 'unknown', session: 'windows' }, 'wx'],
    [{ status: 'unknown', session: 'linux' }, 'lx'],
    [{ status: 'offline', session: 'linux' }, 'o'],
    [{ event: 'logon' }, 'wu'],
    [{ event: 'logoff' }, 'wf'],
    [{ event: 'logon', session: 'linux' }, 'lu'],
    [{ event: 'logoff', session: 'linux' }, 'lf'],
    [{ event: 'logon', status: 'free' }, 'wu'],
    [{ event: 'logoff', status: 'used', session: 'linux' }, 'lf'],
    [{ event: 'logoff', status: 'offline' }, 'wf'],
    [{ status: 'free', comment: 'extra keys are ignored' }, 'wf'],
  ])('%j is %s', (entry, state) => {
    expect(pcStateOf(entry)).toBe(state);
    expect(parsePushBody({ datasource: 'scan', data: { hg137pc01: entry } }, layout)).toEqual([{ pc: 'hg137pc01', state, source: 'scan' }]);
  });

  it('lower-cases PC names, defaults the source to "unknown" and drops ignored PCs', () => {
    expect(
      parsePushBody({ data: { HG137PC01: { status: 'free' }, czpc1: { status: 'used' }, BibPC2: { event: 'logon' } } }, layout),
    ).toEqual([
      { pc: 'hg137pc01', state: 'wf', source: 'unknown' },
      { pc: 'bibpc2', state: 'wu', source: 'unknown' },
    ]);
    expect(parsePushBody({ datasource: 'log', data: {} }, layout)).toEqual([]);
  });
});

describe('bad push bodies', () => {
  it('refuses a body that is not an object, or has no object of PCs', () => {
    expect(refusal(null)).toEqual(['body: expected an object, got null']);
    expect(refusal([1])).toEqual(['body: expected an object, got a list']);
    expect(refusal('true')).toEqual(['body: expected an object, got the string "true"']);
    expect(refusal({ datasource: 'scan' })).toEqual(['data: expected an object of PCs, got nothing']);
    expect(refusal({ data: [] })).toEqual(['data: expected an object of PCs, got a list']);
    expect(refusal({ data: null })).toEqual(['data: expected an object of PCs, got null']);
    expect(refusal({ datasource: 7, data: 'x' })).toEqual([
      'datasource: expected a non-empty string, got the number 7',
      'data: expected an object of PCs, got the string "x"',
    ]);
  });

  it('refuses unknown states, events and sessions', () => {
    expect(refusal({ data: { hg137pc01: { status: 'sleepy' } } })).toEqual([
      'data.hg137pc01.status: unknown status "sleepy" (expected offline, free, used, unknown)',
    ]);
    expect(refusal({ data: { hg137pc01: { event: 'reboot' } } })).toEqual([
      'data.hg137pc01.event: unknown event "reboot" (expected logon, logoff)',
    ]);
    expect(refusal({ data: { hg137pc01: { status: 'free', session: 'macos' } } })).toEqual([
      'data.hg137pc01.session: unknown session "macos" (expected windows, linux)',
    ]);
    // A state name of porter's own is not a push status.
    expect(refusal({ data: { hg137pc01: { status: 'wf' } } })).toEqual([
      'data.hg137pc01.status: unknown status "wf" (expected offline, free, used, unknown)',
    ]);
  });

  it('refuses wrong types, with the place', () => {
    expect(refusal({ data: { hg137pc01: 'free' } })).toEqual([
      'data.hg137pc01: expected an object with an event or a status, got the string "free"',
    ]);
    expect(refusal({ data: { hg137pc01: { status: 1 } } })).toEqual([
      'data.hg137pc01.status: expected a string (offline, free, used, unknown), got the number 1',
    ]);
    expect(refusal({ data: { hg137pc01: { status: 'free', session: ['linux'] } } })).toEqual([
      'data.hg137pc01.session: expected a string (windows, linux), got a list',
    ]);
    expect(refusal({ data: { hg137pc01: { event: null } } })).toEqual([
      'data.hg137pc01.event: expected a string (logon, logoff), got null',
    ]);
    expect(refusal({ data: { hg137pc01: { session: 'linux' } } })).toEqual([
      'data.hg137pc01: needs an "event" (logon, logoff) or a "status" (offline, free, used, unknown)',
    ]);
  });

  it('refuses PC names that match no rule, empty names, and one PC named twice', () => {
    expect(refusal({ data: { hg137pc01: { status: 'free' }, 'lab pc.1': { status: 'free' } } })).toEqual([
      'data["lab pc.1"]: no room rule matches PC "lab pc.1"',
    ]);
    expect(refusal({ data: { '': { status: 'free' } } })).toEqual(['data[""]: a PC name cannot be empty']);
    expect(refusal({ data: { hg137pc01: { status: 'free' }, HG137PC01: { status: 'used' } } })).toEqual([
      'data.HG137PC01: same PC as "hg137pc01" (PC names are lower-cased)',
    ]);
  });

  it('lists every problem of a body at once, and its message names them', () => {
    let error: PushBodyError | undefined;
    try {
      parsePushBody({ data: { hg137pc01: { status: 'sleepy' }, hg137pc02: { status: 'free' }, x9: { event: 'logon' } } }, layout);
    } catch (e) {
      error = e as PushBodyError;
    }
    expect(error?.problems.map((p) => p.place)).toEqual(['data.hg137pc01.status', 'data.x9']);
    expect(error?.message).toBe(
      'data.hg137pc01.status: unknown status "sleepy" (expected offline, free, used, unknown); data.x9: no room rule matches PC "x9"',
    );
  });

  it('keeps the message short when a body has many problems', () => {
    const data = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`nowhere${i}`, { status: 'free' }]));
    let error: PushBodyError | undefined;
    try {
      parsePushBody({ data }, layout);
    } catch (e) {
      error = e as PushBodyError;
    }
    expect(error?.problems).toHaveLength(50);
    expect(error?.message.split('; ')).toHaveLength(21);
    expect(error?.message.endsWith('… and 30 more')).toBe(true);
  });
});
