// imip-agent's preferences in the calendar config: their defaults, the mistakes named at their key,
// and the scheduling preferences (`scheduling_function`, `permitted_times`, `acl`) as the policies
// a resource then decides by.
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../../src/core/config/index.js';
import { agentsOf } from '../../../src/hooks/calendar/agent-list.js';
import type { CalendarConfig } from '../../../src/hooks/calendar/config.js';
import { formatPeriod, reasonIn } from '../../../src/hooks/calendar/lang.js';

function doc(calendar: Record<string, unknown>): Record<string, unknown> {
  return {
    plugs: { email: { path: 'mail.MailPlug' } },
    channels: {
      alice: { plug: 'email', source: 'alice@example.org' },
      room: { plug: 'email', source: 'room@rooms.example.org' },
      pool: { plug: 'email', source: 'pool@example.org' },
    },
    hooks: { calendar: { path: 'calendar.CalendarHook', config: calendar } },
  };
}

async function calendarOf(calendar: Record<string, unknown>): Promise<CalendarConfig> {
  return (await resolveConfig(doc(calendar))).hooks[0]?.config as CalendarConfig;
}

async function problems(calendar: Record<string, unknown>): Promise<string> {
  try {
    await resolveConfig(doc(calendar));
    return '';
  } catch (error) {
    return (error as Error).message;
  }
}

const sources: Record<string, string> = { alice: 'alice@example.org', room: 'room@rooms.example.org', pool: 'pool@example.org' };

async function roomPolicies(preferences: Record<string, unknown>): Promise<unknown> {
  const cfg = await calendarOf({ resources: { room: { channel: 'room', preferences } } });
  return agentsOf(cfg, (name) => sources[name]).find((a) => a.id === 'room')?.policies;
}

