// The calendar's tables on SQLite and PostgreSQL: two agents deciding for the same room on one
// database (two porter instances on PostgreSQL) never both accept overlapping requests; what
// was decided survives a new instance; an older SEQUENCE never overwrites a newer one.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Agent, CalendarAgents } from '../../../src/hooks/calendar/agents.js';
import { CALENDAR_MIGRATION_OWNER, CalendarStore, calendarMigrations } from '../../../src/hooks/calendar/store.js';
import { Store } from '../../../src/services/store/index.js';
import { captureLogging, tempDir } from '../../helpers/host.js';
import { createTestDatabase } from '../../peers/postgres.js';

const ROOM: Agent = {
  id: 'room',
  kind: 'resource',
  address: 'room@example.org',
  name: 'Room',
  tzid: 'Europe/Amsterdam',
  prefs: {
    participating: true,
    freebusy_sharing: true,
    freebusy_publishing: true,
    freebusy_offers: 600,
    add_method_response: 'refresh',
    event_refreshing: 'always',
    LANG: 'en',
    freebusy_bundling: 'never',
    freebusy_messages: 'none',
    incoming: 'summary-wraps-message',
    organiser_replacement: 'attendee',
  },
  resourceKind: 'room',
  policies: [{ type: 'free', capacity: 1 }],
  members: [],
};

/** A Monday some weeks ahead, as YYYYMMDD. */
function day(weeks: number): string {
  const now = new Date();
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 7 * weeks));
  d.setUTCDate(d.getUTCDate() - ((d.getUTCDay() + 6) % 7));
  return d.toISOString().slice(0, 10).replaceAll('-', '');
}

