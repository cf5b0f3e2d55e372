// Reading iMIP mail and iTIP messages as real clients send them, and refusing broken ones with
// the REQUEST-STATUS a reply should carry.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CalendarError, calendarParts, occurrences, parseItip } from '../../../src/calendar/ical/index.js';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url));
const crlf = (lines: readonly string[]) => `${lines.join('\r\n')}\r\n`;

function calendar(method: string | undefined, event: readonly string[], extra: readonly string[] = []): string {
  return crlf([
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//test//EN',
    ...(method ? [`METHOD:${method}`] : []),
    ...extra,
    ...event,
    'END:VCALENDAR',
  ]);
}

const EVENT = [
  'BEGIN:VEVENT',
  'UID:e1@example.org',
  'DTSTAMP:20261123T090000Z',
  'SEQUENCE:1',
  'ORGANIZER:mailto:org@example.org',
  'ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:room@example.org',
  'DTSTART;TZID=Europe/Paris:20261201T100000',
  'DTEND;TZID=Europe/Paris:20261201T110000',
  'SUMMARY:Review',
  'END:VEVENT',
];

function statusOf(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    if (error instanceof CalendarError) return error.status.code;
    throw error;
  }
  throw new Error('no CalendarError');
}

async function asyncStatusOf(action: () => Promise<unknown>): Promise<string> {
  try {
    await action();
  } catch (error) {
    if (error instanceof CalendarError) return error.status.code;
    throw error;
  }
  throw new Error('no CalendarError');
}

describe('iMIP mail', () => {
  it('finds the base64 text/calendar part of an Exchange multipart/alternative invitation, with its method', async () => {
    const parts = await calendarParts(fixture('outlook-request.eml'));
    expect(parts).toHaveLength(1);
    expect(parts[0]?.method).toBe('REQUEST');
    const message = parseItip(parts[0]!.text);
    const object = message.objects[0]!;
    expect(object.uid).toBe('040000008200E00074C5B7101A82E00800000000A0B1C2D3E4F5A6B7C8D9E0F1A2B3C4D5');
    expect(object.summary).toBe('Quartalsplanung – Räume');
    expect(object.organizer).toBe('juergen@example.de');
    expect(object.attendees.map((a) => [a.address, a.name, a.role, a.rsvp])).toEqual([
      ['elbe@rooms.example.de', 'Raum Elbe', 'REQ-PARTICIPANT', true],
      ['ann@example.de', 'Ann', 'OPT-PARTICIPANT', true],
    ]);
    // The Windows zone comes with its VTIMEZONE: 10:00 in December is 09:00 UTC.
    expect(occurrences(object, { start: Date.UTC(2026, 11, 1), end: Date.UTC(2026, 11, 31) })).toEqual([
      { uid: object.uid, start: Date.UTC(2026, 11, 7, 9), end: Date.UTC(2026, 11, 7, 10, 30) },
    ]);
    expect(object.ics).toContain('TZID:W. Europe Standard Time');
  });

  it('finds a quoted-printable ISO-8859-1 REPLY inside multipart/mixed and the same calendar attached as invite.ics', async () => {
    const parts = await calendarParts(fixture('google-reply.eml'));
    expect(parts.map((p) => p.method)).toEqual(['REPLY', undefined]);
    for (const part of parts) {
      const message = parseItip(part.text);
      expect(message.method).toBe('REPLY');
      expect(message.objects[0]?.attendees).toEqual([
        { address: 'ann@example.de', name: 'Ann', partstat: 'ACCEPTED', role: 'OPT-PARTICIPANT', cutype: 'INDIVIDUAL' },
      ]);
    }
    expect(parts[0]?.text).toContain('CN=Jürgen Müller');
  });

  it('reads a mail whose whole body is the calendar', async () => {
    const mail = `From: a@example.org\r\nContent-Type: text/calendar; method="CANCEL"; charset=utf-8\r\n\r\n${calendar('CANCEL', EVENT)}`;
    const parts = await calendarParts(mail);
    expect(parts.map((p) => p.method)).toEqual(['CANCEL']);
    expect(parseItip(parts[0]!.text).method).toBe('CANCEL');
  });

  it('refuses oversized mail with 3.10', async () => {
    expect(await asyncStatusOf(() => calendarParts(Buffer.alloc(2048, 'a'), { maxBytes: 1024 }))).toBe('3.10');
  });

  it('refuses MIME nested too deeply with 3.10', async () => {
    let body = `Content-Type: text/calendar; method=REQUEST\r\n\r\n${calendar('REQUEST', EVENT)}`;
    for (let depth = 0; depth < 40; depth++) {
      body = `Content-Type: multipart/mixed; boundary="b${depth}"\r\n\r\n--b${depth}\r\n${body}\r\n--b${depth}--\r\n`;
    }
    expect(await asyncStatusOf(() => calendarParts(body))).toBe('3.10');
    expect(await calendarParts(body, { maxDepth: 50 })).toHaveLength(1);
  });

  it('refuses mail with too many parts with 3.10', async () => {
    const parts = Array.from({ length: 30 }, () => '--x\r\nContent-Type: text/plain\r\n\r\nhello\r\n').join('');
    const mail = `Content-Type: multipart/mixed; boundary=x\r\n\r\n${parts}--x--\r\n`;
    expect(await asyncStatusOf(() => calendarParts(mail, { maxParts: 10 }))).toBe('3.10');
  });
});

