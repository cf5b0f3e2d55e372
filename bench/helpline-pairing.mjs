#!/usr/bin/env node
// Helpline pairing on a loopback Prosody (xmpp mode) or on porter's own web chat (webchat mode):
// CLIENTS clients arrive within 10 s and STAFF staff members (real XMPP accounts, or web chat
// staff accounts) serve them one at a time; each client asks through the HTTP API, long-polls for
// the invite, joins the room with an anonymous connection (XMPP, or a `ws` WebSocket), says a line
// and leaves cleanly; the staff member leaves and asks for the next room. Prints whether every
// client was paired exactly once and in queue order, the time from a staff member becoming free
// (their room waiting) to the next waiting client's invite (p50/p99), porter's restart time with
// the live rooms recovered, and the time after a restart (of Prosody; on web chat, of porter,
// whose rooms are then gone) until a staff member waits in a room again.
// Usage: npm run build && node --import tsx bench/helpline-pairing.mjs [clients] [staff] [xmpp|webchat]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Host, Logging, resolveConfig } from '../dist/index.js';
import { ANON_DOMAIN, DOMAIN, MUC_DOMAIN, startProsody } from '../test/peers/prosody.ts';
import { connected } from '../test/plugs/webchat/client.ts';
import { TestClient } from '../test/plugs/xmpp/client.ts';

const CLIENTS = Number(process.argv[2] ?? 500);
const STAFF = Number(process.argv[3] ?? 50);
const MODE = process.argv[4] ?? 'xmpp';
if (MODE !== 'xmpp' && MODE !== 'webchat') throw new Error(`mode: expected xmpp or webchat, not ${MODE}`);
const ARRIVALS_MS = 10_000;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Closing a connection while the server still sends can throw inside the XMPP library; the
// figures are taken by then, so such late errors are reported, not fatal.
process.on('uncaughtException', (error) => console.error('late error:', error.message));
const prosody = MODE === 'xmpp' ? await startProsody() : undefined;
const dir = await mkdtemp(join(tmpdir(), 'porter-bench-helpline-'));
const staffIds = Array.from({ length: STAFF }, (_, i) => `s${i}`);
if (prosody) {
  await prosody.register('porterbot', 'bot-password');
  for (const id of staffIds) await prosody.register(id, `${id}-password`);
}

/** One person's chat connection, the same on either network: join, say, leave, stop. */
const xmppNet = {
  plug: () => ({
    path: 'xmpp.XmppPlug',
    config: { jid: `porterbot@${DOMAIN}`, password: 'bot-password', service: prosody.service, tls: 'none', muc: MUC_DOMAIN, timeout: 30 },
  }),
  staffAddress: (id) => ({ jid: `${id}@${DOMAIN}` }),
  async staff(id) {
    const c = await TestClient.connect(prosody.service, DOMAIN, id, `${id}-password`);
    return { join: (room, password) => c.join(room, id, password), leave: (room) => c.leave(room, id, 'Clean Exit'), stop: () => c.stop() };
  },
  async client() {
    const c = await TestClient.connect(prosody.service, ANON_DOMAIN);
    return {
      join: (room, password, nick) => c.join(room, nick, password),
      say: (room, text) => c.say(room, text),
      leave: (room, nick) => c.leave(room, nick, 'Clean Exit'),
      stop: () => c.stop(),
    };
  },
};

const wsUrl = () => `${base.replace(/^http/, 'ws')}/chat/ws`;
const webchatNet = {
  plug: () => ({
    path: 'webchat.WebChatPlug',
    // Every client comes from 127.0.0.1 and the limits are per address: raised for the bench.
    config: {
      staff: staffIds.map((id) => ({ username: id, password: `${id}-password` })),
      'sessions-per-ip': 100_000,
      rate: 1_000_000,
    },
  }),
  staffAddress: (id) => ({ address: `staff/${id}` }),
  async staff(id) {
    const c = await connected(wsUrl(), { username: id, password: `${id}-password` });
    return {
      join: (room, password) => c.join(room, password),
      leave: (room) => c.request({ type: 'leave', room }),
      stop: async () => c.drop(),
    };
  },
  async client() {
    const c = await connected(wsUrl());
    return {
      join: (room, password, nick) => c.join(room, password, nick),
      say: (room, text) => c.say(room, text),
      leave: (room) => c.request({ type: 'leave', room }),
      stop: async () => {
        c.send({ type: 'bye' });
        await c.waitFor('the bye', (f) => f.type === 'bye');
        c.drop();
      },
    };
  },
};
const net = MODE === 'xmpp' ? xmppNet : webchatNet;

