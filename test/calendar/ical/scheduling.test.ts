// Keeping an event up to date through iTIP: newer copies, replies, cancellations, additions, an
// attendee's own answer; the messages porter writes; and the free/busy the events make.
import { describe, expect, it } from 'vitest';
import {
  applyAdd,
  applyCancel,
  applyReply,
  busyPeriods,
  CalendarError,
  isNewer,
  occurrences,
  parseItip,
  parseObject,
  withPartstat,
  writeDeclineCounter,
  writeError,
  writeFeed,
  writeInvitation,
  writeRefresh,
  writeReply,
  writeRequest,
} from '../../../src/calendar/ical/index.js';
import type { CalendarObject } from '../../../src/calendar/model.js';

const crlf = (lines: readonly string[]) => `${lines.join('\r\n')}\r\n`;
/** The text of the VEVENT in `ics` that contains `line`. */
const veventWith = (ics: string, line: string) => ics.split('BEGIN:VEVENT').find((part) => part.includes(line)) ?? '';
const DAY = 86400_000;
const DECEMBER = { start: Date.UTC(2026, 11, 1), end: Date.UTC(2027, 0, 1) };

function event(method: string, lines: readonly string[], more: readonly string[][] = []): CalendarObject {
  const vevent = (body: readonly string[]) => [
    'BEGIN:VEVENT',
    'UID:s1@example.org',
    'ORGANIZER:mailto:org@example.org',
    ...body,
    'END:VEVENT',
  ];
  const text = crlf([
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//test//EN',
    `METHOD:${method}`,
    ...vevent(lines),
    ...more.flatMap(vevent),
    'END:VCALENDAR',
  ]);
  return parseItip(text).objects[0]!;
}

const SERIES = [
  'DTSTAMP:20261120T090000Z',
  'SEQUENCE:1',
  'ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:room@example.org',
  'ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:ann@example.org',
  'DTSTART;TZID=Europe/Berlin:20261207T100000',
  'DTEND;TZID=Europe/Berlin:20261207T110000',
  'RRULE:FREQ=DAILY;COUNT=5',
  'SUMMARY:Workshop',
];
const stored = () => event('REQUEST', SERIES);
const startsIn = (object: CalendarObject) => occurrences(object, DECEMBER).map((o) => new Date(o.start).toISOString().slice(0, 16));

describe('which copy is newer', () => {
  it('goes by SEQUENCE, then DTSTAMP', () => {
    const base = stored();
    const laterStamp = event(
      'REQUEST',
      SERIES.map((l) => l.replace('20261120T090000Z', '20261121T090000Z')),
    );
    const higherSequence = event(
      'REQUEST',
      SERIES.map((l) => l.replace('SEQUENCE:1', 'SEQUENCE:2').replace('20261120T090000Z', '20261101T090000Z')),
    );
    expect(isNewer(laterStamp, base)).toBe(true);
    expect(isNewer(base, laterStamp)).toBe(false);
    expect(isNewer(higherSequence, laterStamp)).toBe(true);
    expect(isNewer(laterStamp, higherSequence)).toBe(false);
    expect(isNewer(base, base)).toBe(false);
  });
});

