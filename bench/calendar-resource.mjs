#!/usr/bin/env node
// Calendar figures as a resource agent in a running porter sees them, store included:
// * a booking decision (an iMIP REQUEST handled whole: parsed, decided by the policies over the
//   bookings read from the store, booked and answered) for a room that already holds 10,000 events,
//   500 of them weekly series without end: p50/p99 over 2,000 requests;
// * the room's free/busy over a year with 1,000 weekly series booked, as the agent computes it and
//   as `GET /calendar/freebusy/ADDRESS.ifb` serves it over HTTP.
// Usage: npm run build && node bench/calendar-resource.mjs [events] [series] [decisions]
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Host, Logging, resolveConfig } from '../dist/index.js';
import { percentile } from './lib/stats.mjs';

const EVENTS = Number(process.argv[2] ?? 10_000);
const SERIES = Number(process.argv[3] ?? 500);
const DECISIONS = Number(process.argv[4] ?? 2_000);
const dir = await mkdtemp(join(process.cwd(), '.bench-calendar-'));
const quiet = Logging.create({ version: 1, root: { level: 'ERROR' } });
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const document = {
  store: `sqlite:${join(dir, 'porter.db')}`,
  http: { listen: '127.0.0.1:0' },
  plugs: { email: { path: 'mail.MailPlug', config: { poll: 60 } } },
  channels: { room: { plug: 'email', source: 'room@example.org' }, hall: { plug: 'email', source: 'hall@example.org' } },
  hooks: {
    mail: {
      path: 'mail.MailHook',
      config: {
        domains: ['example.org'],
        smtp: { hostname: 'mx.example.org', listeners: [{ address: '127.0.0.1:0', mode: 'lmtp' }] },
        pop3: '127.0.0.1:0',
        'demo-users': { 'room@example.org': 'bench password', 'hall@example.org': 'bench password', 'org@example.org': 'bench password' },
      },
    },
    calendar: {
      path: 'calendar.CalendarHook',
      config: {
        resources: {
          // A busy room: 4 bookings at once, working hours, a booking window, durations, recurring rules.
          room: {
            channel: 'room',
            tzid: 'Europe/Amsterdam',
            policies: [
              { type: 'who', domains: ['example.org'] },
              { type: 'window', days: 400 },
              { type: 'duration', min: 15, max: 480 },
              { type: 'recurring' },
              { type: 'counter' },
              { type: 'capacity', max: 4 },
            ],
          },
          // A hall that takes everything: the free/busy figure needs every series booked.
          hall: { channel: 'hall', tzid: 'Europe/Amsterdam', policies: [{ type: 'capacity', max: 100_000 }] },
        },
      },
    },
  },
};

const stamp = (ms) =>
  new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');

function mail(resource, uid, start, minutes, rrule) {
  const cal = [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//porter bench//EN',
    'METHOD:REQUEST',
    'BEGIN:VEVENT',
    `UID:${uid}`,
    `DTSTAMP:${stamp(Date.now())}`,
    `DTSTART:${stamp(start)}`,
    `DTEND:${stamp(start + minutes * 60_000)}`,
    ...(rrule ? [`RRULE:${rrule}`] : []),
    `SUMMARY:${uid}`,
    'ORGANIZER:mailto:org@example.org',
    `ATTENDEE;CUTYPE=ROOM;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:${resource}`,
    'END:VEVENT',
    'END:VCALENDAR',
  ].join('\r\n');
  return [
    'From: org@example.org',
    `To: ${resource}`,
    `Subject: ${uid}`,
    `Message-ID: <${uid}>`,
    'MIME-Version: 1.0',
    'Content-Type: text/calendar; method=REQUEST; charset=utf-8',
    '',
    cal,
    '',
  ].join('\r\n');
}

const ms = (n) => `${n.toFixed(2)} ms`;

