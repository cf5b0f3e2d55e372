// The helpline hook against Debian's Prosody with real clients: the pool of locked rooms, the
// closed message, the queue and its positions, pairing and the room states, intruders kicked,
// transcripts and statistics, blocking, staff limits, and recovery after Prosody and porter restart.
import type { Host } from 'porter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HelplineHook } from '../../../src/hooks/helpline/index.js';
import type { RoomRow } from '../../../src/hooks/helpline/store.js';
import type { XmppPlug } from '../../../src/plugs/xmpp/index.js';
import { type LogRecord, openHost, tempDir } from '../../helpers/host.js';
import { eventually } from '../../helpers/wait.js';
import { ANON_DOMAIN, BOT, botPlug, DOMAIN, MUC_DOMAIN, type Prosody, startProsody } from '../../peers/prosody.js';
import { TestClient } from '../../plugs/xmpp/client.js';

const ADA_TOKEN = 'ada-token-0123456789';
const BOB_TOKEN = 'bob-token-0123456789';

let prosody: Prosody;
let dir: string;
let removeDir: () => Promise<void>;
let host: Host;
let records: LogRecord[];
let base: string;
const clients: TestClient[] = [];

function document(): Record<string, unknown> {
  return {
    http: { listen: '127.0.0.1:0' },
    plugs: {
      chat: botPlug(prosody, { reconnect: { min: 0.2, max: 1 } }),
    },
    hooks: {
      desk: {
        path: 'helpline.HelplineHook',
        config: {
          plug: 'chat',
          pool: { size: 2 },
          'max-chats-per-staff': 2,
          'fingerprint-secret': 'a-secret-of-enough-length',
          'closed-message': 'We are closed: call again at nine.',
          upkeep: 0.5,
          'cleanup-timeout': 3600,
          web: { websocket: prosody.websocket, anonymous: ANON_DOMAIN },
          staff: {
            ada: { jid: `ada@${DOMAIN}`, token: ADA_TOKEN, priority: 1 },
            bob: { jid: `bob@${DOMAIN}`, token: BOB_TOKEN },
          },
        },
      },
    },
  };
}

async function open(): Promise<void> {
  ({ host, records } = await openHost(document(), dir));
  base = host.http?.url.replace(/\/$/, '') ?? '';
}

const desk = () => (host.hooks.get('desk') as HelplineHook).desk;

