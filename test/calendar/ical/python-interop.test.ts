// porter's iCalendar against Debian's Python icalendar and recurring_ical_events: invitations
// written in Python parsed by porter, porter's replies read back in Python, and a year of
// recurring series expanded by both.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  busyPeriods,
  occurrences,
  parseItip,
  parseObject,
  writeCounter,
  writeFreeBusy,
  writeFreeBusyReply,
  writeReply,
  writeRequest,
} from '../../../src/calendar/ical/index.js';
import type { CalendarObject } from '../../../src/calendar/model.js';
import { ensurePythonCalendar, python } from '../../peers/python-calendar.js';

const SERIES = readFileSync(new URL('./fixtures/series.ics', import.meta.url), 'utf8');
const YEAR = { start: Date.UTC(2026, 0, 1), end: Date.UTC(2027, 0, 1) };

/** recurring_ical_events' view of a calendar: [uid, start, end] in UTC ISO form, sorted. */
const EXPAND = `
import sys, json, datetime
import icalendar, recurring_ical_events
cal = icalendar.Calendar.from_ical(sys.stdin.read())
start = datetime.datetime.fromisoformat(sys.argv[1])
end = datetime.datetime.fromisoformat(sys.argv[2])
def utc(v):
    if isinstance(v, datetime.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=datetime.timezone.utc)
        return v.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')
    return '%04d-%02d-%02dT00:00:00Z' % (v.year, v.month, v.day)
out = []
for e in recurring_ical_events.of(cal).between(start, end):
    s = e['DTSTART'].dt
    en = e['DTEND'].dt if 'DTEND' in e else s + e['DURATION'].dt
    out.append([str(e['UID']), utc(s), utc(en)])
print(json.dumps(sorted(out)))
`;

const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

async function pythonOccurrences(ics: string, window: { start: number; end: number }): Promise<string[][]> {
  return JSON.parse(await python(EXPAND, ics, [new Date(window.start).toISOString(), new Date(window.end).toISOString()])) as string[][];
}

function porterOccurrences(objects: readonly CalendarObject[], window: { start: number; end: number }): string[][] {
  return objects
    .flatMap((o) => occurrences(o, window).map((x) => [x.uid, iso(x.start), iso(x.end)]))
    .sort((a, b) => (a.join() < b.join() ? -1 : a.join() > b.join() ? 1 : 0));
}

/** The series file as porter's objects (through a PUBLISH, which needs no ORGANIZER checks beyond REQUEST's). */
function seriesObjects(ics: string): CalendarObject[] {
  return parseItip(ics.replace('VERSION:2.0\r\n', 'VERSION:2.0\r\nMETHOD:PUBLISH\r\n')).objects as CalendarObject[];
}

