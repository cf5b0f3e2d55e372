#!/usr/bin/env node
// Calendar figures: invitations per second a resource agent accepts end to end. Each invitation
// (an iMIP REQUEST for a free half hour) is delivered over LMTP into porter's mail hook, the mail
// plug hands it to the room's agent, the agent decides by its policies, records the booking and
// mails its REPLY, which is stored in the organizer's mailbox: the clock stops when every reply is there.
// Usage: npm run build && node bench/calendar-lmtp.mjs [invitations] [connections]
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Host, Logging, resolveConfig } from '../dist/index.js';
import { freePort } from './mail/peers.mjs';

const COUNT = Number(process.argv[2] ?? 500);
const CONNECTIONS = Number(process.argv[3] ?? 4);
const dir = await mkdtemp(join(process.cwd(), '.bench-calendar-'));
const quiet = Logging.create({ version: 1, root: { level: 'ERROR' } });

const lmtpPort = await freePort();
const document = {
  store: `sqlite:${join(dir, 'porter.db')}`,
  plugs: { email: { path: 'mail.MailPlug', config: { poll: 0.5 } } },
  channels: { room: { plug: 'email', source: 'room@example.org' } },
  hooks: {
    mail: {
      path: 'mail.MailHook',
      config: {
        domains: ['example.org'],
        smtp: { hostname: 'mx.example.org', listeners: [{ address: `127.0.0.1:${lmtpPort}`, mode: 'lmtp' }] },
        pop3: '127.0.0.1:0',
        'demo-users': { 'room@example.org': 'bench password', 'org@example.org': 'bench password' },
      },
    },
    calendar: {
      path: 'calendar.CalendarHook',
      config: { resources: { room: { channel: 'room', name: 'Bench room', tzid: 'Europe/Amsterdam', policies: [{ type: 'free' }] } } },
    },
  },
};
const config = await resolveConfig(document, { baseDir: dir });
const host = new Host(config, { logging: quiet, announce: false });
await host.open();
const mailboxes = host.hooks.get('mail').mailboxes;

const base = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate() + 14, 0, 0);
const stamp = (ms) =>
  new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
function invitation(i) {
  const start = base + i * 30 * 60_000;
  const cal = [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//porter bench//EN',
    'METHOD:REQUEST',
    'BEGIN:VEVENT',
    `UID:bench-${i}@example.net`,
    `DTSTAMP:${stamp(Date.now())}`,
    `DTSTART:${stamp(start)}`,
    `DTEND:${stamp(start + 30 * 60_000)}`,
    `SUMMARY:Bench meeting ${i}`,
    'ORGANIZER:mailto:org@example.org',
    'ATTENDEE;CUTYPE=ROOM;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:room@example.org',
    'END:VEVENT',
    'END:VCALENDAR',
  ].join('\r\n');
  return [
    'From: org@example.org',
    'To: room@example.org',
    `Subject: Bench meeting ${i}`,
    `Message-ID: <bench-${i}@example.net>`,
    'MIME-Version: 1.0',
    'Content-Type: multipart/alternative; boundary="b"',
    '',
    '--b',
    'Content-Type: text/plain',
    '',
    'You are invited.',
    '--b',
    'Content-Type: text/calendar; method=REQUEST; charset=utf-8',
    '',
    cal,
    '--b--',
    '',
  ].join('\r\n');
}

/** One LMTP session delivering `mails` one after another; resolves when the last is accepted. */
function lmtpSession(mails) {
  return new Promise((resolve, reject) => {
    const socket = connect(lmtpPort, '127.0.0.1');
    let buffer = '';
    let step = 0;
    let index = 0;
    const send = (line) => socket.write(`${line}\r\n`);
    const next = () => {
      if (index >= mails.length) {
        send('QUIT');
        step = 99;
        return;
      }
      step = 1;
      send('MAIL FROM:<org@example.org>');
    };
    socket.on('data', (chunk) => {
      buffer += chunk.toString();
      let end = buffer.indexOf('\r\n');
      while (end >= 0) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        end = buffer.indexOf('\r\n');
        if (line[3] === '-') continue;
        const code = Number(line.slice(0, 3));
        if (code >= 400) return reject(new Error(`LMTP: ${line}`));
        if (step === 0) {
          if (line.startsWith('220')) send('LHLO bench.test');
          else next();
        } else if (step === 1) {
          step = 2;
          send('RCPT TO:<room@example.org>');
        } else if (step === 2) {
          step = 3;
          send('DATA');
        } else if (step === 3) {
          step = 4;
          socket.write(`${mails[index].replace(/^\./gm, '..')}\r\n.\r\n`);
        } else if (step === 4) {
          index++;
          next();
        } else if (step === 99) {
          socket.end();
          resolve();
        }
      }
    });
    socket.on('error', reject);
  });
}

const mails = Array.from({ length: COUNT }, (_, i) => invitation(i));
const start = performance.now();
const cpu = process.cpuUsage();
const shares = Array.from({ length: CONNECTIONS }, (_, c) => mails.filter((_, i) => i % CONNECTIONS === c));
await Promise.all(shares.map(lmtpSession));
const delivered = performance.now();
for (;;) {
  const replies = (await mailboxes.snapshot('org@example.org')).messages.length;
  if (replies >= COUNT) break;
  if (performance.now() - start > 600_000) throw new Error(`only ${replies} of ${COUNT} replies after 10 minutes`);
  await new Promise((resolve) => setTimeout(resolve, 20));
}
const done = performance.now();
const used = process.cpuUsage(cpu);
const booked = await host.store
  .db()
  .selectFrom('calendar_occurrence')
  .select((eb) => eb.fn.countAll().as('n'))
  .executeTakeFirst();
await host.close();
await rm(dir, { recursive: true, force: true });

const seconds = (done - start) / 1000;
console.log(`calendar over LMTP: ${COUNT} invitations to one room, ${CONNECTIONS} LMTP connections`);
console.log(`  delivered over LMTP in ${((delivered - start) / 1000).toFixed(2)} s`);
console.log(
  `  every REPLY in the organizer's mailbox after ${seconds.toFixed(2)} s: ${(COUNT / seconds).toFixed(0)} invitations/s accepted end to end`,
);
console.log(`  bookings recorded: ${booked.n}; CPU ${((used.user + used.system) / 1000 / (done - start)).toFixed(2)} cores on average`);