const document = {
  store: `sqlite:${join(dir, 'porter.db')}`,
  http: { listen: '127.0.0.1:0' },
  plugs: { chat: net.plug() },
  hooks: {
    desk: {
      path: 'helpline.HelplineHook',
      config: {
        plug: 'chat',
        pool: { size: STAFF + 10 },
        'max-chats-per-staff': 1,
        upkeep: 1,
        'fingerprint-secret': 'bench-secret-0123456789',
        staff: Object.fromEntries(staffIds.map((id) => [id, { ...net.staffAddress(id), token: `${id}-token-0123456789abcdef` }])),
      },
    },
  },
};

async function openHost() {
  const config = await resolveConfig(document, { baseDir: dir });
  const host = new Host(config, { logging: Logging.create({ version: 1, root: { level: 'ERROR' } }), announce: false });
  await host.open();
  return host;
}

let host = await openHost();
let base = host.http.url.replace(/\/$/, '');
const desk = () => host.hooks.get('desk').desk;

async function api(method, path, token) {
  const response = await fetch(`${base}/api/helpline${path}`, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: response.status, body: await response.json() };
}

async function waitFor(check, what, ms = 120_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await sleep(20);
  }
}

let stopStaff = false;
const staffConnections = [];

async function staffLoop(id) {
  const chat = await net.staff(id);
  staffConnections.push(chat);
  const token = `${id}-token-0123456789abcdef`;
  while (!stopStaff) {
    const answer = await api('POST', `/staff/${id}/available`, token);
    if (answer.status !== 200) {
      await sleep(50);
      continue;
    }
    const { room, password } = answer.body;
    if ((await chat.join(room, password)) !== 'joined') throw new Error(`${id} cannot join ${room}`);
    // Served once the client has come and gone.
    const ended = await waitFor(
      async () => {
        if (stopStaff) return 'stop';
        const row = await desk().store.room(room);
        return row && ['closingChat', 'lost', 'toDestroy'].includes(row.state) ? row.state : undefined;
      },
      `${id}'s client`,
      600_000,
    );
    if (ended === 'stop') return;
    await chat.leave(room);
  }
}

async function clientRun(i) {
  await sleep((i * ARRIVALS_MS) / CLIENTS);
  const asked = await api('POST', '/queue');
  if (asked.status !== 201) throw new Error(`client ${i} was not queued: ${JSON.stringify(asked.body)}`);
  let view = asked.body;
  while (view.status === 'waiting') view = (await api('GET', `/queue/${asked.body.ticket}?wait=20&position=${view.position}`)).body;
  if (view.status !== 'invited') throw new Error(`client ${i}: ${JSON.stringify(view)}`);
  const chat = await net.client();
  if ((await chat.join(view.room, view.password, view.nick)) !== 'joined') throw new Error(`client ${i} cannot join`);
  await waitFor(async () => (await desk().store.room(view.room))?.state === 'chatting', `client ${i} chatting`);
  await chat.say(view.room, `hello from ${i}`);
  await chat.leave(view.room, view.nick);
  await chat.stop();
}