describe('merging', () => {
  it("merges a REPLY's PARTSTAT for the series and for one instance", () => {
    const accepted = event('REPLY', ['DTSTAMP:20261121T090000Z', 'SEQUENCE:1', 'ATTENDEE;PARTSTAT=ACCEPTED:mailto:ann@example.org']);
    const merged = applyReply(stored(), accepted);
    expect(merged.attendees.find((a) => a.address === 'ann@example.org')?.partstat).toBe('ACCEPTED');
    expect(merged.attendees.find((a) => a.address === 'room@example.org')?.partstat).toBe('NEEDS-ACTION');
    const declinedOne = event('REPLY', [
      'DTSTAMP:20261121T100000Z',
      'SEQUENCE:1',
      'RECURRENCE-ID;TZID=Europe/Berlin:20261209T100000',
      'ATTENDEE;PARTSTAT=DECLINED:mailto:ann@example.org',
    ]);
    const perInstance = applyReply(merged, declinedOne);
    expect(perInstance.instances).toEqual([Date.UTC(2026, 11, 9, 9)]);
    expect(perInstance.attendees.find((a) => a.address === 'ann@example.org')?.partstat).toBe('ACCEPTED');
    expect(veventWith(perInstance.ics, 'RECURRENCE-ID;TZID=Europe/Berlin:20261209T100000')).toContain(
      'PARTSTAT=DECLINED:mailto:ann@example.org',
    );
    // The instance keeps its time; the series still has five occurrences.
    expect(startsIn(perInstance)).toEqual(startsIn(stored()));
  });

  it('refuses a REPLY from someone who is not an attendee with 3.7', () => {
    const stranger = event('REPLY', ['DTSTAMP:20261121T090000Z', 'ATTENDEE;PARTSTAT=ACCEPTED:mailto:mallory@example.org']);
    expect(() => applyReply(stored(), stranger)).toThrow(CalendarError);
    try {
      applyReply(stored(), stranger);
    } catch (error) {
      expect((error as CalendarError).status.code).toBe('3.7');
    }
  });

  it('cancels the whole event, one instance, or this and future instances', () => {
    expect(applyCancel(stored(), event('CANCEL', ['DTSTAMP:20261122T090000Z', 'SEQUENCE:2', 'STATUS:CANCELLED']))).toBeUndefined();
    const one = applyCancel(
      stored(),
      event('CANCEL', ['DTSTAMP:20261122T090000Z', 'SEQUENCE:2', 'RECURRENCE-ID;TZID=Europe/Berlin:20261208T100000']),
    );
    expect(startsIn(one!)).toEqual(['2026-12-07T09:00', '2026-12-09T09:00', '2026-12-10T09:00', '2026-12-11T09:00']);
    const future = applyCancel(
      stored(),
      event('CANCEL', ['DTSTAMP:20261122T090000Z', 'SEQUENCE:2', 'RECURRENCE-ID;RANGE=THISANDFUTURE;TZID=Europe/Berlin:20261210T100000']),
    );
    expect(startsIn(future!)).toEqual(['2026-12-07T09:00', '2026-12-08T09:00', '2026-12-09T09:00']);
    // An instance already overridden is cancelled in place and leaves the free/busy.
    const moved = event('REQUEST', SERIES, [
      [
        'DTSTAMP:20261120T090000Z',
        'RECURRENCE-ID;TZID=Europe/Berlin:20261209T100000',
        'DTSTART;TZID=Europe/Berlin:20261209T150000',
        'DTEND;TZID=Europe/Berlin:20261209T160000',
      ],
    ]);
    const cancelledMoved = applyCancel(
      moved,
      event('CANCEL', ['DTSTAMP:20261122T090000Z', 'RECURRENCE-ID;TZID=Europe/Berlin:20261209T100000']),
    );
    expect(startsIn(cancelledMoved!)).toEqual(['2026-12-07T09:00', '2026-12-08T09:00', '2026-12-10T09:00', '2026-12-11T09:00']);
    expect(cancelledMoved?.ics).toContain('STATUS:CANCELLED');
  });

  it('adds the instances of an ADD', () => {
    const added = applyAdd(
      stored(),
      event('ADD', [
        'DTSTAMP:20261122T090000Z',
        'SEQUENCE:2',
        'DTSTART;TZID=Europe/Berlin:20261214T140000',
        'DTEND;TZID=Europe/Berlin:20261214T150000',
      ]),
    );
    expect(startsIn(added)).toEqual([
      '2026-12-07T09:00',
      '2026-12-08T09:00',
      '2026-12-09T09:00',
      '2026-12-10T09:00',
      '2026-12-11T09:00',
      '2026-12-14T13:00',
    ]);
    expect(added.sequence).toBe(2);
    expect(parseObject(added.ics).sequence).toBe(2);
  });

  it("records an attendee's own answer with some instances declined", () => {
    const answered = withPartstat(stored(), 'Room@Example.org', 'ACCEPTED', [Date.UTC(2026, 11, 10, 9)]);
    expect(answered.attendees.find((a) => a.address === 'room@example.org')).toMatchObject({ partstat: 'ACCEPTED' });
    expect(answered.instances).toEqual([Date.UTC(2026, 11, 10, 9)]);
    expect(veventWith(answered.ics, 'RECURRENCE-ID;TZID=Europe/Berlin:20261210T100000')).toContain(
      'PARTSTAT=DECLINED:mailto:room@example.org',
    );
  });
});

