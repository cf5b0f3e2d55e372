// The helpline hook on porter's own web chat, with real `ws` clients through porter's real web
// server and no XMPP server: staff by web chat address, the queue, pairing, kicks of wrong
// joiners, clean and lost leaves, transcripts, and recovery after porter restarts mid-queue.
import type { Host } from 'porter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HelplineHook } from '../../../src/hooks/helpline/index.js';
import { openHost, tempDir } from '../../helpers/host.js';
import { eventually } from '../../helpers/wait.js';
import { type ChatClient, connected } from '../../plugs/webchat/client.js';

const ADA_TOKEN = 'ada-token-0123456789';
const BOB_TOKEN = 'bob-token-0123456789';
const CHAT = { kind: 'webchat', path: '/chat/ws' };

let dir: string;
let removeDir: () => Promise<void>;
let host: Host;
let base: string;
const clients: ChatClient[] = [];

function document(staff: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    http: { listen: '127.0.0.1:0' },
    plugs: {
      web: {
        path: 'webchat.WebChatPlug',
        config: {
          staff: [
            { username: 'ada', password: 'ada-password' },
            { username: 'bob', password: 'bob-password' },
          ],
          grace: 0.3,
          rate: 50,
          'sessions-per-ip': 200,
        },
      },
    },
    hooks: {
      desk: {
        path: 'helpline.HelplineHook',
        config: {
          plug: 'web',
          pool: { size: 2 },
          'fingerprint-secret': 'a-secret-of-enough-length',
          upkeep: 0.5,
          staff: {
            ada: { address: 'staff/ada', token: ADA_TOKEN, priority: 1 },
            bob: { address: 'staff/bob', token: BOB_TOKEN },
            ...staff,
          },
        },
      },
    },
  };
}

async function open(): Promise<void> {
  ({ host } = await openHost(document(), dir));
  base = host.http?.url.replace(/\/$/, '') ?? '';
}

const desk = () => (host.hooks.get('desk') as HelplineHook).desk;
const wsUrl = () => `${base.replace(/^http/, 'ws')}/chat/ws`;