const config = await resolveConfig(document, { baseDir: dir });
let host = new Host(config, { logging: quiet, announce: false });
await host.open();
try {
  const calendar = host.hooks.get('calendar');
  const agents = calendar.agents;
  const room = agents.byId.get('room');
  const hall = agents.byId.get('hall');
  const monday = (() => {
    const d = new Date();
    d.setUTCHours(8, 0, 0, 0);
    d.setUTCDate(d.getUTCDate() + ((8 - d.getUTCDay()) % 7) + 7);
    return d.getTime();
  })();
  const handle = (agent, uid, start, minutes, rrule) =>
    agents.handle(agent, { source: mail(agent.address, uid, start, minutes, rrule), sender: 'org@example.org', messageId: uid });

  // The room's existing bookings: 500 weekly series without end, the rest single events over a year.
  let seed = 42;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const slot = () => monday + Math.floor(random() * 300) * DAY + Math.floor(random() * 20) * 30 * 60_000;
  let t = performance.now();
  for (let i = 0; i < EVENTS; i++) {
    if (i < SERIES) await handle(room, `series-${i}@bench`, monday + (i % 5) * DAY + (i % 18) * 30 * 60_000, 60, 'FREQ=WEEKLY');
    else await handle(room, `event-${i}@bench`, slot(), 30 + Math.floor(random() * 4) * 30);
  }
  const loadSeconds = (performance.now() - t) / 1000;
  const occurrences = await agents.store.occurrences('room', monday - 60 * DAY, monday + 400 * DAY, Date.now());
  console.log(
    `room: ${EVENTS} events (${SERIES} weekly series without end) handled in ${loadSeconds.toFixed(1)} s; ${occurrences.length} occurrences stored`,
  );

  // Decisions on top of them.
  const outcomes = {};
  const times = [];
  for (let i = 0; i < DECISIONS; i++) {
    const recurring = i % 10 === 0;
    t = performance.now();
    const parts = await handle(room, `probe-${i}@bench`, slot(), 60, recurring ? 'FREQ=WEEKLY;COUNT=10' : undefined);
    times.push(performance.now() - t);
    const method = parts[0]?.method ?? 'none';
    const partstat = /PARTSTAT=([A-Z-]+)/.exec(parts[0]?.content ?? '')?.[1] ?? '';
    const key = method === 'REPLY' ? partstat : method;
    outcomes[key] = (outcomes[key] ?? 0) + 1;
  }
  times.sort((a, b) => a - b);
  console.log(
    `decision (REQUEST handled whole, store included), ${DECISIONS} requests (1 in 10 a series): p50 ${ms(percentile(times, 50))}, p99 ${ms(percentile(times, 99))}, max ${ms(times.at(-1))}`,
  );
  console.log(`  outcomes: ${JSON.stringify(outcomes)}`);

  // Free/busy over a year with 1,000 weekly series booked.
  for (let i = 0; i < 1000; i++)
    await handle(hall, `hall-series-${i}@bench`, monday + (i % 7) * DAY + (i % 24) * 20 * 60_000, 45, 'FREQ=WEEKLY');
  // The agent keeps 365 days ahead (`window-ahead`): a year from now is inside what it holds.
  const year = { start: Date.now(), end: Date.now() + 365 * DAY };
  const compute = [];
  for (let i = 0; i < 11; i++) {
    t = performance.now();
    const busy = await agents.busy(hall, year);
    compute.push(performance.now() - t);
    if (i === 0) console.log(`hall: 1000 weekly series, a year's free/busy = ${busy.length} busy periods`);
  }
  const address = host.http.app.server.address();
  const url = `http://127.0.0.1:${address.port}/calendar/freebusy/hall@example.org.ifb`;
  const served = [];
  let bytes = 0;
  for (let i = 0; i < 11; i++) {
    t = performance.now();
    const response = await fetch(url);
    const text = await response.text();
    served.push(performance.now() - t);
    if (!response.ok) throw new Error(`${url}: ${response.status} ${text}`);
    bytes = text.length;
  }
  const median = (list) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];
  console.log(`free/busy of the hall over a year: computed ${ms(median(compute))} (median of 11, first ${ms(compute[0])})`);
  console.log(`  GET .ifb over HTTP: ${ms(median(served))} (median of 11, first ${ms(served[0])}), ${bytes} bytes`);

  // After a restart the agent reads each resource's bookings in the background at start; the
  // first free/busy waits for that.
  await host.close();
  t = performance.now();
  host = new Host(config, { logging: quiet, announce: false });
  await host.open();
  const opened = performance.now() - t;
  const again = host.hooks.get('calendar').agents;
  t = performance.now();
  await again.busy(again.byId.get('hall'), year);
  console.log(
    `after a restart: open ${ms(opened)}, then the first free/busy of the hall ${ms(performance.now() - t)} (bookings read at start)`,
  );
} finally {
  await host.close();
  await rm(dir, { recursive: true, force: true });
}
