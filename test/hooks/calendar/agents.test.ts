// The calendar agents end to end: invitations made by Python's icalendar are mailed over SMTP and
// LMTP into porter; the agents' replies are fetched over POP3 and read back by icalendar; the HTTP
// API shows what was booked and lets a person answer; bad scheduling mail is refused and leaves nothing.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Host } from 'porter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCalendarCommand } from '../../../src/hooks/calendar/cli.js';
import type { CalendarHook } from '../../../src/hooks/calendar/index.js';
import type { MailHook } from '../../../src/hooks/mail/index.js';
import { MailUsers } from '../../../src/mail/auth/index.js';
import { type LogRecord, openHost, tempDir } from '../../helpers/host.js';
import { eventually as eventuallyWithin, freePort } from '../../helpers/wait.js';
import { ensureMailTools, popMessages } from '../../peers/mail-tools.js';
import { ensurePythonCalendar } from '../../peers/python-calendar.js';
import { type Invitation, mailCalendar, makeCalendar, type ParsedReply, readReply } from './itip.js';

const PASSWORD = 'calendar test password';

/** Mail goes through SMTP, the queue, the plug and back by POP3: on a loaded machine that takes a while. */
const eventually = <T>(what: string, probe: () => Promise<T | undefined>, ms = 45_000): Promise<T> => eventuallyWithin(what, probe, ms);
const USERS = ['alice', 'bob', 'room1', 'room2', 'room3', 'room4', 'van1', 'van2', 'vans', 'org', 'bob.mail'];
const NOT_AGENTS = ['org', 'bob.mail'];
const AMS = 'Europe/Amsterdam';

let dir: string;
let removeDir: () => Promise<void>;
let host: Host;
let records: LogRecord[];
let configFile: string;

function calendarConfig(): Record<string, unknown> {
  return {
    people: {
      alice: { channel: 'alice', name: 'Alice', preferences: { TZID: AMS, freebusy_sharing: true, freebusy_publishing: true } },
      bob: { channel: 'bob', name: 'Bob', forward: 'bob.mail@example.org' },
    },
    resources: {
      room1: { channel: 'room1', name: 'Room One', tzid: AMS, policies: [{ type: 'recurring', 'max-conflicts': 2 }, { type: 'free' }] },
      room2: { channel: 'room2', name: 'Room Two', tzid: AMS },
      room3: { channel: 'room3', name: 'Room Three', tzid: AMS, capacity: 2 },
      room4: {
        channel: 'room4',
        name: 'Room Four',
        tzid: AMS,
        policies: [{ type: 'hours', times: 'mon-fri 08:00-18:00', action: 'counter' }, { type: 'free' }],
        preferences: { freebusy_offers: 3600 },
      },
      van1: { channel: 'van1', kind: 'equipment', tzid: AMS },
      van2: { channel: 'van2', kind: 'equipment', tzid: AMS },
    },
    pools: { vans: { channel: 'vans', name: 'The vans', members: ['van1', 'van2'] } },
  };
}

function document(smarthostPort: number): Record<string, unknown> {
  return {
    http: { listen: '127.0.0.1:0' },
    plugs: { email: { path: 'mail.MailPlug', config: { poll: 0.2 } } },
    channels: Object.fromEntries(
      USERS.filter((u) => !NOT_AGENTS.includes(u)).map((u) => [u, { plug: 'email', source: `${u}@example.org` }]),
    ),
    hooks: {
      mail: {
        path: 'mail.MailHook',
        config: {
          domains: ['example.org'],
          smtp: {
            hostname: 'mx.example.org',
            listeners: [
              { address: '127.0.0.1:0', mode: 'smtp' },
              { address: '127.0.0.1:0', mode: 'lmtp' },
            ],
          },
          pop3: '127.0.0.1:0',
          outbound: { hostname: 'mx.example.org', smarthost: { host: '127.0.0.1', port: smarthostPort } },
        },
      },
      calendar: { path: 'calendar.CalendarHook', config: calendarConfig() },
    },
  };
}

const mailHook = () => host.hooks.get('mail') as MailHook;
const calendar = () => host.hooks.get('calendar') as CalendarHook;
const port = (mode: 'smtp' | 'lmtp') => mailHook().listeners.smtp.find((l) => l.mode === mode)!.port;