function invitation(o: { uid: string; start: string; end: string; sequence?: number; summary?: string; rrule?: string }): string {
  const cal = [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//porter tests//EN',
    'METHOD:REQUEST',
    'BEGIN:VEVENT',
    `UID:${o.uid}`,
    `DTSTAMP:${day(0)}T000000Z`,
    `SEQUENCE:${o.sequence ?? 0}`,
    `DTSTART;TZID=Europe/Amsterdam:${o.start}`,
    `DTEND;TZID=Europe/Amsterdam:${o.end}`,
    ...(o.rrule ? [`RRULE:${o.rrule}`] : []),
    `SUMMARY:${o.summary ?? 'Meeting'}`,
    'ORGANIZER:mailto:org@example.org',
    'ATTENDEE;CUTYPE=ROOM;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:room@example.org',
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n');
  return [
    'From: org@example.org',
    'To: room@example.org',
    `Subject: ${o.summary ?? 'Meeting'}`,
    `Message-ID: <${o.uid}.mail@test>`,
    'MIME-Version: 1.0',
    'Content-Type: text/calendar; method=REQUEST; charset=utf-8',
    '',
    cal,
  ].join('\r\n');
}

// One porter process per SQLite file: there the requests race inside one instance; on PostgreSQL, between two.
const stores: [string, () => Promise<{ url: string; drop(): Promise<void> }>, number][] = [
  [
    'SQLite',
    async () => {
      const { dir, remove } = await tempDir();
      return { url: `sqlite:${join(dir, 'porter.db')}`, drop: remove };
    },
    1,
  ],
  ['PostgreSQL', createTestDatabase, 2],
];

describe.each(stores)('calendar tables on %s', (_name, makeStore, instances) => {
  let db: { url: string; drop(): Promise<void> };
  const opened: Store[] = [];

  async function instance(): Promise<CalendarAgents> {
    const { logging } = captureLogging('warn');
    const log = logging.get('porter.hook.calendar');
    const store = await Store.open(db.url, { baseDir: '/', log });
    opened.push(store);
    await store.migrate(CALENDAR_MIGRATION_OWNER, calendarMigrations);
    return new CalendarAgents({
      agents: [ROOM],
      store: new CalendarStore(store),
      log,
      windowBackDays: 7,
      windowAheadDays: 365,
      maxBytes: 1 << 20,
    });
  }

  beforeAll(async () => {
    db = await makeStore();
  }, 120_000);

  afterAll(async () => {
    for (const s of opened) await s.close();
    await db?.drop();
  });

  it(`${instances === 2 ? 'two instances accept' : 'one instance accepts'} exactly one of several overlapping requests that arrive at once`, async () => {
    const a = await instance();
    const b = instances === 2 ? await instance() : a;
    const date = day(2);
    const requests = Array.from({ length: 6 }, (_, i) => ({
      uid: `race-${i}-${Math.random().toString(36).slice(2)}@test`,
      start: `${date}T10${String(i * 5).padStart(2, '0')}00`,
      end: `${date}T11${String(i * 5).padStart(2, '0')}00`,
    }));
    const results = await Promise.all(
      requests.map((r, i) => (i % 2 ? a : b).handle(ROOM, { source: invitation(r), sender: 'org@example.org', messageId: r.uid })),
    );
    const partstats = results.map((parts) => /PARTSTAT=([A-Z-]+)/.exec(parts[0]?.content.replace(/\r\n /g, '') ?? '')?.[1]);
    expect(partstats.filter((p) => p === 'ACCEPTED')).toHaveLength(1);
    expect(partstats.filter((p) => p === 'DECLINED')).toHaveLength(5);
    const booked = await a.store.occurrences('room', 0, 8.64e15);
    expect(new Set(booked.map((r) => r.uid)).size).toBe(1);
    expect((await b.store.decisions('room')).filter((d) => requests.some((r) => r.uid === d.uid))).toHaveLength(6);
  }, 60_000);

  it('keeps bookings across instances, and an older SEQUENCE never overwrites a newer one', async () => {
    const first = await instance();
    const date = day(3);
    const uid = `seq-${Math.random().toString(36).slice(2)}@test`;
    const newer = await first.handle(ROOM, {
      source: invitation({ uid, start: `${date}T140000`, end: `${date}T150000`, sequence: 2, summary: 'Newer' }),
      sender: 'org@example.org',
    });
    expect(newer[0]?.content).toMatch(/PARTSTAT=ACCEPTED/);
    const second = await instance();
    const older = await second.handle(ROOM, {
      source: invitation({ uid, start: `${date}T160000`, end: `${date}T170000`, sequence: 1, summary: 'Older' }),
      sender: 'org@example.org',
    });
    expect(older).toEqual([]);
    const row = await second.store.object('room', uid);
    expect(row?.summary).toBe('Newer');
    expect(row?.sequence).toBe(2);
    const booked = (await second.store.occurrences('room', 0, 8.64e15)).filter((r) => r.uid === uid);
    expect(booked).toHaveLength(1);
    expect(new Date(Number(booked[0]?.start)).toISOString().slice(11, 13)).toMatch(/^1[23]$/); // 14:00 in Amsterdam
  }, 60_000);

  it("books every date of a weekly series with an RRULE in the room's time zone", async () => {
    const agents = await instance();
    const date = day(20);
    const uid = `weekly-${Math.random().toString(36).slice(2)}@test`;
    const parts = await agents.handle(ROOM, {
      source: invitation({ uid, start: `${date}T080000`, end: `${date}T090000`, rrule: 'FREQ=WEEKLY;COUNT=10' }),
      sender: 'org@example.org',
    });
    expect(parts[0]?.content).toMatch(/PARTSTAT=ACCEPTED/);
    const booked = (await agents.store.occurrences('room', 0, 8.64e15)).filter((r) => r.uid === uid);
    expect(booked).toHaveLength(10);
    // Each date at 08:00 local time: 07:00 or 06:00 UTC, whatever the DST on that date.
    for (const r of booked) {
      const local = new Date(Number(r.start)).toLocaleString('en-GB', {
        timeZone: 'Europe/Amsterdam',
        hour: '2-digit',
        minute: '2-digit',
        hour12: false,
      });
      expect(local).toBe('08:00');
    }
  }, 60_000);
});