describe("imip-agent's preferences", () => {
  it("have imip-agent's defaults", async () => {
    const cfg = await calendarOf({ people: { alice: { channel: 'alice' } } });
    expect(cfg.people.alice?.preferences).toMatchObject({
      LANG: 'en',
      freebusy_bundling: 'never',
      freebusy_messages: 'none',
      incoming: 'summary-wraps-message',
      organiser_replacement: 'attendee',
    });
  });

  it('read LANG as a locale and CN as the name when there is no name', async () => {
    const cfg = await calendarOf({ people: { alice: { channel: 'alice', preferences: { LANG: 'de_DE.UTF-8', CN: 'Alice A.' } } } });
    expect(cfg.people.alice?.preferences.LANG).toBe('de');
    const [alice] = agentsOf(cfg, (name) => sources[name]);
    expect(alice?.name).toBe('Alice A.');
  });

  it.each([
    [
      { people: { alice: { channel: 'alice', preferences: { LANG: 'fr' } } } },
      /people\.alice\.preferences\.LANG.*expected a language porter writes: en, de, nl/,
    ],
    [{ people: { alice: { channel: 'alice', preferences: { incoming: 'summary' } } } }, /people\.alice\.preferences\.incoming/],
    [
      { people: { alice: { channel: 'alice', preferences: { organiser_replacement: 'anyone' } } } },
      /people\.alice\.preferences\.organiser_replacement/,
    ],
    [
      { people: { alice: { channel: 'alice', preferences: { freebusy_messages: 'notify' } } } },
      /people\.alice\.preferences\.freebusy_messages.*forward/,
    ],
    [
      { people: { alice: { channel: 'alice', preferences: { freebusy_bundling: 'always' } } } },
      /people\.alice\.preferences\.freebusy_bundling.*freebusy_sharing/,
    ],
    [
      { people: { alice: { channel: 'alice', preferences: { scheduling_function: 'schedule_in_freebusy' } } } },
      /people\.alice\.preferences\.scheduling_function.*only a resource/,
    ],
    [
      { resources: { room: { channel: 'room', policies: [{ type: 'free' }], preferences: { permitted_times: 'mon-fri 08:00-18:00' } } } },
      /resources\.room\.preferences\.permitted_times.*either policies or/,
    ],
    [
      { resources: { room: { channel: 'room', preferences: { permitted_times: 'someday 08:00-18:00' } } } },
      /resources\.room\.preferences\.permitted_times/,
    ],
    [
      { resources: { room: { channel: 'room', preferences: { scheduling_function: 'schedule_in_space' } } } },
      /resources\.room\.preferences\.scheduling_function.*unknown function "schedule_in_space"/,
    ],
    [
      { resources: { room: { channel: 'room', preferences: { scheduling_function: 'check_quota rooms' } } } },
      /resources\.room\.preferences\.scheduling_function.*quota policy/,
    ],
    [
      { resources: { room: { channel: 'room', preferences: { scheduling_function: 'schedule_corrected_in_freebusy' } } } },
      /scheduling_function.*needs permitted_times/,
    ],
    [
      { resources: { room: { channel: 'room', preferences: { scheduling_function: ['access_control_list'], acl: 'maybe' } } } },
      /resources\.room\.preferences\.acl.*first line/,
    ],
    [
      { resources: { room: { channel: 'room', preferences: { acl: 'accept' } } } },
      /resources\.room\.preferences\.acl.*access_control_list/,
    ],
  ])('name the key of a mistake (%#)', async (calendar, message) => {
    expect(await problems(calendar)).toMatch(message);
  });

  it('make scheduling functions, permitted times and an access list into policies, in the order porter decides', async () => {
    expect(await roomPolicies({ scheduling_function: 'schedule_in_freebusy 2' })).toEqual([{ type: 'free', capacity: 2 }]);
    expect(
      await roomPolicies({
        scheduling_function: 'same_domain_only\nschedule_corrected_in_freebusy\nschedule_next_available_in_freebusy',
        permitted_times: 'mon-fri 09:00-17:00',
      }),
    ).toMatchObject([
      { type: 'who', domains: ['rooms.example.org'] },
      { type: 'hours', action: 'counter' },
      { type: 'counter' },
      { type: 'free', capacity: 1 },
    ]);
    expect(await roomPolicies({ permitted_times: ['mon-fri 09:00-17:00'] })).toMatchObject([
      { type: 'hours', action: 'decline' },
      { type: 'free' },
    ]);
    expect(
      await roomPolicies({
        scheduling_function: ['access_control_list', 'schedule_in_freebusy'],
        acl: 'decline\naccept organiser boss@example.org\naccept organiser @example.org\ndecline organiser intern@example.org',
      }),
    ).toEqual([
      { type: 'who', allow: ['boss@example.org'], domains: ['example.org'], deny: ['intern@example.org'] },
      { type: 'free', capacity: 1 },
    ]);
    expect(await roomPolicies({ scheduling_function: 'access_control_list', acl: 'accept\nreject organiser spam@example.org' })).toEqual([
      { type: 'who', deny: ['spam@example.org'] },
      { type: 'free', capacity: 1 },
    ]);
  });
});

describe('replies in the agent language', () => {
  it('keeps the policy reason in English and writes German from the deciding rule', () => {
    const decision = { outcome: 'DECLINED' as const, policy: 'free', reason: 'Blue room is already booked then.' };
    expect(reasonIn('en', decision, 'Blue room', 'UTC')).toBe('Blue room is already booked then.');
    expect(reasonIn('de', decision, 'Blauer Raum', 'UTC')).toBe('Blauer Raum ist zu dieser Zeit bereits belegt.');
    expect(reasonIn('nl', decision, 'Blauwe kamer', 'UTC')).toBe('Blauwe kamer is op dat moment al bezet.');
    expect(reasonIn('nl', { outcome: 'ACCEPTED', policy: 'default', reason: '…', declinedInstances: [1, 2] }, 'Zaal', 'UTC')).toBe(
      'Zaal is geboekt, behalve op 2 datums.',
    );
    const counter = {
      outcome: 'COUNTER' as const,
      policy: 'hours',
      reason: '…',
      counter: { start: Date.parse('2026-11-23T08:00:00Z'), end: Date.parse('2026-11-23T09:00:00Z') },
    };
    expect(reasonIn('de', counter, 'Raum', 'Europe/Berlin')).toBe(
      `Raum schlägt ${formatPeriod('de', 'Europe/Berlin', counter.counter.start, counter.counter.end)} vor.`,
    );
    expect(formatPeriod('de', 'Europe/Berlin', counter.counter.start, counter.counter.end)).toMatch(
      /^Mo\., 23\. Nov\. 2026, 09:00–10:00 \(Europe\/Berlin\)$/,
    );
  });
});
