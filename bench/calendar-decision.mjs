#!/usr/bin/env node
// Booking decision benchmark: a resource with 10,000 existing events (500 of them recurring
// series, expanded over a year into the booking index) decides single and recurring requests
// through a realistic policy list; prints p50/p99/max per decision.
// Usage: node --import tsx bench/calendar-decision.mjs [decisions] [events] [series]
import os from 'node:os';
import { decide, fromWall, MemoryBookingIndex, parsePolicies } from '../src/calendar/policy/index.ts';

const DECISIONS = Number(process.argv[2] ?? 5000);
const EVENTS = Number(process.argv[3] ?? 10_000);
const SERIES = Number(process.argv[4] ?? 500);
const TZ = 'Europe/Amsterdam';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const WINDOW = 365 * DAY;
const NOW = fromWall(2026, 11, 23, 9 * 60, TZ);

/** A repeatable pseudo-random sequence, so runs compare. */
let seed = 42;
function random() {
  seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
  return seed / 2_147_483_648;
}
const pick = (n) => Math.floor(random() * n);

/** A working-hours start on a weekday within `days` of now, on a quarter hour, local time. */
function workingStart(days) {
  for (;;) {
    const t = NOW + (1 + pick(days)) * DAY;
    const day = new Date(t + HOUR);
    if (day.getUTCDay() === 0 || day.getUTCDay() === 6) continue;
    return fromWall(day.getUTCFullYear(), day.getUTCMonth() + 1, day.getUTCDate(), 8 * 60 + pick(36) * 15, TZ);
  }
}

const organizers = Array.from({ length: 300 }, (_, i) => `user${i}@example.org`);

/** Occurrences of a series: weekly, daily on weekdays or every four weeks, over the year. */
function expand(uid, first, length, kind) {
  const out = [];
  const every = kind === 'daily' ? DAY : kind === 'weekly' ? 7 * DAY : 28 * DAY;
  for (let t = first; t < NOW + WINDOW; t += every) {
    const dow = new Date(t + HOUR).getUTCDay();
    if (kind === 'daily' && (dow === 0 || dow === 6)) continue;
    out.push({ uid, start: t, end: t + length, recurrenceId: t });
  }
  return out;
}

const bookings = [];
let occurrences = 0;
for (let i = 0; i < EVENTS; i++) {
  const uid = `event-${i}`;
  const organizer = organizers[pick(organizers.length)];
  const length = (2 + pick(7)) * 15 * 60_000;
  const start = workingStart(365);
  const list =
    i < SERIES
      ? expand(uid, start, length, i % 10 === 0 ? 'daily' : i % 10 < 8 ? 'weekly' : 'monthly')
      : [{ uid, start, end: start + length }];
  for (const o of list) bookings.push({ ...o, organizer, type: 'BUSY' });
  occurrences += list.length;
}
const built = performance.now();
const index = new MemoryBookingIndex(bookings);
const buildMs = performance.now() - built;

const policies = parsePolicies([
  { type: 'who', domains: ['example.org'], deny: ['blocked@example.org'] },
  { type: 'window', days: 180, action: 'clip' },
  { type: 'duration', min: 15, max: 480 },
  { type: 'hours', times: 'mon-fri 07:00-20:00', action: 'counter' },
  { type: 'recurring' },
  { type: 'quota', hours: 40, period: 'week' },
  { type: 'counter', horizon: 14 },
  { type: 'capacity', max: 4 },
]);
const ctx = { policies, bookings: index, resource: { address: 'hall@example.org', tzid: TZ, name: 'Main hall' } };

function request(i) {
  const uid = `request-${i}`;
  const organizer = i % 50 === 0 ? 'guest@elsewhere.org' : organizers[pick(organizers.length)];
  const length = (1 + pick(8)) * 15 * 60_000;
  const start = i % 25 === 0 ? NOW + pick(365) * DAY + pick(96) * 15 * 60_000 : workingStart(200);
  const recurring = i % 5 === 0;
  const occ = recurring ? expand(uid, start, length, i % 3 === 0 ? 'daily' : 'weekly') : [{ uid, start, end: start + length }];
  return { uid, sequence: 0, organizer, recurring, occurrences: occ, now: NOW };
}

const requests = Array.from({ length: DECISIONS + 200 }, (_, i) => request(i));
const outcomes = {};
for (const r of requests.slice(0, 200)) decide(r, ctx);
const times = [];
const cpu = [];
for (const r of requests.slice(200)) {
  const began = performance.now();
  const used = process.cpuUsage();
  const d = decide(r, ctx);
  const spent = process.cpuUsage(used);
  times.push(performance.now() - began);
  cpu.push((spent.user + spent.system) / 1000);
  outcomes[d.outcome] = (outcomes[d.outcome] ?? 0) + 1;
}
const figures = (list) => {
  list.sort((a, b) => a - b);
  const q = (p) => list[Math.min(list.length - 1, Math.floor(p * list.length))].toFixed(3);
  return `p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${list.at(-1).toFixed(3)} ms`;
};
console.log(
  `index: ${EVENTS} events (${SERIES} recurring series) = ${occurrences} occurrences over a year, built in ${buildMs.toFixed(0)} ms`,
);
console.log(`policies: ${policies.map((p) => p.type).join(', ')}`);
console.log(
  `decisions: ${times.length} (${Object.entries(outcomes)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')}), ${requests.filter((r) => r.recurring).length} of the requests recurring`,
);
console.log(`decide, wall clock: ${figures(times)}`);
// CPU time leaves out the waits of a machine shared with other work.
console.log(`decide, CPU time:   ${figures(cpu)} (load average ${os.loadavg()[0].toFixed(1)} on ${os.availableParallelism()} cores)`);