/** Mail fetched from each mailbox so far (POP3 deletes it; later looks add to it). */
const fetched = new Map<string, string[]>();
async function mailFor(user: string): Promise<string[]> {
  const got = await popMessages(mailHook().listeners.pop3[0]!.port, `${user}@example.org`, PASSWORD, { dele: true });
  const all = [...(fetched.get(user) ?? []), ...got];
  fetched.set(user, all);
  return all;
}

/** Each mail read by Python once. */
const replies = new Map<string, Promise<ParsedReply>>();
function parsed(mail: string): Promise<ParsedReply> {
  let reply = replies.get(mail);
  if (!reply) {
    reply = readReply(mail);
    replies.set(mail, reply);
  }
  return reply;
}

/** Waits for the iTIP message about `uid` (and matching `method`) in `user`'s mailbox, read by Python. */
async function replyFor(user: string, uid: string, from?: string, method = 'REPLY'): Promise<ParsedReply> {
  return eventually(`a ${method} for ${uid} in ${user}'s mailbox`, async () => {
    for (const mail of await mailFor(user)) {
      if (!mail.includes(uid)) continue;
      const reply = await parsed(mail);
      if (reply.method === method && (!from || reply.from.includes(from))) return reply;
    }
    return undefined;
  });
}

/** A Monday `weeks` weeks ahead, as YYYY-MM-DD. */
function monday(weeks: number): string {
  const now = new Date();
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 7 * weeks));
  d.setUTCDate(d.getUTCDate() - ((d.getUTCDay() + 6) % 7));
  return d.toISOString().slice(0, 10);
}

const unique = (what: string) => `${what}-${Math.random().toString(36).slice(2, 10)}@test`;

async function invite(inv: Omit<Invitation, 'organizer'> & { organizer?: string }, o: { lmtp?: boolean; from?: string } = {}) {
  const organizer = inv.organizer ?? 'org@example.org';
  const text = await makeCalendar({ ...inv, organizer });
  await mailCalendar({ port: port(o.lmtp ? 'lmtp' : 'smtp'), lmtp: o.lmtp, from: o.from ?? organizer, to: inv.attendees, calendar: text });
  return text;
}

async function api<T>(url: string, method: 'GET' | 'POST' = 'GET', body?: unknown): Promise<{ status: number; json: T; text: string }> {
  const res = await host.http!.app.inject({ method, url, ...(body !== undefined ? { payload: body as object } : {}) });
  return {
    status: res.statusCode,
    json: (String(res.headers['content-type'] ?? '').includes('json') ? res.json() : undefined) as T,
    text: res.body,
  };
}

interface Bookings {
  bookings: { uid: string; start: string; end: string; status: string; recurrenceId?: string }[];
  decisions: { uid: string; outcome: string; reason: string; policy: string }[];
}
const bookings = (id: string, start: string, days = 28) =>
  api<Bookings>(
    `/api/calendar/resources/${id}/bookings?start=${start}T00:00:00Z&end=${new Date(Date.parse(`${start}T00:00:00Z`) + days * 86_400_000).toISOString()}`,
  );

beforeAll(async () => {
  await Promise.all([ensureMailTools(), ensurePythonCalendar()]);
  ({ dir, remove: removeDir } = await tempDir());
  const doc = document(await freePort());
  ({ host, records } = await openHost(doc, dir));
  const users = new MailUsers(host.store);
  for (const u of USERS) await users.add(`${u}@example.org`, PASSWORD);
  configFile = join(dir, 'porter.json');
  await writeFile(configFile, JSON.stringify({ store: `sqlite:${join(dir, 'porter.db')}`, ...doc }));
}, 180_000);

afterAll(async () => {
  await host?.close();
  await removeDir?.();
});