async function api(method: string, path: string, token?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${base}/api/helpline${path}`, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function chat(fields: Parameters<typeof connected>[1] = {}): Promise<ChatClient> {
  const c = await connected(wsUrl(), fields);
  clients.push(c);
  return c;
}

async function roomState(room: string): Promise<string | undefined> {
  return (await desk().store.room(room))?.state;
}

async function waitState(room: string, state: string): Promise<void> {
  await eventually(`room ${room} in ${state}`, async () => ((await roomState(room)) === state ? true : undefined), 20_000);
}

/** A staff member asks for a room and joins it; resolves once the room waits for a client. */
async function staffWaits(who: ChatClient, token: string, id: string): Promise<{ room: string; password: string }> {
  const answer = await eventually(`a room for ${id}`, async () => {
    const r = await api('POST', `/staff/${id}/available`, token);
    return r.status === 200 ? r.body : undefined;
  });
  expect(answer.chat).toEqual(CHAT);
  const room = answer.room as string;
  const password = answer.password as string;
  expect(await who.join(room, password)).toBe('joined');
  await waitState(room, 'staffWaiting');
  return { room, password };
}

async function invited(ticket: string): Promise<Record<string, unknown>> {
  return eventually(`an invite for ${ticket}`, async () => {
    const r = await api('GET', `/queue/${ticket}?wait=2&position=1`);
    return r.body.status === 'invited' ? r.body : undefined;
  });
}

const kickedFrom = (c: ChatClient, room: string) => c.waitFor(`a kick from ${room}`, (f) => f.type === 'kicked' && f.room === room);

beforeAll(async () => {
  ({ dir, remove: removeDir } = await tempDir());
  await open();
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.drop();
  await host?.close();
  await removeDir?.();
});

describe('helpline on web chat', () => {
  it('refuses a staff member without a web chat address, naming the key', async () => {
    const { dir: other, remove } = await tempDir();
    try {
      await expect(openHost(document({ cy: { address: 'cy', token: 'cy-token-0123456789' } }), other)).rejects.toThrow(
        /desk\.config\.staff\.cy\.address: expected staff\/<username>/,
      );
      await expect(openHost(document({ cy: { token: 'cy-token-0123456789' } }), other)).rejects.toThrow(/desk\.config\.staff\.cy\.address/);
      // A JID is a valid address, but not on web chat: the helpline does not open.
      const wrong = await openHost(document({ cy: { jid: 'cy@example.org', token: 'cy-token-0123456789' } }), other);
      try {
        expect(
          wrong.records.some((r) => JSON.stringify(r).includes('desk.config.staff.cy.address: web chat staff are staff/<username>')),
        ).toBe(true);
        expect((await fetch(`${wrong.host.http?.url.replace(/\/$/, '')}/api/helpline/queue`, { method: 'POST' })).status).toBe(404);
      } finally {
        await wrong.host.close();
      }
      const unknown = await openHost(document({ cy: { address: 'staff/cy', token: 'cy-token-0123456789' } }), other);
      try {
        expect(
          unknown.records.some((r) => JSON.stringify(r).includes('desk.config.staff.cy.address: plug \\"web\\" has no staff account cy')),
        ).toBe(true);
      } finally {
        await unknown.host.close();
      }
    } finally {
      await remove();
    }
  });

  it('pairs queued clients in order, kicks wrong joiners, keeps the transcript and tells clean from lost leaves', async () => {
    expect((await api('POST', '/queue')).body.status).toBe('closed');

    const ada = await chat({ username: 'ada', password: 'ada-password' });
    const bob = await chat({ username: 'bob', password: 'bob-password' });
    const first = await staffWaits(ada, ADA_TOKEN, 'ada');
    const view = await api('GET', '/staff/ada', ADA_TOKEN);
    expect(view.body.chat).toEqual(CHAT);
    expect(view.body.rooms).toContainEqual(expect.objectContaining({ room: first.room, password: first.password, state: 'staffWaiting' }));

    const one = await api('POST', '/queue');
    const two = await api('POST', '/queue');
    expect([one.status, two.status]).toEqual([201, 201]);
    // The first asked into an empty queue; the second behind them (or first, once the first was paired).
    expect(one.body.position).toBe(1);
    expect([1, 2]).toContain(two.body.position);
    // The first is paired at once; the second waits first in line.
    const invite = await invited(one.body.ticket as string);
    expect(invite).toMatchObject({ room: first.room, password: first.password, chat: CHAT });
    expect((await api('GET', `/queue/${two.body.ticket}`)).body).toEqual({ status: 'waiting', position: 1 });

    // Another staff member entering a room not waiting for them is kicked.
    expect(await bob.join(first.room, first.password)).toBe('joined');
    await kickedFrom(bob, first.room);
    // The second client racing into the first one's room with its password is kicked.
    const racer = await chat({ nick: 'racer' });
    expect(await racer.join(first.room, first.password)).toBe('joined');
    await kickedFrom(racer, first.room);
    expect(await roomState(first.room)).toBe('staffWaiting');

    const client = await chat();
    expect(await client.join(first.room, invite.password as string, invite.nick as string)).toBe('joined');
    await waitState(first.room, 'chatting');
    expect((await api('GET', `/queue/${one.body.ticket}`)).body).toEqual({ status: 'joined', room: first.room });

    await client.say(first.room, 'hello, I need to talk');
    await ada.say(first.room, 'I am listening');
    await eventually('both messages stored', async () => ((await desk().store.messages(first.room)).length === 2 ? true : undefined));

    // A clean leave closes the room.
    expect((await client.request({ type: 'leave', room: first.room })).type).toBe('left');
    await waitState(first.room, 'closingChat');
    expect((await ada.request({ type: 'leave', room: first.room })).type).toBe('left');
    await waitState(first.room, 'toDestroy');

    const transcript = await api('GET', `/transcripts/${first.room}`, BOB_TOKEN);
    const lines = (transcript.body.messages as { author: string; body: string }[]).map((m) => [m.author, m.body]);
    expect(lines).toEqual(
      expect.arrayContaining([
        ['client', 'hello, I need to talk'],
        ['staff', 'I am listening'],
      ]),
    );
    expect(lines).toHaveLength(2);
    expect((transcript.body.states as { to: string }[]).map((s) => s.to)).toEqual(['staffWaiting', 'chatting', 'closingChat', 'toDestroy']);

    // The second client is paired next, with Ada's next room.
    const second = await staffWaits(ada, ADA_TOKEN, 'ada');
    const next = await invited(two.body.ticket as string);
    expect(next.room).toBe(second.room);
    const client2 = await chat();
    expect(await client2.join(second.room, next.password as string, next.nick as string)).toBe('joined');
    await waitState(second.room, 'chatting');
    // A dropped socket is a lost connection once the grace period ran out.
    client2.drop();
    await waitState(second.room, 'lost');
    expect((await ada.request({ type: 'leave', room: second.room })).type).toBe('left');
    await waitState(second.room, 'toDestroy');
  }, 90_000);

  it('after porter restarts mid-queue, waiting clients keep their place and no room is left that lets no one in', async () => {
    const ada = await chat({ username: 'ada', password: 'ada-password' });
    const waiting = await staffWaits(ada, ADA_TOKEN, 'ada');
    const one = (await api('POST', '/queue')).body;
    expect((await invited(one.ticket as string)).room).toBe(waiting.room);
    const two = (await api('POST', '/queue')).body;
    const three = (await api('POST', '/queue')).body;
    expect([two.position, three.position]).toEqual([1, 2]);

    await host.close();
    await open();
    // Web chat rooms are gone after a restart: Ada's room is closed, the client invited to it
    // goes back to their place, first in line, and the others keep theirs.
    expect(await roomState(waiting.room)).toBe('destroyed');
    expect((await api('GET', `/queue/${one.ticket}`)).body).toEqual({ status: 'waiting', position: 1 });
    expect((await api('GET', `/queue/${two.ticket}`)).body).toEqual({ status: 'waiting', position: 2 });
    expect((await api('GET', `/queue/${three.ticket}`)).body).toEqual({ status: 'waiting', position: 3 });
    // Every live room is there again, with its stored password.
    const live = await desk().store.rooms(['available', 'staffWaiting', 'chatting']);
    expect(live.length).toBeGreaterThan(0);
    for (const row of live) {
      const probe = await chat();
      expect(await probe.join(row.room, row.password, `probe-${Math.random().toString(36).slice(2, 6)}`)).toBe('joined');
      probe.drop();
    }

    // Ada comes back and is given the first waiting client.
    const back = await chat({ username: 'ada', password: 'ada-password' });
    const again = await staffWaits(back, ADA_TOKEN, 'ada');
    const invite = await invited(one.ticket as string);
    expect(invite.room).toBe(again.room);
    expect((await api('GET', `/queue/${two.ticket}`)).body).toEqual({ status: 'waiting', position: 1 });
  }, 90_000);
});

describe('a room given to a staff member who does not come in', () => {
  it('goes back to the pool with a new password after staff-join-timeout, so they can ask again', async () => {
    const { dir: other, remove } = await tempDir();
    const doc = document();
    const config = (doc.hooks as Record<string, { config: Record<string, unknown> }>).desk!.config;
    Object.assign(config, { 'max-chats-per-staff': 2, 'staff-join-timeout': 1, upkeep: 0.2, pool: { size: 3 } });
    const { host: h, records } = await openHost(doc, other);
    try {
      const url = h.http?.url.replace(/\/$/, '') ?? '';
      const ask = async () => {
        const r = await fetch(`${url}/api/helpline/staff/ada/available`, {
          method: 'POST',
          headers: { authorization: `Bearer ${ADA_TOKEN}` },
        });
        return { status: r.status, body: (await r.json()) as { room?: string; password?: string } };
      };
      for (let i = 0; i < 2; i++) await eventually(`room ${i + 1} for ada`, async () => ((await ask()).status === 200 ? true : undefined));
      // Two rooms given, neither entered: at the limit now.
      expect((await ask()).status).toBe(409);
      const hook = h.hooks.get('desk') as HelplineHook;
      const held = (await hook.desk.store.rooms(['available'])).filter((r) => r.staff === 'ada');
      expect(held).toHaveLength(2);

      // After the timeout the rooms go back to the pool, and ada may ask again.
      const again = await eventually('a room for ada after the timeout', async () => {
        const r = await ask();
        return r.status === 200 ? r.body : undefined;
      });
      expect(again.room).toBeDefined();
      expect(
        records.filter((r) => r.msg === 'the staff member did not enter the room given to them; it went back to the pool').length,
      ).toBeGreaterThanOrEqual(1);
      // Released rooms have a new password: the one ada was given no longer opens them.
      const rows = await eventually('both rooms released', async () => {
        const now = await Promise.all(held.map((old) => hook.desk.store.room(old.room)));
        return now.every((row, i) => row && row.password !== held[i]!.password) ? now : undefined;
      });
      expect(rows.map((r) => r?.state)).toEqual(['available', 'available']);
      const ada = await connected(`${url.replace(/^http/, 'ws')}/chat/ws`, { username: 'ada', password: 'ada-password' });
      clients.push(ada);
      expect(await ada.join(held[0]!.room, held[0]!.password)).not.toBe('joined');
    } finally {
      await h.close();
      await remove();
    }
  });
});

describe('web: the XMPP reach for pages', () => {
  it('is refused on web chat, naming the key', async () => {
    const { dir: other, remove } = await tempDir();
    const doc = document();
    const config = (doc.hooks as Record<string, { config: Record<string, unknown> }>).desk!.config;
    config.web = { websocket: 'wss://chat.example.org/xmpp-websocket' };
    const { host: h, records } = await openHost(doc, other);
    try {
      expect(
        records.some((r) => JSON.stringify(r).includes('desk.config.web: web.websocket and web.anonymous are for a plug on XMPP')),
      ).toBe(true);
    } finally {
      await h.close();
      await remove();
    }
  });
});
