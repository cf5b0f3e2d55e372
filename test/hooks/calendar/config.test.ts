// The calendar hook's config as `porter check` sees it: every mistake named at its key; and the
// weeks of the web page in a person's time zone.
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../../src/core/config/index.js';
import { weekOf } from '../../../src/hooks/calendar/time.js';

function doc(calendar: Record<string, unknown>): Record<string, unknown> {
  return {
    plugs: { email: { path: 'mail.MailPlug' } },
    channels: {
      alice: { plug: 'email', source: 'alice@example.org' },
      room: { plug: 'email', source: 'room@example.org' },
      pool: { plug: 'email', source: 'pool@example.org' },
    },
    hooks: { calendar: { path: 'calendar.CalendarHook', config: calendar } },
  };
}

async function problems(calendar: Record<string, unknown>): Promise<string> {
  try {
    await resolveConfig(doc(calendar));
    return '';
  } catch (error) {
    return (error as Error).message;
  }
}

describe('calendar config', () => {
  it('accepts people, resources and a pool, with defaults filled in', async () => {
    const config = await resolveConfig(
      doc({
        people: { alice: { channel: 'alice', preferences: { TZID: 'Europe/Amsterdam' } } },
        resources: { room: { channel: 'room', capacity: 3 } },
        pools: { rooms: { channel: 'pool', members: ['room'] } },
      }),
    );
    const cfg = config.hooks[0]?.config as {
      people: { alice: { preferences: Record<string, unknown> } };
      resources: { room: { tzid: string; kind: string; preferences: Record<string, unknown> } };
      'window-ahead': number;
    };
    expect(cfg.people.alice.preferences).toMatchObject({
      participating: true,
      freebusy_sharing: false,
      add_method_response: 'refresh',
      TZID: 'Europe/Amsterdam',
    });
    expect(cfg.resources.room).toMatchObject({
      tzid: 'UTC',
      kind: 'room',
      preferences: { freebusy_sharing: true, freebusy_publishing: true },
    });
    expect(cfg['window-ahead']).toBe(365);
  });

  it.each([
    [{ people: { alice: { channel: 'nowhere' } } }, /people\.alice\.channel.*unknown channel "nowhere"/],
    [{ resources: { room: { channel: 'room', tzid: 'Mars/Base' } } }, /resources\.room\.tzid.*IANA time zone/],
    [
      { resources: { room: { channel: 'room', policies: [{ type: 'capacity', max: 0 }] } } },
      /resources\.room\.policies.*0.*max.*positive integer|resources\.room\.policies\[0\]\.max/,
    ],
    [{ resources: { room: { channel: 'room', policies: [{ type: 'teleport' }] } } }, /resources\.room\.policies.*policy type/],
    [{ pools: { p: { channel: 'pool', members: ['ghost'] } } }, /pools\.p\.members.*unknown resource "ghost"/],
    [{ people: { alice: { channel: 'alice' } }, resources: { room: { channel: 'alice' } } }, /resources\.room\.channel.*already alice's/],
    [
      { people: { alice: { channel: 'alice', preferences: { add_method_response: 'maybe' } } } },
      /people\.alice\.preferences\.add_method_response/,
    ],
    [{ people: { alice: { channel: 'alice', colour: 'blue' } } }, /people\.alice.*colour/],
  ])('names the key of a mistake (%#)', async (calendar, message) => {
    expect(await problems(calendar)).toMatch(message);
  });
});

describe('weeks in a time zone', () => {
  it('starts a week at local midnight on Monday, also across a DST change', () => {
    // 2026-10-25: Europe/Amsterdam goes from CEST (+2) to CET (+1).
    const week = weekOf('Europe/Amsterdam', '2026-10-19');
    expect(new Date(week.start).toISOString()).toBe('2026-10-18T22:00:00.000Z');
    expect(new Date(week.end).toISOString()).toBe('2026-10-25T23:00:00.000Z');
    const now = Date.parse('2026-11-26T12:00:00Z'); // a Thursday
    expect(new Date(weekOf('America/New_York', undefined, now).start).toISOString()).toBe('2026-11-23T05:00:00.000Z');
  });
});