async function api(method: string, path: string, token?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${base}/api/helpline${path}`, {
    method,
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function connect(user?: string): Promise<TestClient> {
  const c = user
    ? await TestClient.connect(prosody.service, DOMAIN, user, `${user}-password`)
    : await TestClient.connect(prosody.service, ANON_DOMAIN);
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
async function staffWaits(who: TestClient, token: string, id: string): Promise<{ room: string; password: string }> {
  const answer = await eventually(`a room for ${id}`, async () => {
    const r = await api('POST', `/staff/${id}/available`, token);
    return r.status === 200 ? r : undefined;
  });
  const room = answer.body.room as string;
  const password = answer.body.password as string;
  expect(await who.join(room, id, password)).toBe('joined');
  await waitState(room, 'staffWaiting');
  return { room, password };
}

/** Clients a test left waiting (their room ended before they came) leave the queue. */
async function drainQueue(): Promise<void> {
  for (const t of await desk().store.waiting()) await api('DELETE', `/queue/${t.ticket}`);
}

beforeAll(async () => {
  prosody = await startProsody();
  await prosody.register(BOT.name, BOT.password);
  await prosody.register('ada', 'ada-password');
  await prosody.register('bob', 'bob-password');
  ({ dir, remove: removeDir } = await tempDir());
  await open();
}, 120_000);

afterAll(async () => {
  for (const c of clients) await c.stop();
  await host?.close();
  await prosody?.remove();
  await removeDir?.();
});

describe('helpline on Prosody', () => {
  it('keeps a pool of configured rooms, each with its own password, that no one enters without it', async () => {
    const rooms = await eventually('two ready rooms', async () => {
      const rows = (await desk().store.rooms(['available'])).filter((r) => r.staff === null);
      return rows.length >= 2 ? rows : undefined;
    });
    expect(new Set(rooms.map((r) => r.password)).size).toBe(rooms.length);
    const stranger = await connect();
    expect(await stranger.join(rooms[0]?.room as string, 'stranger')).toBe('not-authorized');
  });

  it('shows the closed message while no staff member is on duty', async () => {
    const answer = await api('POST', '/queue');
    expect(answer.body).toEqual({ status: 'closed', message: 'We are closed: call again at nine.' });
  });

  it('refuses staff routes without the staff member’s own token, naming what is wrong', async () => {
    expect((await api('POST', '/staff/ada/available')).status).toBe(401);
    expect((await api('POST', '/staff/ada/available', BOB_TOKEN)).status).toBe(403);
    const bad = await api('GET', '/queue/x?wait=1');
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/^params\.ticket/);
  });

  it('pairs a client with waiting staff, follows the room through its states and keeps the transcript', async () => {
    const ada = await connect('ada');
    const { room } = await staffWaits(ada, ADA_TOKEN, 'ada');
    const asked = await api('POST', '/queue');
    expect(asked.status).toBe(201);
    const ticket = asked.body.ticket as string;
    const invite = await eventually('the invite', async () => {
      const r = await api('GET', `/queue/${ticket}?wait=5&position=1`);
      return r.body.status === 'invited' ? r.body : undefined;
    });
    expect(invite.room).toBe(room);
    // The page learns where the browser connects and where clients log in.
    expect(invite.chat).toEqual({
      kind: 'xmpp',
      service: prosody.service,
      muc: MUC_DOMAIN,
      websocket: prosody.websocket,
      anonymous: ANON_DOMAIN,
    });

    // A stranger who learnt the password is kicked; so is a second client racing in.
    const racer = await connect();
    expect(await racer.join(room, 'racer', invite.password as string)).toBe('joined');
    await racer.waitFor('a kick', (s) => s.is('presence') && s.attrs.type === 'unavailable' && s.attrs.from === `${room}/racer`);
    expect(await roomState(room)).toBe('staffWaiting');

    const client = await connect();
    expect(await client.join(room, invite.nick as string, invite.password as string)).toBe('joined');
    await waitState(room, 'chatting');
    expect((await api('GET', `/queue/${ticket}`)).body).toEqual({ status: 'joined', room });

    const late = await connect();
    expect(await late.join(room, 'late', invite.password as string)).toBe('joined');
    await late.waitFor('a kick', (s) => s.is('presence') && s.attrs.type === 'unavailable' && s.attrs.from === `${room}/late`);

    await client.say(room, 'hello, I need to talk');
    await ada.say(room, 'I am listening');
    await eventually('both messages stored', async () => ((await desk().store.messages(room)).length === 2 ? true : undefined));

    await client.leave(room, invite.nick as string, 'Clean Exit');
    await waitState(room, 'closingChat');
    await ada.leave(room, 'ada', 'Clean Exit');
    await waitState(room, 'toDestroy');

    const transcript = await api('GET', `/transcripts/${encodeURIComponent(room)}`, BOB_TOKEN);
    expect(transcript.status).toBe(200);
    const lines = (transcript.body.messages as { author: string; body: string }[]).map((m) => [m.author, m.body]);
    expect(lines).toHaveLength(2);
    expect(lines).toContainEqual(['client', 'hello, I need to talk']);
    expect(lines).toContainEqual(['staff', 'I am listening']);
    expect((transcript.body.states as { to: string }[]).map((s) => s.to)).toEqual(['staffWaiting', 'chatting', 'closingChat', 'toDestroy']);
    const stats = await api('GET', '/stats', ADA_TOKEN);
    expect(stats.body.clients).toBe(1);
    expect(stats.body.chats).toBe(1);
    expect(records.some((r) => r.msg.includes('not assigned'))).toBe(true);
  }, 60_000);

  it('refuses a wrong password and kicks a staff account posing as the invited client', async () => {
    const ada = await connect('ada');
    const bob = await connect('bob');
    const { room, password } = await staffWaits(ada, ADA_TOKEN, 'ada');
    const ticket = (await api('POST', '/queue')).body.ticket as string;
    const invite = await eventually('the invite', async () => {
      const r = (await api('GET', `/queue/${ticket}`)).body;
      return r.room === room ? r : undefined;
    });
    const guesser = await connect();
    expect(await guesser.join(room, invite.nick as string, 'not-the-password')).toBe('not-authorized');
    expect(await bob.join(room, invite.nick as string, password)).toBe('joined');
    await bob.waitFor('a kick', (s) => s.is('presence') && s.attrs.type === 'unavailable' && s.attrs.from === `${room}/${invite.nick}`);
    expect(await roomState(room)).toBe('staffWaiting');
    // The real client still gets in.
    const client = await connect();
    expect(await client.join(room, invite.nick as string, password)).toBe('joined');
    await waitState(room, 'chatting');
    // A lost connection, then the staff member's clean leave: lost, then toDestroy.
    client.drop();
    await waitState(room, 'lost');
    await ada.leave(room, 'ada', 'Clean Exit');
    await waitState(room, 'toDestroy');
    const late = await connect();
    expect(await late.join(room, 'late', password)).toBe('joined');
    await late.waitFor('a kick', (s) => s.is('presence') && s.attrs.type === 'unavailable' && s.attrs.from === `${room}/late`);
    expect(records.some((r) => r.msg === 'a join into a closed helpline room; kicked')).toBe(true);
  }, 60_000);

  it('queues clients in order, tells them their place, and serves staff by priority', async () => {
    const bob = await connect('bob');
    const ada = await connect('ada');
    const first = (await api('POST', '/queue')).body;
    // Nobody waits in a room yet (ada's room ended), but bob holds none: the desk is closed.
    expect(first.status).toBe('closed');

    const bobRoom = await staffWaits(bob, BOB_TOKEN, 'bob');
    const one = (await api('POST', '/queue')).body;
    const onesInvite = await eventually('the first invite', async () => {
      const r = (await api('GET', `/queue/${one.ticket}`)).body;
      return r.status === 'invited' ? r : undefined;
    });
    expect(onesInvite.room).toBe(bobRoom.room);

    const two = (await api('POST', '/queue')).body;
    const three = (await api('POST', '/queue')).body;
    expect(two.position).toBe(1);
    expect(three.position).toBe(2);
    // The long poll answers when the position changes.
    const poll = api('GET', `/queue/${three.ticket}?wait=20&position=2`);
    expect((await api('DELETE', `/queue/${two.ticket}`)).body).toEqual({ status: 'left' });
    expect((await poll).body).toEqual({ status: 'waiting', position: 1 });

    expect((await api('DELETE', `/queue/${three.ticket}`)).body).toEqual({ status: 'left' });

    // Both wait: ada (priority 1) is served before bob, though bob waited longer; then bob.
    const bobSecond = await staffWaits(bob, BOB_TOKEN, 'bob');
    const adaRoom = await staffWaits(ada, ADA_TOKEN, 'ada');
    const four = (await api('POST', '/queue')).body;
    const five = (await api('POST', '/queue')).body;
    const invited = async (ticket: unknown) =>
      eventually(`the invite of ${ticket}`, async () => {
        const r = (await api('GET', `/queue/${ticket}`)).body;
        return r.status === 'invited' ? r.room : undefined;
      });
    expect(await invited(four.ticket)).toBe(adaRoom.room);
    expect(await invited(five.ticket)).toBe(bobSecond.room);

    // Bob holds two rooms: his limit.
    expect((await api('POST', '/staff/bob/available', BOB_TOKEN)).status).toBe(409);
    expect(records.some((r) => r.msg === 'staff member over their room limit')).toBe(true);
    await bob.leave(bobRoom.room, 'bob', 'Clean Exit');
    await bob.leave(bobSecond.room, 'bob', 'Clean Exit');
    await ada.leave(adaRoom.room, 'ada', 'Clean Exit');
    await waitState(bobSecond.room, 'toDestroy');
    // Clients one, four and five never came: their rooms ended, and they are back in the queue, in order.
    await eventually('all back in the queue', async () => ((await desk().store.waiting()).length === 3 ? true : undefined));
    expect((await api('GET', `/queue/${one.ticket}`)).body).toEqual({ status: 'waiting', position: 1 });
    await drainQueue();
  }, 90_000);

  it('blocks a client by fingerprint', async () => {
    const ada = await connect('ada');
    const { room } = await staffWaits(ada, ADA_TOKEN, 'ada');
    const ticket = (await api('POST', '/queue')).body.ticket as string;
    const invite = await eventually('the invite', async () => {
      const r = (await api('GET', `/queue/${ticket}`)).body;
      return r.room === room ? r : undefined;
    });
    const client = await connect();
    await client.join(room, invite.nick as string, invite.password as string);
    await waitState(room, 'chatting');
    expect((await api('POST', `/rooms/${encodeURIComponent(room)}/block`, ADA_TOKEN)).body.blocked).toBe(true);
    await waitState(room, 'destroyed');
    expect((await api('POST', '/queue')).status).toBe(403);
    const stored = JSON.stringify(await desk().store.ticket(ticket));
    expect(stored).not.toContain('127.0.0.1');
    // Every test speaks from this address: the block is lifted for the next.
    await host.store.db<{ helpline_block: object }>().deleteFrom('helpline_block').execute();
  }, 60_000);
});

describe('the bot out of a room', () => {
  it('rejoins a live room porter is no longer in, with its stored password, and the room goes on', async () => {
    const ada = await connect('ada');
    const { room } = await staffWaits(ada, ADA_TOKEN, 'ada');
    const plug = host.plugs.get('chat') as XmppPlug;
    await plug.leaveRoom(plug.channel(room));
    await eventually('porter back in the room', async () =>
      records.some((r) => r.msg === 'porter was not in a helpline room; rejoining' && r.room === room) &&
      (await plug.occupants(plug.channel(room)).catch(() => undefined))
        ? true
        : undefined,
    );
    expect(await roomState(room)).toBe('staffWaiting');
    const ticket = (await api('POST', '/queue')).body.ticket as string;
    const invite = await eventually('the invite', async () => {
      const r = (await api('GET', `/queue/${ticket}`)).body;
      return r.room === room ? r : undefined;
    });
    const client = await connect();
    expect(await client.join(room, invite.nick as string, invite.password as string)).toBe('joined');
    await waitState(room, 'chatting');
    expect((await api('POST', `/rooms/${encodeURIComponent(room)}/end`, ADA_TOKEN)).body.state).toBe('destroyed');
  }, 60_000);
});

describe('a server that refuses rooms', () => {
  it('stores no room, logs the refusal and keeps trying', async () => {
    const { dir: otherDir, remove } = await tempDir();
    const doc = document();
    const chat = (doc.plugs as Record<string, { config: Record<string, unknown> }>).chat as { config: Record<string, unknown> };
    // No MUC service there: every room creation is refused or unanswered.
    chat.config = { ...chat.config, muc: `nomuc.${DOMAIN}`, timeout: 2, resource: 'refused' };
    const { host: refused, records: logs } = await openHost({ ...doc, http: undefined }, otherDir);
    try {
      const hook = refused.hooks.get('desk') as HelplineHook;
      await eventually('the refusal logged', async () =>
        logs.some((r) => r.msg === 'cannot create a helpline room; trying again later') ? true : undefined,
      );
      expect(await hook.desk.store.rooms()).toEqual([]);
    } finally {
      await refused.close();
      await remove();
    }
  }, 60_000);
});

describe('recovery', () => {
  it('after Prosody restarts mid-chat, the lost room is closed and the pool is re-keyed and usable', async () => {
    const ada = await connect('ada');
    const { room } = await staffWaits(ada, ADA_TOKEN, 'ada');
    const ticket = (await api('POST', '/queue')).body.ticket as string;
    const invite = await eventually('the invite', async () => {
      const r = (await api('GET', `/queue/${ticket}`)).body;
      return r.room === room ? r : undefined;
    });
    const client = await connect();
    await client.join(room, invite.nick as string, invite.password as string);
    await waitState(room, 'chatting');
    const poolBefore = new Map((await desk().store.rooms(['available'])).map((r: RoomRow) => [r.room, r.password]));

    await prosody.restart();
    await waitState(room, 'destroyed');
    // The free rooms were lost too: re-keyed and still ready.
    await eventually(
      'the pool re-keyed',
      async () => {
        const now = (await desk().store.rooms(['available'])).filter((r) => r.staff === null);
        const rekeyed = now.filter((r) => poolBefore.has(r.room) && poolBefore.get(r.room) !== r.password);
        return now.length >= 2 && rekeyed.length > 0 ? true : undefined;
      },
      30_000,
    );
    expect(records.some((r) => r.msg === 'the server had lost a helpline room')).toBe(true);
    // Usable: a staff member gets in with the stored password, and a client is paired.
    const ada2 = await connect('ada');
    const again = await staffWaits(ada2, ADA_TOKEN, 'ada');
    expect(again.room).not.toBe(room);
    await ada2.leave(again.room, 'ada', 'Clean Exit');
    await waitState(again.room, 'toDestroy');
  }, 90_000);

  it('after porter restarts mid-queue, waiting clients keep their place and rooms are rejoined', async () => {
    await drainQueue();
    const bob = await connect('bob');
    const bobRoom = await staffWaits(bob, BOB_TOKEN, 'bob');
    const one = (await api('POST', '/queue')).body;
    await eventually('the first client paired', async () =>
      (await api('GET', `/queue/${one.ticket}`)).body.status === 'invited' ? true : undefined,
    );
    const two = (await api('POST', '/queue')).body;
    const three = (await api('POST', '/queue')).body;
    expect([two.position, three.position]).toEqual([1, 2]);

    await host.close();
    await open();
    // Bob is still in his room, which porter rejoined with its stored password.
    expect(await roomState(bobRoom.room)).toBe('staffWaiting');
    expect((await api('GET', `/queue/${two.ticket}`)).body).toEqual({ status: 'waiting', position: 1 });
    expect((await api('GET', `/queue/${three.ticket}`)).body).toEqual({ status: 'waiting', position: 2 });
    // The first client was invited before the restart and still is.
    expect((await api('GET', `/queue/${one.ticket}`)).body.room).toBe(bobRoom.room);
    // No room is left that lets no one in: every live room is rejoined or closed.
    for (const row of await desk().store.rooms(['available', 'staffWaiting'])) {
      const c = await connect();
      const answer = await c.join(row.room, `probe-${Math.random().toString(36).slice(2, 6)}`, row.password);
      expect(answer).toBe('joined');
      await c.stop();
    }
  }, 90_000);
});
