#!/usr/bin/env node
// Free/busy benchmark: one resource's busy time over a year from 1,000 recurring series (weekly,
// daily, monthly, in several IANA zones, with EXDATEs and moved instances, begun up to three years
// before the window), timed through the calendar engine as the resource agent calls it.
// Usage: node --import tsx bench/calendar-freebusy.mjs [series]
import { busyPeriods, parseObject } from '../src/calendar/ical/index.ts';

const SERIES = Number(process.argv[2] ?? 1000);
const ZONES = ['Europe/Berlin', 'America/New_York', 'Asia/Tokyo', 'Europe/London', 'Australia/Sydney', 'UTC'];
const RULES = [
  'FREQ=WEEKLY;BYDAY=MO,WE',
  'FREQ=WEEKLY;INTERVAL=2;BYDAY=TU',
  'FREQ=DAILY;INTERVAL=3',
  'FREQ=MONTHLY;BYDAY=2TH',
  'FREQ=WEEKLY;BYDAY=FR',
];
const pad = (n) => String(n).padStart(2, '0');
const local = (d) =>
  `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}T${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}00`;

function series(i) {
  const zone = ZONES[i % ZONES.length];
  const tz = zone === 'UTC' ? '' : `;TZID=${zone}`;
  const z = zone === 'UTC' ? 'Z' : '';
  const start = new Date(Date.UTC(2023 + (i % 3), i % 12, 1 + (i % 27), 7 + (i % 10), (i % 4) * 15));
  const end = new Date(start.getTime() + (30 + (i % 4) * 30) * 60_000);
  const lines = [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//bench//EN',
    'BEGIN:VEVENT',
    `UID:series-${i}@example.org`,
    'DTSTAMP:20260101T000000Z',
    `ORGANIZER:mailto:user${i % 50}@example.org`,
    'ATTENDEE;CUTYPE=ROOM;PARTSTAT=ACCEPTED:mailto:room@example.org',
    `DTSTART${tz}:${local(start)}${z}`,
    `DTEND${tz}:${local(end)}${z}`,
    `RRULE:${RULES[i % RULES.length]}`,
    ...(i % 10 === 0 ? ['STATUS:TENTATIVE'] : []),
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ];
  return lines.join('\r\n');
}

const texts = Array.from({ length: SERIES }, (_, i) => series(i));
const window = { start: Date.UTC(2026, 0, 1), end: Date.UTC(2027, 0, 1) };

let t = performance.now();
const objects = texts.map((text) => parseObject(text));
const parseMs = performance.now() - t;

t = performance.now();
const busy = busyPeriods(objects, window);
const firstMs = performance.now() - t;

const repeats = [];
for (let r = 0; r < 20; r++) {
  t = performance.now();
  busyPeriods(objects, window);
  repeats.push(performance.now() - t);
}
const moved = [];
for (let r = 1; r <= 10; r++) {
  const w = { start: window.start + r * 86_400_000, end: window.end + r * 86_400_000 };
  t = performance.now();
  busyPeriods(objects, w);
  moved.push(performance.now() - t);
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(
  `calendar free/busy: ${SERIES} recurring series, one year (${new Date(window.start).toISOString().slice(0, 10)} to ${new Date(window.end).toISOString().slice(0, 10)}), ${busy.length} busy periods`,
);
console.log(`  parse ${SERIES} stored objects:            ${parseMs.toFixed(1)} ms`);
console.log(`  first free/busy (expand every series):    ${firstMs.toFixed(1)} ms`);
console.log(`  free/busy again, same window (median 20): ${median(repeats).toFixed(1)} ms`);
console.log(`  free/busy, window moved a day (median 10): ${median(moved).toFixed(1)} ms`);