try {
  await waitFor(async () => (await desk().store.freeRooms()) >= STAFF, 'the pool');
  const staffRuns = staffIds.map((id) => staffLoop(id));
  await waitFor(async () => (await desk().store.staffOnDuty()) > 0, 'staff on duty');
  const started = Date.now();
  await Promise.all(Array.from({ length: CLIENTS }, (_, i) => clientRun(i)));
  const elapsed = Date.now() - started;

  // Exactly once, in queue order.
  const db = host.store.db();
  const rows = await db.selectFrom('helpline_ticket').selectAll().where('desk', '=', 'desk').orderBy('seq').execute();
  const rooms = new Set(rows.map((r) => r.room));
  const pairedOnce = rows.length === CLIENTS && rows.every((r) => r.state === 'joined') && rooms.size === CLIENTS;
  let inversions = 0;
  for (let i = 1; i < rows.length; i++) if (rows[i].paired_at < rows[i - 1].paired_at) inversions++;
  // Free → invite: from the room waiting for a client to the pairing, for clients already waiting then.
  const changes = await db.selectFrom('helpline_room_change').selectAll().where('to_state', '=', 'staffWaiting').execute();
  const freeAt = new Map(changes.map((c) => [c.room, Number(c.at)]));
  const gaps = rows
    .filter((r) => Number(r.created_at) < (freeAt.get(r.room) ?? 0))
    .map((r) => Number(r.paired_at) - (freeAt.get(r.room) ?? 0));

  // Restart porter with staff waiting in their rooms and clients in the queue.
  const waiting = [];
  for (let i = 0; i < 20; i++) waiting.push((await api('POST', '/queue')).body.ticket);
  stopStaff = true;
  await Promise.all(staffRuns);
  // Every room not yet destroyed is rejoined (or, on web chat, found gone) at the start.
  const live = (await desk().store.rooms()).filter((r) => r.state !== 'destroyed').length;
  await host.close();
  const t0 = Date.now();
  host = await openHost();
  base = host.http.url.replace(/\/$/, '');
  const restartMs = Date.now() - t0;
  const kept = (await desk().store.waiting()).length + (await desk().store.rooms(['staffWaiting'])).filter((r) => r.ticket).length;

  // Restart Prosody (every room is gone), or on web chat measure from porter's restart (its rooms
  // were gone): time until a staff member is waiting in a room again.
  if (prosody) await prosody.restart();
  const t1 = prosody ? Date.now() : t0;
  const s0 = await net.staff('s0');
  staffConnections.push(s0);
  await waitFor(async () => {
    const answer = await api('POST', '/staff/s0/available', 's0-token-0123456789abcdef');
    if (answer.status !== 200) return undefined;
    if ((await s0.join(answer.body.room, answer.body.password)) !== 'joined') return undefined;
    return waitFor(async () => (await desk().store.room(answer.body.room))?.state === 'staffWaiting', 'staffWaiting', 10_000);
  }, 'a staff member back in a room');
  const recoveryMs = Date.now() - t1;
  const closed = MODE === 'webchat' ? (await desk().store.rooms(['destroyed'])).length : 0;

  const pct = (values, p) => {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? 0;
  };
  console.log(`helpline pairing on ${prosody ? 'loopback Prosody' : "porter's web chat"} (${new Date().toISOString()})`);
  console.log(
    `${CLIENTS} clients arriving within ${ARRIVALS_MS / 1000} s, ${STAFF} staff members: all served in ${(elapsed / 1000).toFixed(1)} s`,
  );
  console.log(`every client paired exactly once: ${pairedOnce ? 'yes' : 'NO'}; pairings out of queue order: ${inversions}`);
  console.log(
    gaps.length
      ? `staff free → next waiting client's invite: p50 ${pct(gaps, 50)} ms, p99 ${pct(gaps, 99)} ms (${gaps.length} pairings)`
      : 'staff free → invite: no client was waiting when a staff member became free',
  );
  console.log(
    `porter restart with ${live} rooms not yet destroyed recovered and the pool ready: ${restartMs} ms; ${kept}/20 queued clients kept their place or were paired`,
  );
  console.log(
    prosody
      ? `Prosody restart → a staff member waiting in a working room again: ${recoveryMs} ms`
      : `porter restart → a staff member reconnected and waiting in a working room again: ${recoveryMs} ms (${closed} rooms destroyed by then)`,
  );
} catch (error) {
  console.error('the bench failed:', error);
  process.exitCode = 1;
} finally {
  stopStaff = true;
  for (const c of staffConnections) await c.stop();
  await host.close();
  await prosody?.remove();
  await rm(dir, { recursive: true, force: true });
}
