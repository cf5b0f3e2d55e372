// The person and resource agents through real mail: what a person's agent learns of the organiser's
// free/busy, taking or turning down a counter-proposal received as organiser, and imip-agent's
// preferences where they change what is sent: LANG, CN, freebusy_bundling, freebusy_messages,
// incoming, organiser_replacement and the scheduling functions.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AMS, eventually, type MailHost, monday, openMailHost, unique } from './mail-host.js';

let m: MailHost;

beforeAll(async () => {
  m = await openMailHost({
    users: ['alice', 'bob', 'erin', 'org', 'carol', 'dave', 'alice.mail', 'bob.mail', 'erin.mail', 'late', 'raum', 'board'],
    agents: ['alice', 'bob', 'erin', 'late', 'raum', 'board'],
    calendar: {
      people: {
        alice: { channel: 'alice', name: 'Alice', forward: 'alice.mail@example.org', preferences: { TZID: AMS } },
        bob: {
          channel: 'bob',
          forward: 'bob.mail@example.org',
          preferences: {
            CN: 'Bob',
            TZID: AMS,
            LANG: 'de',
            incoming: 'summary-only',
            freebusy_messages: 'notify',
            organiser_replacement: 'never',
          },
        },
        erin: { channel: 'erin', forward: 'erin.mail@example.org', preferences: { incoming: 'summary-then-message' } },
      },
      resources: {
        // Only org books the board room (an imip-agent access control list).
        board: {
          channel: 'board',
          name: 'Board room',
          preferences: {
            scheduling_function: ['access_control_list', 'schedule_in_freebusy'],
            acl: 'decline\naccept organiser org@example.org',
          },
        },
        // Counter-proposes a time in working hours (imip-agent's schedule_corrected_in_freebusy).
        late: {
          channel: 'late',
          name: 'Late room',
          tzid: AMS,
          preferences: {
            scheduling_function: 'schedule_corrected_in_freebusy',
            permitted_times: 'mon-fri 08:00-18:00',
            freebusy_offers: 3600,
          },
        },
        raum: { channel: 'raum', tzid: AMS, preferences: { CN: 'Blauer Raum', LANG: 'de', freebusy_bundling: 'always' } },
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

interface Bookings {
  bookings: { uid: string; start: string; end: string; status: string }[];
}
const bookings = (id: string, week: string) =>
  m.api<Bookings>(
    `/api/calendar/resources/${id}/bookings?start=${week}T00:00:00Z&end=${new Date(Date.parse(`${week}T00:00:00Z`) + 14 * 86_400_000).toISOString()}`,
  );

/** Alice invites the late room at 20:00 on a Monday; it counter-proposes a time in its hours, which waits in alice's pending list. */
async function counterFromRoom(week: string): Promise<{ uid: string; proposed: { start: string; end: string } }> {
  const res = await m.api<{ uid: string }>('/api/calendar/invitations', 'POST', {
    from: 'alice',
    summary: 'Evening review',
    start: `${week}T19:00:00Z`,
    end: `${week}T20:00:00Z`,
    attendees: ['late@example.org', 'dave@example.org'],
  });
  expect(res.status).toBe(200);
  const uid = res.json.uid;
  const pending = await eventually("the room's counter-proposal in alice's pending list", async () => {
    const { json } = await m.api<{ pending: { uid: string; method: string; start: string; end: string }[] }>(
      `/api/calendar/people/alice/week?start=${week}`,
    );
    return json.pending.find((p) => p.uid === uid && p.method === 'COUNTER');
  });
  return { uid, proposed: { start: pending.start, end: pending.end } };
}

describe('a counter-proposal the person received as organiser', () => {
  it('taken: the event moves, every attendee gets a REQUEST with a higher SEQUENCE, and the room books it', async () => {
    const week = monday(6);
    const { uid, proposed } = await counterFromRoom(week);
    const local = new Date(proposed.start).toLocaleString('en-GB', { timeZone: AMS, weekday: 'short', hour: '2-digit', hour12: false });
    expect(local).toMatch(/^(Mon|Tue|Wed|Thu|Fri),? (0[89]|1[0-7])$/);
    expect((await bookings('late', week)).json.bookings.find((b) => b.uid === uid)?.status).toBe('HELD');

    const res = await m.api<{ sent: boolean }>(`/api/calendar/people/alice/pending/${encodeURIComponent(uid)}`, 'POST', {
      answer: 'ACCEPTED',
    });
    expect(res.status).toBe(200);
    const request = await m.itipFor('dave', uid, 'alice@example.org', 'REQUEST', (r) => r.sequence !== 0);
    expect(request.sequence).toBe(1);
    expect(request.dtstart).toBe(proposed.start.replace('.000Z', 'Z'));
    expect(request.attendees.map((a) => a.address).sort()).toEqual(['dave@example.org', 'late@example.org']);
    expect(request.attendees.every((a) => a.partstat === 'NEEDS-ACTION')).toBe(true);
    // The room takes its own proposal: the held slot becomes the booking, and alice's copy says so.
    const booked = await eventually('the booking confirmed', async () => {
      const b = (await bookings('late', week)).json.bookings.find((x) => x.uid === uid);
      return b?.status === 'CONFIRMED' ? b : undefined;
    });
    expect(booked.start).toBe(proposed.start);
    await eventually("the room's acceptance in alice's copy", async () => {
      const row = await m.calendar().agents.store.object('alice', uid);
      return row && row.sequence === 1 && /PARTSTAT=ACCEPTED[^\r\n]*(\r\n )?[^\r\n]*late@example\.org/i.test(row.ics.replace(/\r\n /g, ''))
        ? row
        : undefined;
    });
    expect((await m.calendar().agents.store.pending('alice')).map((p) => p.uid)).not.toContain(uid);
  }, 120_000);

  it('declined: a DECLINECOUNTER goes to the room, which frees the held slot; other answers are refused', async () => {
    const week = monday(7);
    const { uid } = await counterFromRoom(week);
    const wrong = await m.api<{ error: string }>(`/api/calendar/people/alice/pending/${encodeURIComponent(uid)}`, 'POST', {
      answer: 'TENTATIVE',
    });
    expect(wrong.status).toBe(409);
    expect(wrong.json.error).toMatch(/^answer: a counter-proposal is ACCEPTED or DECLINED/);
    const res = await m.api<{ sent: boolean }>(`/api/calendar/people/alice/pending/${encodeURIComponent(uid)}`, 'POST', {
      answer: 'DECLINED',
    });
    expect(res.status).toBe(200);
    await eventually('the held slot freed', async () =>
      (await bookings('late', week)).json.bookings.some((b) => b.uid === uid) ? undefined : true,
    );
  }, 120_000);
});

describe("imip-agent's preferences in the mail", () => {
  it('LANG de and CN: the room answers in German under its CN, with its free/busy bundled', async () => {
    const week = monday(8);
    const first = unique('de-a');
    await m.invite({ uid: first, attendees: ['raum@example.org'], summary: 'Sitzung', start: `${week}T10:00`, minutes: 60, tz: AMS });
    const accepted = await m.itipFor('org', first, 'raum@example.org');
    expect(accepted.attendees[0]?.partstat).toBe('ACCEPTED');
    expect(accepted.subject).toBe('Angenommen: Sitzung');
    expect(accepted.comment).toBe('Blauer Raum ist gebucht.');
    expect(accepted.from).toContain('Blauer Raum');
    const mail = (await m.mailFor('org')).find((x) => x.includes(first) && x.includes('Angenommen'));
    expect(mail).toContain('freebusy.ifb');
    const attached = /filename=freebusy\.ifb\r?\n\r?\n([A-Za-z0-9+/=\r\n]+)/.exec(mail ?? '')?.[1] ?? '';
    expect(Buffer.from(attached, 'base64').toString()).toMatch(/METHOD:PUBLISH[\s\S]*BEGIN:VFREEBUSY[\s\S]*FREEBUSY;FBTYPE=BUSY:/);

    const second = unique('de-b');
    await m.invite({ uid: second, attendees: ['raum@example.org'], summary: 'Zweite', start: `${week}T10:30`, minutes: 60, tz: AMS });
    const declined = await m.itipFor('org', second, 'raum@example.org');
    expect(declined.subject).toBe('Abgelehnt: Zweite');
    expect(declined.comment).toBe('Blauer Raum ist zu dieser Zeit bereits belegt.');
    // The record keeps the policy's own reason.
    const decision = (await m.calendar().agents.store.decisions('raum')).find((d) => d.uid === second);
    expect(decision?.reason).toMatch(/booked/);
  }, 120_000);

  it('incoming: a summary wrapping the mail by default, a German summary alone for bob', async () => {
    const week = monday(9);
    const uid = unique('incoming');
    await m.invite({
      uid,
      attendees: ['alice@example.org', 'bob@example.org'],
      summary: 'Planung',
      start: `${week}T09:00`,
      minutes: 30,
      tz: AMS,
    });
    const alices = await eventually("the summary in alice's mailbox", async () =>
      (await m.mailFor('alice.mail')).find((x) => x.includes(uid)),
    );
    expect(alices).toMatch(/Subject: Invitation: Planung/);
    expect(alices).toContain('org@example.org invites you to');
    expect(alices).toMatch(/Content-Type: message\/rfc822/);
    expect(alices).toContain('BEGIN:VCALENDAR');
    const bobs = await eventually("the summary in bob's mailbox", async () =>
      (await m.mailFor('bob.mail')).find((x) => x.includes('Planung') && x.includes('Einladung')),
    );
    expect(bobs).not.toContain('BEGIN:VCALENDAR');
    expect(bobs).not.toContain('message/rfc822');
  }, 120_000);

  it('freebusy_messages: free/busy mail is only recorded for alice, and passed on to bob (notify)', async () => {
    const week = monday(10);
    const day = week.replaceAll('-', '');
    const publish = (uid: string) =>
      [
        'BEGIN:VCALENDAR',
        'VERSION:2.0',
        'PRODID:-//t//EN',
        'METHOD:PUBLISH',
        'BEGIN:VFREEBUSY',
        `UID:${uid}`,
        'DTSTAMP:20260101T000000Z',
        `DTSTART:${day}T000000Z`,
        `DTEND:${day}T235900Z`,
        'ORGANIZER:mailto:carol@example.org',
        `FREEBUSY:${day}T090000Z/${day}T100000Z`,
        'END:VFREEBUSY',
        'END:VCALENDAR',
        '',
      ].join('\r\n');
    const uid = unique('fb-notify');
    await m.mail('carol@example.org', ['alice@example.org', 'bob@example.org'], publish(uid));
    const told = await eventually("the free/busy note in bob's mailbox", async () =>
      (await m.mailFor('bob.mail')).find((x) => x.includes('Frei/Belegt erhalten')),
    );
    expect(told).toContain('carol@example.org');
    // Alice recorded it (it shows in her view of carol) but was not sent it.
    await eventually("carol's free/busy recorded for alice", async () =>
      m.calendar().agents.store.freeBusyOf('alice', 'carol@example.org'),
    );
    const after = unique('after-fb');
    await m.invite({ uid: after, attendees: ['alice@example.org'], summary: 'Later', start: `${week}T15:00`, minutes: 30, tz: AMS });
    await eventually("the next mail in alice's mailbox", async () => (await m.mailFor('alice.mail')).find((x) => x.includes(after)));
    expect((await m.mailFor('alice.mail')).some((x) => x.includes(uid))).toBe(false);
  }, 120_000);

  it('organiser_replacement: an attendee may take the event over (attendee), a stranger may not; never for bob', async () => {
    const week = monday(11);
    const uid = unique('takeover');
    const base = { uid, summary: 'Handover', start: `${week}T11:00`, minutes: 60, tz: AMS };
    await m.invite({ ...base, attendees: ['alice@example.org', 'bob@example.org', 'dave@example.org'] });
    await eventually('the event stored for alice and bob', async () =>
      (await m.calendar().agents.store.object('alice', uid)) && (await m.calendar().agents.store.object('bob', uid)) ? true : undefined,
    );
    // A stranger (carol) is refused by both, with a REQUEST-STATUS answer.
    await m.invite({ ...base, sequence: 1, organizer: 'carol@example.org', attendees: ['alice@example.org'] });
    const refused = await m.itipFor('carol', 'REQUEST-STATUS', 'alice@example.org');
    expect(refused.requestStatus).toMatch(/^3\.7/);
    expect((await m.calendar().agents.store.object('alice', uid))?.organizer).toBe('org@example.org');
    // Dave, an attendee, takes it over: alice (attendee) follows, bob (never) refuses.
    await m.invite({ ...base, sequence: 2, organizer: 'dave@example.org', attendees: ['alice@example.org', 'bob@example.org'] });
    await eventually('alice following the new organizer', async () =>
      (await m.calendar().agents.store.object('alice', uid))?.organizer === 'dave@example.org' ? true : undefined,
    );
    await eventually("bob's refusal in the log", async () =>
      m.records.find((r) => r.agent === 'bob' && String(r.msg).includes('organiser_replacement: never')),
    );
    expect((await m.calendar().agents.store.object('bob', uid))?.organizer).toBe('org@example.org');
  }, 120_000);
});

describe('more preferences through mail', () => {
  it('incoming summary-then-message: a summary, then the mail itself', async () => {
    const week = monday(12);
    const uid = unique('erin');
    await m.invite({ uid, attendees: ['erin@example.org'], summary: 'Retro', start: `${week}T09:00`, minutes: 30, tz: AMS });
    const both = await eventually("the summary and the mail in erin's mailbox", async () => {
      const mails = (await m.mailFor('erin.mail')).filter((x) => x.includes(uid) || x.includes('Retro'));
      return mails.length >= 2 ? mails : undefined;
    });
    const summary = both.find((x) => /Subject: Invitation: Retro/.test(x));
    // The text is quoted-printable (it has typographic quotes): read it unwrapped.
    expect(summary?.replace(/=\r?\n/g, '')).toContain('org@example.org invites you to');
    expect(summary).not.toContain('BEGIN:VCALENDAR');
    expect(both.find((x) => x !== summary)).toContain('BEGIN:VCALENDAR');
  }, 120_000);

  it('an access control list (scheduling_function access_control_list): org may book the board room, carol may not', async () => {
    const week = monday(13);
    const mine = unique('acl-org');
    await m.invite({ uid: mine, attendees: ['board@example.org'], summary: 'Board', start: `${week}T09:00`, minutes: 60, tz: AMS });
    expect((await m.itipFor('org', mine, 'board@example.org')).attendees[0]?.partstat).toBe('ACCEPTED');
    const theirs = unique('acl-carol');
    await m.invite({
      uid: theirs,
      organizer: 'carol@example.org',
      attendees: ['board@example.org'],
      summary: 'Not yours',
      start: `${week}T11:00`,
      minutes: 60,
      tz: AMS,
    });
    const refused = await m.itipFor('carol', theirs, 'board@example.org');
    expect(refused.attendees[0]?.partstat).toBe('DECLINED');
    expect((await m.calendar().agents.store.decisions('board')).find((d) => d.uid === theirs)?.policy).toBe('who');
  }, 120_000);
});