describe('porter and Python icalendar', () => {
  beforeAll(async () => {
    await ensurePythonCalendar();
  }, 600_000);

  it('expands a year of recurring series as recurring_ical_events does (DST, EXDATE, RDATE, overrides, all-day, Outlook zones)', async () => {
    const objects = seriesObjects(SERIES);
    expect(objects.map((o) => o.uid).sort()).toEqual([
      'allday-yearly@example.org',
      'daily-newyork@example.org',
      'outlook-zone@example.org',
      'single-utc@example.org',
      'tokyo-biweekly@example.org',
      'weekly-berlin@example.org',
    ]);
    const expected = await pythonOccurrences(SERIES, YEAR);
    const actual = porterOccurrences(objects, YEAR);
    expect(actual.length).toBeGreaterThan(200);
    expect(actual).toEqual(expected);
    // The DST changes are in there: 09:00 in Berlin is 08:00 UTC in winter and 07:00 UTC in summer.
    expect(actual).toContainEqual(['weekly-berlin@example.org', '2026-03-25T08:00:00Z', '2026-03-25T09:00:00Z']);
    expect(actual).toContainEqual(['weekly-berlin@example.org', '2026-04-06T07:00:00Z', '2026-04-06T08:00:00Z']);
    expect(actual).toContainEqual(['weekly-berlin@example.org', '2026-05-07T12:00:00Z', '2026-05-07T13:30:00Z']);
    expect(actual).not.toContainEqual(['weekly-berlin@example.org', '2026-03-30T07:00:00Z', '2026-03-30T08:00:00Z']);
  });

  it('agrees with recurring_ical_events over a window years after the series began', async () => {
    const window = { start: Date.UTC(2031, 2, 1), end: Date.UTC(2031, 11, 1) };
    expect(porterOccurrences(seriesObjects(SERIES), window)).toEqual(await pythonOccurrences(SERIES, window));
  });

  it('applies RANGE=THISANDFUTURE as the series split in two would be', async () => {
    const withFuture = SERIES.replace(
      'BEGIN:VEVENT\r\nUID:tokyo-biweekly',
      [
        'BEGIN:VEVENT',
        'UID:tokyo-biweekly@example.org',
        'DTSTAMP:20260101T120000Z',
        'ORGANIZER:mailto:dan@example.jp',
        'RECURRENCE-ID;RANGE=THISANDFUTURE;TZID=Asia/Tokyo:20260622T100000',
        'DTSTART;TZID=Asia/Tokyo:20260622T133000',
        'DTEND;TZID=Asia/Tokyo:20260622T150000',
        'END:VEVENT',
        'BEGIN:VEVENT\r\nUID:tokyo-biweekly',
      ].join('\r\n'),
    );
    // The same schedule as two series: the first until the instance before, the second from it on, 3.5 hours later and 1.5 hours long.
    const split = SERIES.replace(
      'RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH\r\n',
      'RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH;UNTIL=20260621T000000Z\r\n',
    ).replace(
      'END:VCALENDAR',
      [
        'BEGIN:VEVENT',
        'UID:tokyo-biweekly@example.org',
        'DTSTAMP:20260101T120000Z',
        'SUMMARY:Fortnightly sync',
        'DTSTART;TZID=Asia/Tokyo:20260622T133000',
        'DTEND;TZID=Asia/Tokyo:20260622T150000',
        'RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH',
        'END:VEVENT',
        'END:VCALENDAR',
      ].join('\r\n'),
    );
    const expected = await pythonOccurrences(split, YEAR);
    const actual = porterOccurrences(seriesObjects(withFuture), YEAR);
    expect(actual).toEqual(expected);
    expect(actual).toContainEqual(['tokyo-biweekly@example.org', '2026-06-22T04:30:00Z', '2026-06-22T06:00:00Z']);
    expect(actual).toContainEqual(['tokyo-biweekly@example.org', '2026-06-08T01:00:00Z', '2026-06-08T02:00:00Z']);
  });

  it('reads an invitation written by Python icalendar, with an IANA TZID and no VTIMEZONE', async () => {
    const text = await python(`
import datetime, sys, pytz
from icalendar import Calendar, Event, vCalAddress
tz = pytz.timezone('Europe/Berlin')
cal = Calendar()
cal.add('prodid', '-//Python icalendar//EN')
cal.add('version', '2.0')
cal.add('method', 'REQUEST')
e = Event()
e.add('uid', 'py-weekly@example.org')
e.add('summary', 'Planning')
e.add('dtstamp', datetime.datetime(2026, 3, 1, 8, 0, tzinfo=pytz.utc))
e.add('sequence', 3)
e.add('dtstart', tz.localize(datetime.datetime(2026, 3, 16, 10, 0)))
e.add('dtend', tz.localize(datetime.datetime(2026, 3, 16, 11, 0)))
e.add('rrule', {'freq': 'weekly', 'count': 4})
e.add('exdate', tz.localize(datetime.datetime(2026, 3, 23, 10, 0)))
org = vCalAddress('MAILTO:Organiser@Example.org')
org.params['cn'] = 'Organiser'
e['organizer'] = org
att = vCalAddress('mailto:room-1@example.org')
att.params['partstat'] = 'NEEDS-ACTION'
att.params['cutype'] = 'ROOM'
e.add('attendee', att)
cal.add_component(e)
sys.stdout.write(cal.to_ical().decode())
`);
    expect(text).not.toContain('BEGIN:VTIMEZONE');
    const message = parseItip(text);
    expect(message.method).toBe('REQUEST');
    const object = message.objects[0]!;
    expect(object).toMatchObject({ uid: 'py-weekly@example.org', sequence: 3, organizer: 'organiser@example.org', recurring: true });
    expect(object.attendees).toEqual([{ address: 'room-1@example.org', partstat: 'NEEDS-ACTION', cutype: 'ROOM' }]);
    expect(object.ics).toContain('BEGIN:VTIMEZONE');
    const found = occurrences(object, { start: Date.UTC(2026, 2, 1), end: Date.UTC(2026, 4, 1) }).map((o) => iso(o.start));
    // 16 March is CET (UTC+1); 30 March and 6 April are CEST (UTC+2); 23 March is excluded.
    expect(found).toEqual(['2026-03-16T09:00:00Z', '2026-03-30T08:00:00Z', '2026-04-06T08:00:00Z']);
    expect(parseObject(object.ics)).toMatchObject({ uid: object.uid, sequence: 3, instances: [] });
  });

  it('writes replies, counters and free/busy that Python icalendar reads back with METHOD, UID, SEQUENCE and PARTSTAT', async () => {
    const object = seriesObjects(SERIES).find((o) => o.uid === 'weekly-berlin@example.org')!;
    const declined = Date.UTC(2026, 5, 10, 7);
    const reply = writeReply({
      object,
      attendee: 'room@example.org',
      partstat: 'ACCEPTED',
      comment: 'Booked',
      declinedInstances: [declined],
    });
    const counter = writeCounter({
      object,
      attendee: 'room@example.org',
      period: { start: Date.UTC(2026, 0, 5, 10), end: Date.UTC(2026, 0, 5, 11) },
    });
    const busy = busyPeriods([object], YEAR);
    const fbReply = writeFreeBusyReply({
      request: {
        organizer: 'alice@example.org',
        attendees: ['room@example.org'],
        start: YEAR.start,
        end: YEAR.end,
        uid: 'fb-1',
        busy: [],
        ics: '',
      },
      attendee: 'room@example.org',
      busy,
    });
    const published = writeFreeBusy({ owner: 'room@example.org', name: 'Room 1', window: YEAR, busy, url: 'https://example.org/room.ifb' });
    const cancel = writeRequest(object, 'CANCEL');
    const READ = `
import sys, json
from icalendar import Calendar
out = []
for text in sys.stdin.read().split('\\x00'):
    cal = Calendar.from_ical(text)
    item = {'method': str(cal['METHOD']), 'prodid': str(cal['PRODID']), 'components': []}
    for c in cal.walk():
        if c.name not in ('VEVENT', 'VFREEBUSY'):
            continue
        atts = c.get('ATTENDEE', [])
        if not isinstance(atts, list):
            atts = [atts]
        fb = c.get('FREEBUSY', [])
        if not isinstance(fb, list):
            fb = [fb]
        item['components'].append({
            'name': c.name,
            'uid': str(c.get('UID')),
            'sequence': int(c.get('SEQUENCE', 0)),
            'recurrence_id': c['RECURRENCE-ID'].dt.isoformat() if 'RECURRENCE-ID' in c else None,
            'attendees': [[str(a), a.params.get('PARTSTAT')] for a in atts],
            'start': c['DTSTART'].dt.isoformat() if 'DTSTART' in c else None,
            'comment': str(c.get('COMMENT')) if 'COMMENT' in c else None,
            'status': str(c.get('STATUS')) if 'STATUS' in c else None,
            'freebusy': len(fb),
        })
    out.append(item)
print(json.dumps(out))
`;
    const read = JSON.parse(await python(READ, [reply, counter, fbReply, published, cancel].join('\x00'))) as {
      method: string;
      prodid: string;
      components: {
        name: string;
        uid: string;
        sequence: number;
        recurrence_id: string | null;
        attendees: string[][];
        start: string | null;
        comment: string | null;
        status: string | null;
        freebusy: number;
      }[];
    }[];
    const [r, c, f, p, x] = read;
    expect(r?.method).toBe('REPLY');
    expect(r?.prodid).toBe('-//porter//calendar//EN');
    const master = r?.components.find((e) => e.recurrence_id === null);
    expect(master).toMatchObject({ uid: object.uid, sequence: 2, attendees: [['mailto:room@example.org', 'ACCEPTED']], comment: 'Booked' });
    const instance = r?.components.find((e) => e.recurrence_id === '2026-06-10T09:00:00+02:00');
    expect(instance).toMatchObject({ uid: object.uid, sequence: 2, attendees: [['mailto:room@example.org', 'DECLINED']] });
    expect(c?.method).toBe('COUNTER');
    expect(c?.components[0]).toMatchObject({ uid: object.uid, sequence: 2, start: '2026-01-05T11:00:00+01:00' });
    expect(f?.method).toBe('REPLY');
    expect(f?.components[0]).toMatchObject({ name: 'VFREEBUSY', uid: 'fb-1', attendees: [['mailto:room@example.org', null]] });
    expect(f?.components[0]?.freebusy).toBe(busy.length);
    expect(p?.method).toBe('PUBLISH');
    expect(p?.components[0]?.freebusy).toBe(busy.length);
    expect(x?.method).toBe('CANCEL');
    expect(x?.components.every((e) => e.status === 'CANCELLED' && e.uid === object.uid)).toBe(true);
  });
});