describe('writing', () => {
  it('writes a REPLY with only the replying attendee, folded CRLF lines of at most 75 octets', () => {
    const long = event(
      'REQUEST',
      SERIES.map((l) => (l.startsWith('SUMMARY') ? `SUMMARY:${'Überlänge '.repeat(20)}` : l)),
    );
    const text = writeReply({
      object: long,
      attendee: 'room@example.org',
      partstat: 'TENTATIVE',
      comment: 'Pending approval',
      requestStatus: { code: '2.0', text: 'Success' },
    });
    expect(text.startsWith('BEGIN:VCALENDAR\r\n')).toBe(true);
    expect(text.split('\r\n').every((line) => Buffer.byteLength(line) <= 75)).toBe(true);
    expect(text).not.toMatch(/[^\r]\n/);
    const reply = parseItip(text);
    expect(reply.method).toBe('REPLY');
    expect(reply.objects[0]?.attendees).toEqual([{ address: 'room@example.org', partstat: 'TENTATIVE' }]);
    expect(reply.objects[0]).toMatchObject({
      uid: 's1@example.org',
      sequence: 1,
      organizer: 'org@example.org',
      summary: 'Überlänge '.repeat(20),
    });
    expect(reply.objects[0]!.dtstamp).toBeGreaterThan(Date.UTC(2026, 0, 1));
    expect(text).toContain('REQUEST-STATUS:2.0;Success');
    expect(text).toContain('PRODID:-//porter//calendar//EN');
  });

  it('writes REFRESH, DECLINECOUNTER, CANCEL and error replies that porter reads back', () => {
    const object = stored();
    expect(parseItip(writeRefresh({ object, attendee: 'ann@example.org' })).method).toBe('REFRESH');
    const decline = parseItip(writeDeclineCounter({ object, attendee: 'ann@example.org', comment: 'No' }));
    expect(decline.method).toBe('DECLINECOUNTER');
    expect(decline.objects[0]).toMatchObject({ uid: object.uid, sequence: 1 });
    const cancel = parseItip(writeRequest(object, 'CANCEL'));
    expect(cancel.method).toBe('CANCEL');
    expect(cancel.objects[0]?.status).toBe('CANCELLED');
    const error = writeError({
      uid: object.uid,
      organizer: 'org@example.org',
      attendee: 'room@example.org',
      status: { code: '3.7', text: 'Invalid calendar user' },
    });
    expect(parseItip(error).method).toBe('REPLY');
    expect(error).toContain('REQUEST-STATUS:3.7;Invalid calendar user');
    expect(
      parseItip(
        writeError({
          attendee: 'room@example.org',
          organizer: 'org@example.org',
          status: { code: '3.1', text: 'Invalid property value' },
          method: 'COUNTER',
        }),
      ).method,
    ).toBe('DECLINECOUNTER');
  });

  it('writes an invitation in a time zone and a feed of several events', () => {
    const { text, object } = writeInvitation({
      organizer: 'Org@Example.org',
      organizerName: 'Org',
      attendees: [{ address: 'room@example.org', name: 'Room', cutype: 'room' }],
      summary: 'Planning',
      start: Date.UTC(2026, 6, 1, 8),
      end: Date.UTC(2026, 6, 1, 9),
      tzid: 'Europe/Berlin',
    });
    expect(text).toContain('METHOD:REQUEST');
    expect(text).toContain('DTSTART;TZID=Europe/Berlin:20260701T100000');
    expect(text).toContain('BEGIN:VTIMEZONE');
    expect(object.attendees).toEqual([
      { address: 'room@example.org', name: 'Room', partstat: 'NEEDS-ACTION', role: 'REQ-PARTICIPANT', rsvp: true, cutype: 'ROOM' },
    ]);
    expect(occurrences(object, { start: Date.UTC(2026, 6, 1), end: Date.UTC(2026, 6, 2) })).toEqual([
      { uid: object.uid, start: Date.UTC(2026, 6, 1, 8), end: Date.UTC(2026, 6, 1, 9) },
    ]);
    const feed = writeFeed({ name: 'Room 1', objects: [object, stored()] });
    expect(feed).not.toContain('METHOD');
    expect(feed.match(/BEGIN:VEVENT/g)).toHaveLength(2);
    expect(feed.match(/TZID:Europe\/Berlin\r\n/g)).toHaveLength(1);
    expect(() => writeInvitation({ organizer: 'a@b.c', attendees: [], summary: 'x', start: 0, end: 1, tzid: 'Nowhere/Else' })).toThrow(
      CalendarError,
    );
  });
});

