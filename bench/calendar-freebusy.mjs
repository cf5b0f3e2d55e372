#!/usr/bin/env node
// Free/busy benchmark: one resource's busy time over a year from 1,000 recurring series (weekly,
// daily, monthly, in several IANA zones, with EXDATEs and moved instances, begun up to three years
// before the window), timed through the calendar engine as the resource agent calls it.
// Usage: node --import tsx bench/calendar-freebusy.mjs [series]
import { busyPeriods, occurrences, parseObject } from '../src/calendar/ical/index.ts';

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

/** Runs `f`, returning its wall-clock and CPU milliseconds (CPU time is steadier on a shared machine). */
function timed(f) {
  const cpu = process.cpuUsage();
  const start = performance.now();
  const value = f();
  const wall = performance.now() - start;
  const used = process.cpuUsage(cpu);
  return { value, wall, cpu: (used.user + used.system) / 1000 };
}

const texts = Array.from({ length: SERIES }, (_, i) => series(i));
const window = { start: Date.UTC(2026, 0, 1), end: Date.UTC(2027, 0, 1) };

const parsed = timed(() => texts.map((text) => parseObject(text)));
const objects = parsed.value;
const first = timed(() => busyPeriods(objects, window));
const busy = first.value;
const occurrencesInYear = objects.reduce((n, o) => n + occurrences(o, window).length, 0);
const repeats = Array.from({ length: 20 }, () => timed(() => busyPeriods(objects, window)));
const moved = Array.from({ length: 10 }, (_, r) =>
  timed(() => busyPeriods(objects, { start: window.start + (r + 1) * 86_400_000, end: window.end + (r + 1) * 86_400_000 })),
);
const median = (xs, key) => xs.map((x) => x[key]).sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const show = (label, wall, cpu) =>
  console.log(`  ${label.padEnd(44)} ${wall.toFixed(1).padStart(8)} ms wall ${cpu.toFixed(1).padStart(8)} ms CPU`);
console.log(
  `calendar free/busy: ${SERIES} recurring series, ${occurrencesInYear} occurrences in one year (${new Date(window.start).toISOString().slice(0, 10)} to ${new Date(window.end).toISOString().slice(0, 10)}), ${busy.length} merged busy periods`,
);
show(`parse ${SERIES} stored objects`, parsed.wall, parsed.cpu);
show('first free/busy (expand every series)', first.wall, first.cpu);
show('free/busy again, same window (median of 20)', median(repeats, 'wall'), median(repeats, 'cpu'));
show('free/busy, window moved a day (median of 10)', median(moved, 'wall'), median(moved, 'cpu'));