describe('iTIP messages', () => {
  it('groups VEVENTs by UID into objects with master and overrides', () => {
    const override = [
      'BEGIN:VEVENT',
      'UID:e1@example.org',
      'DTSTAMP:20261123T090000Z',
      'ORGANIZER:mailto:org@example.org',
      'RECURRENCE-ID;TZID=Europe/Paris:20261208T100000',
      'DTSTART;TZID=Europe/Paris:20261208T120000',
      'DTEND;TZID=Europe/Paris:20261208T130000',
      'END:VEVENT',
    ];
    const other = EVENT.map((l) => l.replace('e1@example.org', 'e2@example.org'));
    const recurring = EVENT.flatMap((l) => (l.startsWith('SUMMARY') ? [l, 'RRULE:FREQ=WEEKLY;COUNT=3'] : [l]));
    const message = parseItip(calendar('REQUEST', [...recurring, ...override, ...other]));
    expect(message.objects.map((o) => [o.uid, o.recurring, o.instances])).toEqual([
      ['e1@example.org', true, [Date.UTC(2026, 11, 8, 9)]],
      ['e2@example.org', false, []],
    ]);
    expect(message.objects[0]).toMatchObject({
      sequence: 1,
      dtstamp: Date.UTC(2026, 10, 23, 9),
      organizer: 'org@example.org',
      summary: 'Review',
    });
    expect(message.objects[0]?.ics).not.toContain('e2@example.org');
    expect(occurrences(message.objects[0]!, { start: Date.UTC(2026, 11, 1), end: Date.UTC(2027, 0, 1) }).map((o) => o.start)).toEqual([
      Date.UTC(2026, 11, 1, 9),
      Date.UTC(2026, 11, 8, 11),
      Date.UTC(2026, 11, 15, 9),
    ]);
  });

  it('reads a VFREEBUSY request', () => {
    const text = calendar('REQUEST', [
      'BEGIN:VFREEBUSY',
      'UID:fb@example.org',
      'DTSTAMP:20261123T090000Z',
      'ORGANIZER:mailto:org@example.org',
      'ATTENDEE:mailto:Room@Example.org',
      'DTSTART:20261201T000000Z',
      'DTEND:20261208T000000Z',
      'END:VFREEBUSY',
    ]);
    const message = parseItip(text);
    expect(message.objects).toEqual([]);
    expect(message.freebusy).toMatchObject({
      organizer: 'org@example.org',
      attendees: ['room@example.org'],
      start: Date.UTC(2026, 11, 1),
      end: Date.UTC(2026, 11, 8),
      uid: 'fb@example.org',
    });
  });

  it('refuses an unterminated component with 3.4', () => {
    expect(statusOf(() => parseItip(calendar('REQUEST', EVENT.slice(0, -1))))).toBe('3.4');
  });

  it('refuses bad dates with 3.5', () => {
    expect(
      statusOf(() =>
        parseItip(
          calendar(
            'REQUEST',
            EVENT.map((l) => l.replace('20261201T100000', '20261301T100000')),
          ),
        ),
      ),
    ).toBe('3.5');
    expect(
      statusOf(() =>
        parseItip(
          calendar(
            'REQUEST',
            EVENT.map((l) => l.replace('20261201T110000', '2026-12-01')),
          ),
        ),
      ),
    ).toBe('3.5');
    expect(
      statusOf(() =>
        parseItip(
          calendar(
            'REQUEST',
            EVENT.map((l) => l.replace('20261201T110000', '20261201T080000')),
          ),
        ),
      ),
    ).toBe('3.5');
  });

  it('refuses an unknown TZID with neither VTIMEZONE nor IANA zone with 3.3', () => {
    expect(
      statusOf(() =>
        parseItip(
          calendar(
            'REQUEST',
            EVENT.map((l) => l.replace('Europe/Paris', 'Mars/Olympus_Mons')),
          ),
        ),
      ),
    ).toBe('3.3');
  });

  it('refuses an invalid RRULE with 3.6', () => {
    expect(statusOf(() => parseItip(calendar('REQUEST', [...EVENT.slice(0, -1), 'RRULE:FREQ=FORTNIGHTLY', 'END:VEVENT'])))).toBe('3.6');
  });

  it('refuses a VEVENT without UID with 3.11', () => {
    expect(
      statusOf(() =>
        parseItip(
          calendar(
            'REQUEST',
            EVENT.filter((l) => !l.startsWith('UID')),
          ),
        ),
      ),
    ).toBe('3.11');
  });

  it('refuses a REQUEST without ORGANIZER with 3.11', () => {
    expect(
      statusOf(() =>
        parseItip(
          calendar(
            'REQUEST',
            EVENT.filter((l) => !l.startsWith('ORGANIZER')),
          ),
        ),
      ),
    ).toBe('3.11');
  });

  it('refuses a calendar without METHOD with 3.11, and an unknown METHOD with 3.14', () => {
    expect(statusOf(() => parseItip(calendar(undefined, EVENT)))).toBe('3.11');
    expect(statusOf(() => parseItip(calendar('SUGGEST', EVENT)))).toBe('3.14');
  });

  it('refuses a METHOD at odds with the content with 3.1', () => {
    // A REPLY speaks for one attendee; this one carries two.
    const twoAttendees = [...EVENT.slice(0, 5), 'ATTENDEE;PARTSTAT=ACCEPTED:mailto:ann@example.org', ...EVENT.slice(5)];
    expect(statusOf(() => parseItip(calendar('REPLY', twoAttendees)))).toBe('3.1');
    // A REQUEST that cancels the whole event.
    expect(statusOf(() => parseItip(calendar('REQUEST', [...EVENT.slice(0, -1), 'STATUS:CANCELLED', 'END:VEVENT'])))).toBe('3.1');
    // ADD does not apply to free/busy.
    const fb = [
      'BEGIN:VFREEBUSY',
      'DTSTAMP:20261123T090000Z',
      'ORGANIZER:mailto:org@example.org',
      'ATTENDEE:mailto:a@example.org',
      'DTSTART:20261201T000000Z',
      'DTEND:20261208T000000Z',
      'END:VFREEBUSY',
    ];
    expect(statusOf(() => parseItip(calendar('ADD', fb)))).toBe('3.1');
  });

  it('refuses a REPLY without the replying ATTENDEE with 3.11', () => {
    expect(
      statusOf(() =>
        parseItip(
          calendar(
            'REPLY',
            EVENT.filter((l) => !l.startsWith('ATTENDEE')),
          ),
        ),
      ),
    ).toBe('3.11');
  });

  it("gives the replying attendee's address, for checking it against the sender", () => {
    const reply = EVENT.map((l) => (l.startsWith('ATTENDEE') ? 'ATTENDEE;PARTSTAT=DECLINED:MAILTO:Room@Example.ORG' : l));
    const object = parseItip(calendar('REPLY', reply)).objects[0]!;
    expect(object.attendees).toEqual([{ address: 'room@example.org', partstat: 'DECLINED' }]);
  });
});
