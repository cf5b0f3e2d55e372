// The person agent through real mail: what it learns of the organiser's free/busy from the
// requests it receives, and taking or turning down a counter-proposal it received as organiser.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AMS, eventually, type MailHost, monday, openMailHost, unique } from './mail-host.js';

let m: MailHost;

beforeAll(async () => {
  m = await openMailHost({
    users: ['alice', 'bob', 'org'],
    agents: ['alice', 'bob'],
    calendar: {
      people: {
        alice: { channel: 'alice', name: 'Alice', preferences: { TZID: AMS } },
        bob: { channel: 'bob', name: 'Bob', preferences: { TZID: AMS } },
      },
    },
  });
}, 180_000);

afterAll(async () => {
  await m?.close();
});

type FreeBusy = { calendars: Record<string, { unknown?: true; busy?: { start: string; end: string; type: string }[]; as?: string }> };

const freebusy = (who: string, week: string, as?: string) =>
  m.api<FreeBusy>(
    `/api/calendar/freebusy?who=${who}&start=${week}T00:00:00Z&end=${new Date(Date.parse(`${week}T00:00:00Z`) + 7 * 86_400_000).toISOString()}${as ? `&as=${as}` : ''}`,
  );

describe("the organiser's free/busy as a person's agent knows it", () => {
  it('a REQUEST makes the organiser busy then, a VFREEBUSY PUBLISH adds to it, a CANCEL frees the event', async () => {
    const week = monday(5);
    const uid = unique('org-busy');
    const day = week.replaceAll('-', '');
    await m.invite({ uid, attendees: ['alice@example.org'], summary: 'Talk', start: `${week}T10:00`, minutes: 60, tz: 'UTC' });
    await eventually("the invitation in alice's pending list", async () =>
      (await m.calendar().agents.store.pending('alice')).find((p) => p.uid === uid),
    );
    // Not shared: unknown without a viewer, and bob knows nothing of org.
    expect((await freebusy('org@example.org', week)).json.calendars['org@example.org']).toEqual({ unknown: true });
    expect((await freebusy('org@example.org', week, 'bob')).json.calendars['org@example.org']).toEqual({ unknown: true });
    expect((await freebusy('org@example.org', week, 'alice')).json.calendars['org@example.org']).toEqual({
      busy: [{ start: `${week}T10:00:00.000Z`, end: `${week}T11:00:00.000Z`, type: 'BUSY' }],
      as: 'alice',
    });
    expect((await freebusy('org@example.org', week, 'nobody')).status).toBe(404);

    const publish = [
      'BEGIN:VCALENDAR',
      'VERSION:2.0',
      'PRODID:-//t//EN',
      'METHOD:PUBLISH',
      'BEGIN:VFREEBUSY',
      `UID:${uid}-fb`,
      'DTSTAMP:20260101T000000Z',
      `DTSTART:${day}T000000Z`,
      `DTEND:${day}T235900Z`,
      'ORGANIZER:mailto:org@example.org',
      `FREEBUSY;FBTYPE=BUSY-TENTATIVE:${day}T140000Z/${day}T150000Z`,
      'END:VFREEBUSY',
      'END:VCALENDAR',
      '',
    ].join('\r\n');
    await m.mail('org@example.org', ['alice@example.org'], publish);
    const both = await eventually('the published free/busy', async () => {
      const busy = (await freebusy('org@example.org', week, 'alice')).json.calendars['org@example.org']?.busy;
      return busy && busy.length === 2 ? busy : undefined;
    });
    expect(both[1]).toEqual({ start: `${week}T14:00:00.000Z`, end: `${week}T15:00:00.000Z`, type: 'BUSY-TENTATIVE' });

    await m.invite({
      uid,
      method: 'CANCEL',
      attendees: ['alice@example.org'],
      summary: 'Talk',
      start: `${week}T10:00`,
      minutes: 60,
      tz: 'UTC',
      sequence: 1,
    });
    const left = await eventually('the cancelled event freed', async () => {
      const busy = (await freebusy('org@example.org', week, 'alice')).json.calendars['org@example.org']?.busy;
      return busy && busy.length === 1 ? busy : undefined;
    });
    expect(left[0]?.type).toBe('BUSY-TENTATIVE');
  }, 120_000);
});