describe('a resource agent', () => {
  it('accepts a weekly series in Europe/Amsterdam and books every date at the right UTC time', async () => {
    const uid = unique('series');
    const week = monday(3);
    await invite({
      uid,
      attendees: ['room1@example.org'],
      summary: 'Team meeting',
      start: `${week}T10:00`,
      minutes: 60,
      tz: AMS,
      rrule: { freq: 'weekly', count: 3 },
    });
    const reply = await replyFor('org', uid);
    expect(reply.attendees).toEqual([expect.objectContaining({ address: 'room1@example.org', partstat: 'ACCEPTED' })]);
    expect(reply.comment).toContain('Room One');
    const { json } = await bookings('room1', week);
    const mine = json.bookings.filter((b) => b.uid === uid);
    expect(mine).toHaveLength(3);
    // 10:00 in Amsterdam is 09:00 UTC in winter, 08:00 in summer.
    const offset =
      new Date(`${week}T12:00:00Z`).toLocaleString('en-GB', { timeZone: AMS, hour: '2-digit', hour12: false }) === '13' ? 9 : 8;
    expect(mine[0]!.start).toBe(`${week}T${String(offset).padStart(2, '0')}:00:00.000Z`);
    expect(json.decisions.find((d) => d.uid === uid)?.outcome).toBe('ACCEPTED');

    const feed = await api<never>('/calendar/bookings/room1@example.org.ics');
    expect(feed.status).toBe(200);
    expect(feed.text).toContain(`UID:${uid}`);
    const ifb = await api<never>('/calendar/freebusy/room1@example.org.ifb');
    expect(ifb.text).toContain('BEGIN:VFREEBUSY');
    expect(ifb.text).toMatch(/FREEBUSY[;:]/);
  }, 120_000);

  it('declines a request that clashes, says why, and records the decision', async () => {
    const week = monday(4);
    const first = unique('first');
    await invite({ uid: first, attendees: ['room1@example.org'], summary: 'Planning', start: `${week}T14:00`, minutes: 60, tz: AMS });
    expect((await replyFor('org', first)).attendees[0]?.partstat).toBe('ACCEPTED');
    const second = unique('clash');
    await invite({ uid: second, attendees: ['room1@example.org'], summary: 'Clash', start: `${week}T14:30`, minutes: 60, tz: AMS });
    const reply = await replyFor('org', second);
    expect(reply.attendees[0]?.partstat).toBe('DECLINED');
    expect(reply.comment).toMatch(/already booked/);
    const { json } = await bookings('room1', week, 7);
    expect(json.bookings.map((b) => b.uid)).not.toContain(second);
    expect(json.decisions[0]).toMatchObject({ uid: second, outcome: 'DECLINED', policy: 'free' });
  }, 120_000);

  it('declines only the clashing date of a series, as an override Python reads', async () => {
    const week = monday(5);
    const blocker = unique('blocker');
    const next = new Date(Date.parse(`${week}T00:00:00Z`) + 7 * 86_400_000).toISOString().slice(0, 10);
    await invite({ uid: blocker, attendees: ['room1@example.org'], summary: 'Blocker', start: `${next}T09:00`, minutes: 60, tz: AMS });
    expect((await replyFor('org', blocker)).attendees[0]?.partstat).toBe('ACCEPTED');
    const series = unique('partial');
    await invite({
      uid: series,
      attendees: ['room1@example.org'],
      summary: 'Weekly',
      start: `${week}T09:00`,
      minutes: 60,
      tz: AMS,
      rrule: { freq: 'weekly', count: 4 },
    });
    const reply = await replyFor('org', series);
    expect(reply.attendees[0]?.partstat).toBe('ACCEPTED');
    expect(reply.overrides).toEqual([expect.objectContaining({ partstat: 'DECLINED' })]);
    expect(reply.overrides[0]?.recurrenceId?.slice(0, 10)).toBe(next);
    const { json } = await bookings('room1', week, 35);
    expect(json.bookings.filter((b) => b.uid === series)).toHaveLength(3);
  }, 120_000);

  it('accepts exactly one of two overlapping requests that arrive together over LMTP', async () => {
    const week = monday(6);
    const a = unique('race-a');
    const b = unique('race-b');
    await Promise.all([
      invite({ uid: a, attendees: ['room2@example.org'], summary: 'Race A', start: `${week}T11:00`, minutes: 60, tz: AMS }, { lmtp: true }),
      invite({ uid: b, attendees: ['room2@example.org'], summary: 'Race B', start: `${week}T11:30`, minutes: 60, tz: AMS }, { lmtp: true }),
    ]);
    const answers = [await replyFor('org', a), await replyFor('org', b)].map((r) => r.attendees[0]?.partstat).sort();
    expect(answers).toEqual(['ACCEPTED', 'DECLINED']);
    const { json } = await bookings('room2', week, 7);
    expect(json.bookings.filter((x) => x.uid === a || x.uid === b)).toHaveLength(1);
  }, 120_000);

  it('ignores an older SEQUENCE and frees the time on CANCEL', async () => {
    const week = monday(7);
    const uid = unique('seq');
    await invite({
      uid,
      attendees: ['room2@example.org'],
      summary: 'Version two',
      start: `${week}T15:00`,
      minutes: 30,
      tz: AMS,
      sequence: 2,
    });
    await replyFor('org', uid);
    await invite({
      uid,
      attendees: ['room2@example.org'],
      summary: 'Version one',
      start: `${week}T16:00`,
      minutes: 30,
      tz: AMS,
      sequence: 1,
    });
    await eventually('the older request to be looked at', async () =>
      records.some((r) => r.uid === uid && String(r.msg).includes('older REQUEST')) ? true : undefined,
    );
    let { json } = await bookings('room2', week, 7);
    expect(json.bookings.filter((x) => x.uid === uid).map((x) => x.start)).toHaveLength(1);
    expect(
      (
        await api<{ bookings: { uid: string; summary: string }[] }>(`/api/calendar/resources/room2/bookings?start=${week}T00:00:00Z`)
      ).json.bookings.find((x) => x.uid === uid)?.summary,
    ).toBe('Version two');
    await invite({
      uid,
      method: 'CANCEL',
      attendees: ['room2@example.org'],
      summary: 'Version two',
      start: `${week}T15:00`,
      minutes: 30,
      tz: AMS,
      sequence: 3,
    });
    await eventually('the booking to be cancelled', async () => {
      ({ json } = await bookings('room2', week, 7));
      return json.bookings.some((x) => x.uid === uid) ? undefined : true;
    });
  }, 120_000);

  it('frees one date of a series when the organizer cancels it', async () => {
    const week = monday(15);
    const uid = unique('cancel-one');
    const base = { uid, attendees: ['room2@example.org'], summary: 'Standup', minutes: 15, tz: AMS };
    await invite({ ...base, start: `${week}T09:00`, rrule: { freq: 'daily', count: 3 } });
    expect((await replyFor('org', uid)).attendees[0]?.partstat).toBe('ACCEPTED');
    expect((await bookings('room2', week, 7)).json.bookings.filter((b) => b.uid === uid)).toHaveLength(3);
    const tuesday = new Date(Date.parse(`${week}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
    await invite({ ...base, method: 'CANCEL', start: `${tuesday}T09:00`, recurrenceId: `${tuesday}T09:00`, sequence: 1 });
    const left = await eventually('two dates left', async () => {
      const dates = (await bookings('room2', week, 7)).json.bookings.filter((b) => b.uid === uid);
      return dates.length === 2 ? dates : undefined;
    });
    expect(left.map((b) => b.start.slice(0, 10))).not.toContain(tuesday);
  }, 120_000);

  it('counter-proposes a time within its hours, and holds that slot for the organizer', async () => {
    const week = monday(14);
    const uid = unique('late');
    await invite({ uid, attendees: ['room4@example.org'], summary: 'Late call', start: `${week}T19:00`, minutes: 60, tz: AMS });
    const counter = await replyFor('org', uid, 'room4@example.org', 'COUNTER');
    expect(counter.comment).toBeTruthy();
    const proposed = Date.parse(counter.dtstart!);
    const local = new Date(proposed).toLocaleString('en-GB', { timeZone: AMS, weekday: 'short', hour: '2-digit', hour12: false });
    expect(local).toMatch(/^(Mon|Tue|Wed|Thu|Fri),? (0[89]|1[0-7])$/);
    const { json } = await bookings('room4', week, 14);
    expect(json.bookings.find((b) => b.uid === uid)).toMatchObject({ status: 'HELD', start: new Date(proposed).toISOString() });
    // Someone else asking for the held slot is turned away (or sent elsewhere).
    const other = unique('other');
    const at = new Date(proposed).toLocaleString('sv-SE', { timeZone: AMS }).slice(0, 16).replace(' ', 'T');
    await invite({ uid: other, attendees: ['room4@example.org'], summary: 'Other', start: at, minutes: 60, tz: AMS });
    const second = await eventually('an answer to the other request', async () => {
      for (const mail of await mailFor('org')) if (mail.includes(other)) return parsed(mail);
      return undefined;
    });
    expect(second.method === 'COUNTER' || second.attendees[0]?.partstat === 'DECLINED').toBe(true);
    if (second.method === 'COUNTER') expect(second.dtstart).not.toBe(counter.dtstart);
  }, 120_000);

  it('a pool passes the booking to a free member, which accepts', async () => {
    const week = monday(8);
    const first = unique('van-a');
    await invite({ uid: first, attendees: ['vans@example.org'], summary: 'Move A', start: `${week}T09:00`, minutes: 120, tz: AMS });
    const delegated = await replyFor('org', first, 'vans@example.org');
    expect(delegated.attendees[0]?.partstat).toBe('DELEGATED');
    expect((await replyFor('org', first, 'van1@example.org')).attendees[0]?.partstat).toBe('ACCEPTED');
    const second = unique('van-b');
    await invite({ uid: second, attendees: ['vans@example.org'], summary: 'Move B', start: `${week}T10:00`, minutes: 60, tz: AMS });
    expect((await replyFor('org', second, 'van2@example.org')).attendees[0]?.partstat).toBe('ACCEPTED');
  }, 120_000);
});

describe('a person agent', () => {
  it('lists an invitation as pending; the answer from the API goes out as mail from the person', async () => {
    const week = monday(3);
    const uid = unique('for-alice');
    await invite({
      uid,
      attendees: ['alice@example.org', 'bob@example.org'],
      summary: 'Lunch',
      start: `${week}T12:00`,
      minutes: 60,
      tz: AMS,
      rrule: { freq: 'daily', count: 2 },
    });
    interface Week {
      events: { uid: string; partstat: string; start: string }[];
      pending: { uid: string; method: string; organizer: string; recurring: boolean }[];
    }
    const pending = await eventually("the invitation in alice's pending list", async () => {
      const { json } = await api<Week>(`/api/calendar/people/alice/week?start=${week}`);
      return json.pending.find((p) => p.uid === uid);
    });
    expect(pending).toMatchObject({ method: 'REQUEST', organizer: 'org@example.org', recurring: true });
    const answered = await api<{ sent: boolean; messageId: string }>(
      `/api/calendar/people/alice/pending/${encodeURIComponent(uid)}`,
      'POST',
      {
        answer: 'ACCEPTED',
        comment: 'See you there',
      },
    );
    expect(answered.status).toBe(200);
    expect(answered.json.sent).toBe(true);
    const reply = await replyFor('org', uid, 'alice@example.org');
    expect(reply.attendees).toEqual([expect.objectContaining({ address: 'alice@example.org', partstat: 'ACCEPTED' })]);
    expect(reply.comment).toBe('See you there');
    const { json } = await api<Week>(`/api/calendar/people/alice/week?start=${week}`);
    expect(json.pending.map((p) => p.uid)).not.toContain(uid);
    expect(json.events.filter((e) => e.uid === uid).map((e) => e.partstat)).toEqual(['ACCEPTED', 'ACCEPTED']);

    const fb = await api<{ calendars: Record<string, unknown> }>(
      `/api/calendar/freebusy?who=alice@example.org,bob@example.org,nobody@else.test&start=${week}T00:00:00Z&end=${week}T23:59:00Z`,
    );
    expect(fb.json.calendars['alice@example.org']).toEqual([expect.objectContaining({ type: 'BUSY' })]);
    expect(fb.json.calendars['bob@example.org']).toEqual({ unknown: true });
    expect(fb.json.calendars['nobody@else.test']).toEqual({ unknown: true });
  }, 120_000);

  it("sends the person's invitation; the room's answer comes back into the person's schedule", async () => {
    const week = monday(9);
    const res = await api<{ uid: string; messageId: string }>('/api/calendar/invitations', 'POST', {
      from: 'alice',
      summary: 'Review',
      start: `${week}T13:00:00Z`,
      end: `${week}T14:00:00Z`,
      attendees: ['room3@example.org', 'bob@example.org'],
    });
    expect(res.status).toBe(200);
    const uid = res.json.uid;
    await eventually("room3's answer in alice's copy of the event", async () => {
      const row = await calendar().agents.store.object('alice', uid);
      return row && /ATTENDEE[^\r\n]*PARTSTAT=ACCEPTED[^\r\n]*(\r\n )?[^\r\n]*room3@example\.org/i.test(row.ics.replace(/\r\n /g, ''))
        ? row
        : undefined;
    });
    await eventually("the invitation in bob's pending list", async () =>
      (await calendar().agents.store.pending('bob')).find((p) => p.uid === uid),
    );
    // Bob reads his mail elsewhere: the invitation was passed on there, whole.
    await eventually("the invitation in bob's own mailbox", async () =>
      (await mailFor('bob.mail')).find((m) => m.includes(uid) && m.includes('BEGIN:VCALENDAR')),
    );
  }, 120_000);

  it("records the person's own invitation from a copy of the mail they sent", async () => {
    const week = monday(16);
    const uid = unique('own');
    await invite({
      uid,
      organizer: 'alice@example.org',
      attendees: ['bob@example.org', 'alice@example.org'],
      summary: 'Own idea',
      start: `${week}T10:00`,
      minutes: 60,
      tz: AMS,
    });
    const row = await eventually("the event in alice's schedule", async () => calendar().agents.store.object('alice', uid));
    expect(row.organizer).toBe('alice@example.org');
    expect((await calendar().agents.store.pending('alice')).map((p) => p.uid)).not.toContain(uid);
    await eventually("the invitation in bob's pending list", async () =>
      (await calendar().agents.store.pending('bob')).find((p) => p.uid === uid),
    );
  }, 120_000);

  it('answers a free/busy request when the person shares free/busy, and not otherwise', async () => {
    const week = monday(3);
    const uid = unique('fb');
    const request = (who: string) =>
      [
        'BEGIN:VCALENDAR',
        'VERSION:2.0',
        'PRODID:-//t//EN',
        'METHOD:REQUEST',
        'BEGIN:VFREEBUSY',
        `UID:${uid}-${who}`,
        'DTSTAMP:20260101T000000Z',
        `DTSTART:${week.replaceAll('-', '')}T000000Z`,
        `DTEND:${week.replaceAll('-', '')}T235900Z`,
        'ORGANIZER:mailto:org@example.org',
        `ATTENDEE:mailto:${who}@example.org`,
        'END:VFREEBUSY',
        'END:VCALENDAR',
        '',
      ].join('\r\n');
    await mailCalendar({ port: port('smtp'), from: 'org@example.org', to: ['bob@example.org'], calendar: request('bob') });
    await mailCalendar({ port: port('smtp'), from: 'org@example.org', to: ['alice@example.org'], calendar: request('alice') });
    const reply = await replyFor('org', `${uid}-alice`, 'alice@example.org');
    expect(reply.attendees[0]?.address).toBe('alice@example.org');
    expect(reply.freebusy.join(',')).toMatch(new RegExp(`${week.replaceAll('-', '')}T1[01]0000Z`));
    await eventually("bob's refusal to share in the log", async () =>
      records.find((r) => r.agent === 'bob' && String(r.msg).includes('freebusy_sharing is off')),
    );
    expect((await mailFor('org')).some((m) => m.includes(`${uid}-bob`))).toBe(false);
    expect((await api<never>('/calendar/freebusy/bob@example.org.ifb')).status).toBe(404);
    expect((await api<never>('/calendar/freebusy/alice@example.org.ifb')).text).toContain('BEGIN:VFREEBUSY');
  }, 120_000);

  it('refuses a REPLY from someone who is not the attendee it names, and changes nothing', async () => {
    const week = monday(10);
    const res = await api<{ uid: string }>('/api/calendar/invitations', 'POST', {
      from: 'alice',
      summary: 'Private',
      start: `${week}T08:00:00Z`,
      end: `${week}T09:00:00Z`,
      attendees: ['org@example.org'],
    });
    const uid = res.json.uid;
    const before = await calendar().agents.store.object('alice', uid);
    const forged = await makeCalendar({
      method: 'REPLY',
      uid,
      organizer: 'alice@example.org',
      attendees: ['org@example.org'],
      partstat: 'ACCEPTED',
      summary: 'Private',
      start: `${week}T08:00`,
      minutes: 60,
    });
    await mailCalendar({ port: port('smtp'), from: 'mallory@example.org', to: ['alice@example.org'], calendar: forged });
    await eventually('the refusal in the log', async () =>
      records.find((r) => r.uid === uid && String(r.msg).startsWith('calendar message refused')),
    );
    expect((await calendar().agents.store.object('alice', uid))?.ics).toBe(before?.ics);
  }, 120_000);

  it('checks the API input and names the field', async () => {
    expect(
      (
        await api<{ error: string }>('/api/calendar/invitations', 'POST', {
          from: 'alice',
          summary: 'x',
          start: 'soon',
          end: '2030-01-01T00:00:00Z',
          attendees: ['a@b.c'],
        })
      ).json.error,
    ).toMatch(/^start/);
    expect((await api<{ error: string }>('/api/calendar/people/nobody/week')).status).toBe(404);
    expect((await api<{ error: string }>('/api/calendar/people/alice/pending/none', 'POST', { answer: 'ACCEPTED' })).status).toBe(404);
    expect((await api<{ error: string }>('/api/calendar/people/alice/pending/none', 'POST', { answer: 'MAYBE' })).json.error).toMatch(
      /^answer/,
    );
    const agents = await api<{
      people: { id: string }[];
      resources: { id: string; policies: { type: string }[] }[];
      pools: { members: string[] }[];
    }>('/api/calendar/agents');
    expect(agents.json.people.map((p) => p.id)).toEqual(['alice', 'bob']);
    expect(agents.json.resources.find((r) => r.id === 'room2')?.policies).toEqual([{ type: 'free', capacity: 1 }]);
    expect(agents.json.pools[0]?.members).toEqual(['van1', 'van2']);
  });
});

describe('bad scheduling mail', () => {
  const cases: { name: string; calendar: (uid: string, week: string) => string; partMethod?: string; answered: boolean }[] = [
    {
      name: 'broken iCalendar (an unterminated VEVENT)',
      calendar: (uid, week) =>
        `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:${uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:${week.replaceAll('-', '')}T100000Z\r\nORGANIZER:mailto:org@example.org\r\nATTENDEE:mailto:room3@example.org\r\nEND:VCALENDAR\r\n`,
      answered: true,
    },
    {
      name: 'an unknown TZID',
      calendar: (uid, week) =>
        event(
          uid,
          `DTSTART;TZID=Mars/Olympus_Mons:${week.replaceAll('-', '')}T100000\r\nDTEND;TZID=Mars/Olympus_Mons:${week.replaceAll('-', '')}T110000\r\nORGANIZER:mailto:org@example.org\r\n`,
        ),
      answered: true,
    },
    {
      name: 'no UID',
      calendar: (_uid, week) =>
        event(
          undefined,
          `DTSTART:${week.replaceAll('-', '')}T100000Z\r\nDTEND:${week.replaceAll('-', '')}T110000Z\r\nORGANIZER:mailto:org@example.org\r\n`,
        ),
      answered: true,
    },
    {
      name: 'no ORGANIZER',
      calendar: (uid, week) => event(uid, `DTSTART:${week.replaceAll('-', '')}T100000Z\r\nDTEND:${week.replaceAll('-', '')}T110000Z\r\n`),
      answered: true,
    },
    {
      name: 'a METHOD at odds with the part (method=REQUEST, METHOD:CANCEL)',
      calendar: (uid, week) =>
        event(
          uid,
          `DTSTART:${week.replaceAll('-', '')}T100000Z\r\nDTEND:${week.replaceAll('-', '')}T110000Z\r\nORGANIZER:mailto:org@example.org\r\n`,
        ).replace('METHOD:REQUEST', 'METHOD:CANCEL'),
      partMethod: 'REQUEST',
      answered: false,
    },
  ];

  for (const c of cases) {
    it(`refuses ${c.name}: logged, answered where the protocol allows, nothing stored`, async () => {
      const week = monday(11);
      const uid = unique('bad');
      const text = c.calendar(uid, week);
      const before = (await calendar().agents.store.objects('room3')).length;
      const logged = records.length;
      await mailCalendar({
        port: port('smtp'),
        from: 'org@example.org',
        to: ['room3@example.org'],
        calendar: text,
        partMethod: c.partMethod,
      });
      const line = await eventually('the refusal in the log', async () =>
        records.slice(logged).find((r) => String(r.msg).startsWith('calendar message refused')),
      );
      expect(line.level).toBe(40);
      if (c.answered) {
        const reply = await replyFor('org', 'REQUEST-STATUS', 'room3@example.org');
        expect(reply.requestStatus).toMatch(/^[23]\.\d/);
        fetched.set(
          'org',
          (fetched.get('org') ?? []).filter((m) => !m.includes('REQUEST-STATUS')),
        );
      }
      expect((await calendar().agents.store.objects('room3')).length).toBe(before);
      expect((await bookings('room3', week, 7)).json.bookings).toEqual([]);
    }, 120_000);
  }

  it('refuses MIME nested too deeply, without stopping the agent', async () => {
    let body = 'BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n';
    let headers = 'Content-Type: text/calendar; method=REQUEST\r\n';
    for (let i = 0; i < 60; i++) {
      const boundary = `b${i}`;
      body = `--${boundary}\r\n${headers}\r\n${body}\r\n--${boundary}--\r\n`;
      headers = `Content-Type: multipart/mixed; boundary="${boundary}"\r\n`;
    }
    const mail = `From: org@example.org\r\nTo: room3@example.org\r\nSubject: deep\r\nMessage-ID: <deep@test>\r\nMIME-Version: 1.0\r\n${headers}\r\n${body}`;
    const logged = records.length;
    const { python } = await import('../../peers/python-calendar.js');
    await python(
      "import smtplib,sys\ns=smtplib.SMTP('127.0.0.1',int(sys.argv[1]));s.sendmail('org@example.org',['room3@example.org'],sys.stdin.read().encode());s.quit()",
      mail,
      [String(port('smtp'))],
    );
    await eventually('the refusal in the log', async () =>
      records.slice(logged).find((r) => String(r.msg).startsWith('calendar message refused')),
    );
    // The agent still works afterwards.
    const uid = unique('after-deep');
    await invite({ uid, attendees: ['room3@example.org'], summary: 'Still here', start: `${monday(12)}T10:00`, minutes: 30, tz: AMS });
    expect((await replyFor('org', uid)).attendees[0]?.partstat).toBe('ACCEPTED');
  }, 120_000);
});

describe('porter calendar handle --dry-run', () => {
  it('prints the reply it would send and stores nothing', async () => {
    const uid = unique('dry');
    const text = await makeCalendar({
      uid,
      organizer: 'org@example.org',
      attendees: ['room2@example.org'],
      summary: 'Dry',
      start: `${monday(13)}T10:00`,
      minutes: 30,
      tz: AMS,
    });
    const mail = `From: Org <org@example.org>\r\nTo: room2@example.org\r\nSubject: Dry\r\nMIME-Version: 1.0\r\nContent-Type: text/calendar; method=REQUEST; charset=utf-8\r\n\r\n${text}`;
    let out = '';
    let err = '';
    const code = await runCalendarCommand(['handle', '--dry-run', '--config', configFile], {
      stdin: [Buffer.from(mail)],
      stdout: { write: (s: string) => (out += s) },
      stderr: { write: (s: string) => (err += s) },
    });
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out).toContain('To: org@example.org');
    expect(out).toContain('METHOD:REPLY');
    expect(out).toMatch(/PARTSTAT=ACCEPTED/);
    expect(await calendar().agents.store.object('room2', uid)).toBeUndefined();
    expect((await calendar().agents.store.decisions('room2')).map((d) => d.uid)).not.toContain(uid);
  }, 120_000);
});

function event(uid: string | undefined, lines: string): string {
  return `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\n${uid ? `UID:${uid}\r\n` : ''}DTSTAMP:20260101T000000Z\r\nSUMMARY:Bad\r\n${lines}ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:room3@example.org\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n`;
}
