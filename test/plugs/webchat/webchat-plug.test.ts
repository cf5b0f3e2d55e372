// The webchat plug through porter's real web server, with real `ws` clients: staff login and
// anonymous sessions, rooms created, configured and joined with passwords, invitations, the
// occupant cap, kicks, destruction, clean and lost leaves, resuming, bridging, bad and forged
// frames, and the limits that keep a misbehaving client from hurting porter.
import { type Host, isRoomsCapable, leftCleanly, RichText, type RoomUser, type SentMessage } from 'porter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoopbackPlug } from '../../../src/plugs/loopback/index.js';
import { type WebChatPlug, webChatConfigSchema } from '../../../src/plugs/webchat/index.js';
import type { RecorderHook } from '../../fixtures/plugins/recorder.js';
import { type LogRecord, openHost, tempDir } from '../../helpers/host.js';
import { eventually, until } from '../../helpers/wait.js';
import { ChatClient, connected, type Frame } from './client.js';

const STAFF = { username: 'sam', password: 'staff-password' };

let dir: string;
let removeDir: () => Promise<void>;
let host: Host;
let records: LogRecord[];
const clients: ChatClient[] = [];

const plug = () => host.plugs.get('web') as WebChatPlug;
const quick = () => host.plugs.get('quick') as WebChatPlug;
const seen = (): SentMessage[] => (host.hooks.get('seen') as RecorderHook).seen;
const url = (path = '/chat/ws') => `${host.http!.url.replace(/^http/, 'ws').replace(/\/$/, '')}${path}`;
const marker = (what: string) => `${what}-${Math.random().toString(36).slice(2, 10)}`;

async function client(fields: Parameters<typeof connected>[1] = {}, path?: string): Promise<ChatClient> {
  const c = await connected(url(path), fields);
  clients.push(c);
  return c;
}

beforeAll(async () => {
  ({ dir, remove: removeDir } = await tempDir());
  ({ host, records } = await openHost(
    {
      http: { listen: '127.0.0.1:0' },
      plugs: {
        web: {
          path: 'webchat.WebChatPlug',
          config: { staff: [{ ...STAFF, name: 'Sam' }], rooms: [{ name: 'lobby' }], grace: 60, 'sessions-per-ip': 200, rate: 50 },
        },
        quick: { path: 'webchat.WebChatPlug', config: { path: '/quick/ws', grace: 0.2 } },
        lab: { path: 'loopback.LoopbackPlug', config: { users: [{ id: 'tim', name: 'Tim' }] } },
      },
      channels: {
        lobby: { plug: 'web', source: 'lobby' },
        desk: { plug: 'lab', source: 'desk' },
      },
      hooks: {
        bridge: { path: 'sync.SyncHook', config: { channels: { front: ['lobby', 'desk'] } } },
        seen: { path: 'recorder.RecorderHook' },
      },
    },
    dir,
  ));
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.drop();
  await host?.close();
  await removeDir?.();
});