describe('free/busy', () => {
  const window = { start: Date.UTC(2026, 11, 7), end: Date.UTC(2026, 11, 14) };

  it('merges overlapping busy time, types tentative events, skips transparent and cancelled ones', () => {
    const a = event('REQUEST', ['DTSTAMP:20261120T090000Z', 'DTSTART:20261207T090000Z', 'DTEND:20261207T100000Z']);
    const b = event(
      'REQUEST',
      ['DTSTAMP:20261120T090000Z', 'DTSTART:20261207T093000Z', 'DTEND:20261207T110000Z'].map((l) => l),
    );
    const c = event('REQUEST', ['DTSTAMP:20261120T090000Z', 'DTSTART:20261207T110000Z', 'DTEND:20261207T113000Z', 'STATUS:TENTATIVE']);
    const free = event('REQUEST', ['DTSTAMP:20261120T090000Z', 'DTSTART:20261208T090000Z', 'DTEND:20261208T100000Z', 'TRANSP:TRANSPARENT']);
    const cancelled = event('PUBLISH', [
      'DTSTAMP:20261120T090000Z',
      'DTSTART:20261209T090000Z',
      'DTEND:20261209T100000Z',
      'STATUS:CANCELLED',
    ]);
    const distinct = (o: CalendarObject, uid: string) => parseObject(o.ics.replace(/UID:s1@example.org/g, `UID:${uid}`));
    const busy = busyPeriods([a, distinct(b, 'b'), distinct(c, 'c'), distinct(free, 'f'), distinct(cancelled, 'x')], window);
    expect(busy).toEqual([
      { start: Date.UTC(2026, 11, 7, 9), end: Date.UTC(2026, 11, 7, 11), type: 'BUSY' },
      { start: Date.UTC(2026, 11, 7, 11), end: Date.UTC(2026, 11, 7, 11, 30), type: 'BUSY-TENTATIVE' },
    ]);
  });

  it('leaves cancelled instances out and clips to the window; an unbounded series is cut at the window', () => {
    const daily = event(
      'REQUEST',
      ['DTSTAMP:20261120T090000Z', 'DTSTART:20200101T230000Z', 'DTEND:20200102T010000Z', 'RRULE:FREQ=DAILY'],
      [
        [
          'DTSTAMP:20261120T090000Z',
          'RECURRENCE-ID:20261209T230000Z',
          'DTSTART:20261209T230000Z',
          'DTEND:20261210T010000Z',
          'STATUS:CANCELLED',
        ],
      ],
    );
    const busy = busyPeriods([daily], window);
    expect(busy[0]).toEqual({ start: window.start, end: window.start + DAY / 24, type: 'BUSY' });
    expect(busy.at(-1)).toEqual({ start: window.end - DAY / 24, end: window.end, type: 'BUSY' });
    expect(busy).toHaveLength(7);
    expect(busy.some((p) => p.start === Date.UTC(2026, 11, 9, 23))).toBe(false);
    expect(occurrences(daily, window).map((o) => o.recurrenceId)).not.toContain(Date.UTC(2026, 11, 9, 23));
  });
});
