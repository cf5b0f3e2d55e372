#!/usr/bin/env node
// Web chat room figures through porter's real web server and real `ws` clients on loopback: the
// time for the webchat plug to create a room, the time from invite to join (invite sent → invite
// frame received → join answered), and the messages per second one room carries from one
// client to another (each message also handed to porter's host as a channel message).
// Usage: npm run build && node --import tsx bench/webchat-rooms.mjs [rooms] [messages]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Host, Logging, resolveConfig } from '../dist/index.js';
import { connected } from '../test/plugs/webchat/client.ts';
import { percentile } from './lib/stats.mjs';

const ROOMS = Number(process.argv[2] ?? 200);
const MESSAGES = Number(process.argv[3] ?? 20000);

const dir = await mkdtemp(join(tmpdir(), 'porter-bench-webchat-'));
const config = await resolveConfig(
  {
    store: `sqlite:${join(dir, 'porter.db')}`,
    http: { listen: '127.0.0.1:0' },
    // The frame rate limit is raised: the figure is what porter carries, not what it allows one client.
    plugs: { web: { path: 'webchat.WebChatPlug', config: { rate: 1_000_000 } } },
  },
  { baseDir: dir },
);
const host = new Host(config, { logging: Logging.create({ version: 1, root: { level: 'ERROR' } }), announce: false });
await host.open();
const plug = host.plugs.get('web');
const url = `${host.http.url.replace(/^http/, 'ws')}chat/ws`;
const client = await connected(url, { nick: 'client' });
const talker = await connected(url, { nick: 'talker' });

const ms = (start) => Number(process.hrtime.bigint() - start) / 1e6;
const createTimes = [];
const joinTimes = [];
let rate;
try {
  for (let i = 0; i < ROOMS; i++) {
    const password = `pw-${i}-${Math.random().toString(36).slice(2)}`;
    let start = process.hrtime.bigint();
    const channel = await plug.createRoom({ password, maxOccupants: 2, historyLength: 5 });
    createTimes.push(ms(start));

    start = process.hrtime.bigint();
    const invited = client.waitFor('an invitation', (f) => f.type === 'invite' && f.room === channel.source);
    await plug.invite(channel, client.address);
    const invitation = await invited;
    const outcome = await client.join(channel.source, invitation.password);
    if (outcome !== 'joined') throw new Error(`the client could not join ${channel.source}: ${outcome}`);
    joinTimes.push(ms(start));
    await plug.destroyRoom(channel);
  }

  const room = await plug.createRoom({ password: 'pw', historyLength: 20 });
  for (const c of [client, talker]) if ((await c.join(room.source, 'pw')) !== 'joined') throw new Error('cannot join the message room');
  let received = 0;
  const done = new Promise((resolve) => {
    client.socket.on('message', () => {
      if (++received === MESSAGES) resolve();
    });
  });
  const start = process.hrtime.bigint();
  for (let i = 0; i < MESSAGES; i++) talker.send({ type: 'say', room: room.source, text: `message ${i}` });
  await done;
  rate = MESSAGES / (ms(start) / 1000);
} finally {
  client.drop();
  talker.drop();
  await host.close();
  await rm(dir, { recursive: true, force: true });
}

const line = (label, values) =>
  console.log(
    `${label.padEnd(22)} p50 ${percentile(values, 50).toFixed(2)} ms   p99 ${percentile(values, 99).toFixed(2)} ms   (${values.length} rooms)`,
  );
console.log(`web chat rooms on loopback (${new Date().toISOString()})`);
line('create', createTimes);
line('invite + join', joinTimes);
console.log(`${'messages through a room'.padEnd(22)} ${Math.round(rate)} /s   (${MESSAGES} messages, one sender, one receiver)`);