describe('config', () => {
  it('names the key that is wrong', () => {
    expect(webChatConfigSchema.safeParse({ path: 'chat' }).error?.issues[0]?.path).toEqual(['path']);
    expect(webChatConfigSchema.safeParse({ staff: [{ username: 'a', password: 'short' }] }).error?.issues[0]?.path).toEqual([
      'staff',
      0,
      'password',
    ]);
    const twice = webChatConfigSchema.safeParse({ rooms: [{ name: 'a' }, { name: 'a' }] });
    expect(twice.error?.issues[0]?.path).toEqual(['rooms', 1, 'name']);
    expect(webChatConfigSchema.parse({})).toMatchObject({ path: '/chat/ws', grace: 30, rate: 5, 'sessions-per-ip': 20 });
  });

  it('refuses to open without porter’s web server, saying what to add', async () => {
    const { dir: bare, remove } = await tempDir();
    const { host: other, records: logs } = await openHost({ plugs: { web: { path: 'webchat.WebChatPlug' } } }, bare);
    try {
      await until(() => logs.some((r) => r.msg === 'plug failed to open; retrying'), 15_000);
      const failure = logs.find((r) => r.msg === 'plug failed to open; retrying');
      expect((failure?.err as { message?: string } | undefined)?.message).toMatch(/needs porter's web server: add an http section/);
    } finally {
      await other.close();
      await remove();
    }
  });
});

describe('sessions', () => {
  it('welcomes clients anonymously and staff by user name and password', async () => {
    expect(isRoomsCapable(plug())).toBe(true);
    expect(plug().capabilities).toMatchObject({ rooms: true, members: true, privateChannels: true });
    const guest = await client({ nick: 'visitor' });
    expect(guest.address).toMatch(/^anon\/[\w-]+$/);
    expect(guest.frames[0]).toMatchObject({ type: 'welcome', staff: false, nick: 'visitor', resumed: false });
    const sam = await client(STAFF);
    expect(sam.address).toBe('staff/sam');
    expect(sam.frames[0]).toMatchObject({ staff: true, nick: 'Sam' });

    const intruder = await ChatClient.connect(url());
    clients.push(intruder);
    expect(await intruder.hello({ username: 'sam', password: 'guessed-wrong' })).toMatchObject({ type: 'error', code: 'not-authorized' });
    expect(records.some((r) => r.msg === 'web chat staff login refused' && r.username === 'sam')).toBe(true);
  });

  it('carries a word to porter as a private channel, both ways', async () => {
    const guest = await client();
    const text = marker('a private word');
    await guest.say(undefined, text);
    await until(() => seen().some((m) => m.text?.toPlain() === text));
    const received = seen().find((m) => m.text?.toPlain() === text)!;
    expect(received.channel.source).toBe(guest.address);
    expect(await plug().channelIsPrivate(received.channel)).toBe(true);
    expect(await plug().channelIsPrivate(host.channelByName('lobby')!)).toBe(false);
    const answer = marker('an answer');
    await host.send(received.channel, { text: RichText.plain(answer) });
    const frame = await guest.waitFor('the answer', (f) => f.type === 'message' && f.text === answer);
    expect(frame).toMatchObject({ private: true, from: 'porter' });
  });
});

describe('rooms', () => {
  it('creates a room, invites with its password, and lets in only those who have it', async () => {
    const channel = await plug().createRoom({ password: 'pw-invite', maxOccupants: 2 });
    expect(channel.source).toMatch(/^room-[0-9a-f]{12}$/);
    await expect(plug().createRoom({ name: channel.source, password: 'x' })).rejects.toThrow(/exists already/);
    const guest = await client({ nick: 'bea' });
    const sam = await client(STAFF);
    expect(await guest.join(channel.source, 'wrong')).toBe('not-authorized');
    expect(await guest.join('no-such-room', 'pw-invite')).toBe('not-found');

    await plug().invite(channel, guest.address, { reason: 'a counsellor is waiting' });
    const invitation = await guest.waitFor('an invitation', (f) => f.type === 'invite' && f.room === channel.source);
    expect(invitation).toMatchObject({ password: 'pw-invite', reason: 'a counsellor is waiting' });
    await expect(plug().invite(channel, 'anon/nobody')).rejects.toThrow(/nobody is connected as anon\/nobody/);

    expect(await sam.join(channel.source, 'pw-invite')).toBe('joined');
    expect(await guest.join(channel.source, String(invitation.password))).toBe('joined');
    const occupants = await plug().occupants(channel);
    expect(Object.fromEntries(occupants.map((o) => [o.nick, [o.address, o.role]]))).toEqual({
      Sam: ['staff/sam', 'staff'],
      bea: [guest.address, 'client'],
    });
    // Real addresses are shown to staff only.
    const forStaff = await sam.waitFor('the new occupant list', (f) => f.type === 'occupants' && f.room === channel.source);
    expect(forStaff.occupants).toContainEqual({ nick: 'bea', role: 'client', address: guest.address });
    const joinedFrame = guest.frames.find((f) => f.type === 'joined' && f.room === channel.source)!;
    expect(joinedFrame.occupants).toContainEqual({ nick: 'Sam', role: 'staff' });

    const joins = () => seen().filter((m) => m.channel === channel && m.joined?.length);
    await until(() => joins().length === 2);
    const bea = joins().find((m) => m.joined![0]!.username === 'bea')!.joined![0] as RoomUser;
    expect(bea).toMatchObject({ nick: 'bea', address: guest.address, plug: 'web' });

    // A new password: the old one no longer opens the room.
    await plug().configureRoom(channel, { password: 'pw-new', maxOccupants: 3 });
    const late = await client();
    expect(await late.join(channel.source, 'pw-invite')).toBe('not-authorized');
    expect(await late.join(channel.source, 'pw-new')).toBe('joined');
  });

  it('keeps the occupant cap itself, also when it is lowered', async () => {
    const channel = await plug().createRoom({ password: 'pw-cap', maxOccupants: 1 });
    const first = await client({ nick: 'first' });
    const second = await client({ nick: 'second' });
    expect(await first.join(channel.source, 'pw-cap')).toBe('joined');
    const full = await second.request({ type: 'join', room: channel.source, password: 'pw-cap' });
    expect(full).toMatchObject({ type: 'error', code: 'full' });
    expect(full.message).toMatch(/is full/);
    await plug().configureRoom(channel, { password: 'pw-cap', maxOccupants: 2 });
    expect(await second.join(channel.source, 'pw-cap')).toBe('joined');
    await plug().configureRoom(channel, { password: 'pw-cap', maxOccupants: 1 });
    const removed = await second.waitFor('removal', (f) => f.type === 'kicked' && f.room === channel.source);
    expect(removed.reason).toBe('The room is full');
    expect((await plug().occupants(channel)).map((o) => o.nick)).toEqual(['first']);
    await expect(plug().createRoom({ password: 'x', maxOccupants: -1 })).rejects.toThrow(/maxOccupants must be a whole number/);
    await expect(plug().createRoom({ name: 'Bad Name', password: 'x' })).rejects.toThrow(/not a valid room name/);
  });

  it('lets into a members-only room only those invited, and staff', async () => {
    const channel = await plug().createRoom({ password: 'pw-members', membersOnly: true });
    const invited = await client();
    const uninvited = await client();
    const sam = await client(STAFF);
    expect(await uninvited.join(channel.source, 'pw-members')).toBe('forbidden');
    await plug().invite(channel, invited.address);
    expect(await invited.join(channel.source, 'pw-members')).toBe('joined');
    expect(await sam.join(channel.source, 'pw-members')).toBe('joined');
  });

  it('refuses a nick taken in the room', async () => {
    const channel = await plug().createRoom({ password: '' });
    const a = await client({ nick: 'same' });
    const b = await client({ nick: 'same' });
    expect(await a.join(channel.source)).toBe('joined');
    expect(await b.join(channel.source)).toBe('conflict');
    expect(await b.join(channel.source, '', 'porter')).toBe('conflict');
    expect(await b.join(channel.source, '', 'other')).toBe('joined');
  });

  it('kicks by address and keeps the kicked out; destroys the room for everyone', async () => {
    const channel = await plug().createRoom({ password: 'pw-kick' });
    const a = await client({ nick: 'a' });
    const b = await client({ nick: 'b' });
    expect(await a.join(channel.source, 'pw-kick')).toBe('joined');
    expect(await b.join(channel.source, 'pw-kick')).toBe('joined');
    await plug().kick(channel, a.address, 'be nice');
    expect(await a.waitFor('being kicked', (f) => f.type === 'kicked' && f.room === channel.source)).toMatchObject({ reason: 'be nice' });
    await b.waitFor('a leaving', (f) => f.type === 'presence' && f.nick === 'a' && f.event === 'left' && f.kicked === true);
    await until(() => seen().some((m) => m.channel === channel && (m.left?.[0] as RoomUser | undefined)?.kicked === true));
    const left = seen().find((m) => m.channel === channel && m.left?.length)!.left![0]!;
    expect(leftCleanly(left)).toBe(false);
    const back = await a.request({ type: 'join', room: channel.source, password: 'pw-kick' });
    expect(back).toMatchObject({ type: 'error', code: 'kicked' });
    await expect(plug().kick(channel, 'nobody-here')).rejects.toThrow(/nobody of that nick or address/);

    await plug().destroyRoom(channel, 'chat ended');
    expect(await b.waitFor('the room ending', (f) => f.type === 'destroyed' && f.room === channel.source)).toMatchObject({
      reason: 'chat ended',
    });
    const gone = await b.request({ type: 'join', room: channel.source, password: 'pw-kick' });
    expect(gone).toMatchObject({ type: 'error', code: 'gone' });
    expect(gone.message).toMatch(/was destroyed/);
    await expect(plug().occupants(channel)).rejects.toThrow(/it was destroyed/);
    expect(await b.say(channel.source, 'anyone?')).toMatchObject({ type: 'error', code: 'not-in-room' });
  });

  it('relays messages and typing between occupants, and replays the history to a newcomer', async () => {
    const channel = await plug().createRoom({ password: 'pw-talk', historyLength: 2 });
    const a = await client({ nick: 'ann' });
    const b = await client({ nick: 'bob' });
    expect(await a.join(channel.source, 'pw-talk')).toBe('joined');
    expect(await b.join(channel.source, 'pw-talk')).toBe('joined');
    a.send({ type: 'typing', room: channel.source, active: true });
    await b.waitFor('ann typing', (f) => f.type === 'typing' && f.nick === 'ann' && f.active === true);
    for (const text of ['one', 'two', 'three'])
      expect(await a.say(channel.source, text)).toMatchObject({ type: 'message', from: 'ann', text });
    await b.waitFor('the third line', (f) => f.type === 'message' && f.text === 'three');
    await until(() => seen().some((m) => m.channel === channel && m.text?.toPlain() === 'three'));
    expect(seen().find((m) => m.channel === channel && m.text?.toPlain() === 'one')?.user?.username).toBe('ann');
    const c = await client();
    const joined = await c.request({ type: 'join', room: channel.source, password: 'pw-talk' });
    expect((joined.history as Frame[]).map((l) => l.text)).toEqual(['two', 'three']);
  });

  it('rejoins a room it still has, and recreates with its password one lost by a restart', async () => {
    const channel = await plug().createRoom({ password: 'pw-kept' });
    expect(await plug().rejoinRoom(channel, 'pw-kept')).toBe('joined');
    expect(await plug().rejoinRoom(host.channelByName('lobby')!, '')).toBe('joined');

    const { dir: otherDir, remove } = await tempDir();
    const { host: restarted } = await openHost(
      { http: { listen: '127.0.0.1:0' }, plugs: { web: { path: 'webchat.WebChatPlug', config: {} } } },
      otherDir,
    );
    try {
      const again = restarted.plugs.get('web') as WebChatPlug;
      const lost = again.channel(channel.source);
      expect(await again.rejoinRoom(lost, 'pw-kept')).toBe('recreated');
      expect(await again.occupants(lost)).toEqual([]);
      const base = restarted.http!.url.replace(/^http/, 'ws');
      const guest = await connected(`${base}chat/ws`);
      try {
        expect(await guest.join(channel.source, 'wrong')).toBe('not-authorized');
        expect(await guest.join(channel.source, 'pw-kept')).toBe('joined');
      } finally {
        guest.drop();
      }
    } finally {
      await restarted.close();
      await remove();
    }
  });
});

describe('leaving', () => {
  it('tells a clean leave from a lost connection, after the grace period', async () => {
    const channel = await quick().createRoom({ password: 'pw-leave' });
    const calm = await client({ nick: 'calm' }, '/quick/ws');
    const flaky = await client({ nick: 'flaky' }, '/quick/ws');
    expect(await calm.join(channel.source, 'pw-leave')).toBe('joined');
    expect(await flaky.join(channel.source, 'pw-leave')).toBe('joined');
    expect(await calm.request({ type: 'leave', room: channel.source })).toMatchObject({ type: 'left', room: channel.source });
    flaky.drop();
    const left = () =>
      seen()
        .filter((m) => m.channel === channel && m.left?.length)
        .map((m) => m.left![0]!);
    await until(() => left().length === 2, 15_000);
    expect(Object.fromEntries(left().map((u) => [u.username, leftCleanly(u)]))).toEqual({ calm: true, flaky: false });
    expect(await quick().occupants(channel)).toEqual([]);
    // The grace period is over: the token resumes nothing.
    const late = await ChatClient.connect(url('/quick/ws'));
    clients.push(late);
    expect(await late.hello({ resume: flaky.token })).toMatchObject({ type: 'error', code: 'resume-failed' });
  });

  it('lets a client that lost its socket resume its session within the grace period, missing nothing', async () => {
    const channel = await plug().createRoom({ password: 'pw-resume' });
    const staying = await client({ nick: 'staying' });
    const roaming = await client({ nick: 'roaming' });
    expect(await staying.join(channel.source, 'pw-resume')).toBe('joined');
    expect(await roaming.join(channel.source, 'pw-resume')).toBe('joined');
    const open = plug().counts.connections;
    roaming.drop();
    // Once porter has noticed, what is said goes to the session's backlog.
    await until(() => plug().counts.connections === open - 1);
    const meanwhile = marker('said while away');
    await staying.say(channel.source, meanwhile);

    const back = await ChatClient.connect(url());
    clients.push(back);
    const welcome = await back.hello({ resume: roaming.token });
    expect(welcome).toMatchObject({ type: 'welcome', resumed: true, address: roaming.address, rooms: [channel.source] });
    await back.waitFor('what was said while away', (f) => f.type === 'message' && f.text === meanwhile);
    expect(await back.say(channel.source, 'back again')).toMatchObject({ type: 'message', from: 'roaming' });
    expect((await plug().occupants(channel)).map((o) => o.nick).sort()).toEqual(['roaming', 'staying']);
    expect(seen().some((m) => m.channel === channel && m.left?.length)).toBe(false);

    // A second resume while this socket is still open takes the session over and closes the older socket.
    const again = await ChatClient.connect(url());
    clients.push(again);
    expect(await again.hello({ resume: roaming.token })).toMatchObject({ type: 'welcome', resumed: true });
    await until(() => back.closedWith !== undefined);
    expect(back.closedWith).toBe(4001);

    // A bye is a clean leave of every room.
    expect(await again.request({ type: 'bye' })).toMatchObject({ type: 'bye' });
    await until(() => seen().some((m) => m.channel === channel && m.left?.[0]?.username === 'roaming'));
    expect(leftCleanly(seen().find((m) => m.channel === channel && m.left?.length)!.left![0]!)).toBe(true);
  });
});

describe('bridge', () => {
  it('bridges a web chat room and a loopback channel both ways, with the nick as author, without loops', async () => {
    const lab = host.plugs.get('lab') as LoopbackPlug;
    const ada = await client({ nick: 'ada' });
    expect(await ada.join('lobby')).toBe('joined');
    const hello = marker('hello from the web');
    const copied = lab.waitFor('desk', (m) => m.text?.toPlain() === hello, 15_000);
    await ada.say('lobby', hello);
    expect((await copied).user?.username).toBe('ada');

    const hi = marker('hi from the desk');
    lab.post('desk', hi, 'tim');
    const inRoom = await ada.waitFor('the copy in the room', (f) => f.type === 'message' && f.text === `<Tim> ${hi}`);
    expect(inRoom.from).toBe('porter');

    // A last line through the room: everything before it has been handled when it arrives.
    const last = marker('last');
    const lastCopied = lab.waitFor('desk', (m) => m.text?.toPlain() === last, 15_000);
    await ada.say('lobby', last);
    await lastCopied;
    const desk = lab.history('desk').map((m) => m.text?.toPlain() ?? '');
    expect(desk.filter((t) => t.includes(hello))).toHaveLength(1);
    expect(desk.filter((t) => t.includes(hi))).toHaveLength(1);
    expect(ada.frames.filter((f) => f.type === 'message' && String(f.text).includes(hi))).toHaveLength(1);
  });
});

describe('bad input', () => {
  it('answers bad frames with an error naming what was wrong, and keeps the socket', async () => {
    const c = await ChatClient.connect(url());
    clients.push(c);
    const errors = () => c.frames.filter((f) => f.type === 'error');
    c.send('not json at all');
    c.send({ type: 'dance' });
    c.send({ type: 'join', id: 'j1' });
    c.send(Buffer.from([1, 2, 3]));
    c.send({ type: 'say', room: 'lobby', text: 'before hello', id: 's1' });
    await until(() => errors().length === 5);
    expect(errors().map((f) => f.message)).toEqual([
      'not JSON',
      expect.stringMatching(/^type: /),
      expect.stringMatching(/^room: /),
      'frames are JSON text, not binary',
      'say hello first',
    ]);
    expect(errors()[2]).toMatchObject({ code: 'bad-frame', ref: 'j1' });
    expect(errors()[4]).toMatchObject({ code: 'hello-first', ref: 's1' });
    expect((await c.hello()).type).toBe('welcome');
    expect(await c.request({ type: 'hello' })).toMatchObject({ code: 'bad-frame' });
  });

  it('refuses a frame that claims another session, and a token it does not know', async () => {
    const victim = await client({ nick: 'victim' });
    const forger = await client({ nick: 'forger' });
    expect(await victim.join('lobby')).toBe('joined');
    const forged = await forger.request({ type: 'say', session: victim.address, room: 'lobby', text: 'I am the victim' });
    expect(forged).toMatchObject({ type: 'error', code: 'forged' });
    expect(forged.message).toContain(`not ${victim.address}`);
    const own = await forger.request({ type: 'join', session: forger.address, room: 'lobby' });
    expect(own.type).toBe('joined');
    const stranger = await ChatClient.connect(url());
    clients.push(stranger);
    expect(await stranger.hello({ resume: 'made-up-token' })).toMatchObject({ code: 'resume-failed' });
    expect(victim.frames.some((f) => f.type === 'message' && f.text === 'I am the victim')).toBe(false);
  });
});

describe('limits', () => {
  it('limits frame size, frames per second and connections per address without harm to porter', async () => {
    const { dir: limitDir, remove } = await tempDir();
    const { host: limited } = await openHost(
      {
        http: { listen: '127.0.0.1:0' },
        plugs: {
          web: {
            path: 'webchat.WebChatPlug',
            config: { 'max-frame': 512, rate: 2, 'sessions-per-ip': 3, grace: 600, 'trust-proxy': true, rooms: [{ name: 'hall' }] },
          },
        },
      },
      limitDir,
    );
    const opened: ChatClient[] = [];
    try {
      const base = `${limited.http!.url.replace(/^http/, 'ws')}chat/ws`;
      const big = await ChatClient.connect(base);
      opened.push(big);
      big.send({ type: 'say', room: 'hall', text: 'x'.repeat(1000) });
      await until(() => big.closedWith !== undefined, 10_000);
      expect(big.closedWith).toBe(1009);

      const chatty = await connected(base);
      opened.push(chatty);
      for (let i = 0; i < 30; i++) chatty.send({ type: 'typing', room: 'hall', active: true });
      const limitedFrame = await chatty.waitFor('a rate limit', (f) => f.code === 'rate-limited');
      expect(limitedFrame.message).toMatch(/more than 2 frames per second/);

      const more = [await ChatClient.connect(base), await ChatClient.connect(base)];
      opened.push(...more);
      await expect(ChatClient.connect(base)).rejects.toThrow(/upgrade refused: 503/);
      // The one that closed frees its place; porter serves on.
      await more[0]!.close();
      const plugged = limited.plugs.get('web') as WebChatPlug;
      const place = () =>
        eventually('a free place', async () => {
          try {
            const c = await ChatClient.connect(base);
            opened.push(c);
            return c;
          } catch {
            return undefined;
          }
        });
      expect((await (await place()).hello()).type).toBe('welcome');
      // Sessions outlive their sockets for the grace period, and count against the address too.
      chatty.drop();
      more[1]!.drop();
      const third = await place();
      expect((await third.hello()).type).toBe('welcome');
      third.drop();
      await until(() => plugged.counts.connections < 3);
      const fourth = await place();
      expect(await fourth.hello()).toMatchObject({ type: 'error', code: 'too-many' });
      expect(plugged.counts.sessions).toBe(3);
      // Behind a proxy, another client's address is another count.
      const proxied = await ChatClient.connect(base, { 'X-Forwarded-For': '198.51.100.7, 203.0.113.5' });
      opened.push(proxied);
      expect((await proxied.hello()).type).toBe('welcome');
      expect(plugged.state).toBe('active');
    } finally {
      for (const c of opened) c.drop();
      await limited.close();
      await remove();
    }
  });
});
