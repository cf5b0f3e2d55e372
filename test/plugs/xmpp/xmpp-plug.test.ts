// The xmpp plug against Debian's Prosody, with real second clients: rooms created locked and
// opened by configuration, passwords, invitations, kicks, destruction, real JIDs, clean and
// lost leaves, a MUC room bridged to a loopback channel, reconnecting after a server restart.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { displayName, type Host, leftCleanly, RichText, type RoomUser, type SentMessage } from 'porter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoopbackPlug } from '../../../src/plugs/loopback/index.js';
import { type XmppPlug, xmppConfigSchema } from '../../../src/plugs/xmpp/index.js';
import type { RecorderHook } from '../../fixtures/plugins/recorder.js';
import { type LogRecord, openHost, tempDir } from '../../helpers/host.js';
import { eventually, until } from '../../helpers/wait.js';
import { ANON_DOMAIN, BOT, botPlug, DOMAIN, MUC_DOMAIN, type Prosody, startProsody } from '../../peers/prosody.js';
import { statusCodes, TestClient } from './client.js';

const NS_MUC_USER = 'http://jabber.org/protocol/muc#user';
const LOBBY = `lobby@${MUC_DOMAIN}`;

let prosody: Prosody;
let dir: string;
let removeDir: () => Promise<void>;
let host: Host;
let records: LogRecord[];
const clients: TestClient[] = [];

function plug(): XmppPlug {
  return host.plugs.get('chat') as XmppPlug;
}

function seen(): SentMessage[] {
  return (host.hooks.get('seen') as RecorderHook).seen;
}

async function anonymous(): Promise<TestClient> {
  const c = await TestClient.connect(prosody.service, ANON_DOMAIN);
  clients.push(c);
  return c;
}

async function staff(): Promise<TestClient> {
  const c = await TestClient.connect(prosody.service, DOMAIN, 'staff', 'staff-password');
  clients.push(c);
  return c;
}

const marker = (what: string) => `${what}-${Math.random().toString(36).slice(2, 10)}`;

beforeAll(async () => {
  prosody = await startProsody();
  await prosody.register(BOT.name, BOT.password);
  await prosody.register('staff', 'staff-password');
  ({ dir, remove: removeDir } = await tempDir());
  ({ host, records } = await openHost(
    {
      plugs: {
        chat: botPlug(prosody, { rooms: ['lobby'], status: 'on duty', reconnect: { min: 0.2, max: 2 } }),
        lab: { path: 'loopback.LoopbackPlug', config: { users: [{ id: 'tim', name: 'Tim' }] } },
      },
      channels: {
        lobby: { plug: 'chat', source: LOBBY },
        desk: { plug: 'lab', source: 'desk' },
      },
      hooks: {
        bridge: { path: 'sync.SyncHook', config: { channels: { front: ['lobby', 'desk'] } } },
        seen: { path: 'recorder.RecorderHook' },
      },
    },
    dir,
  ));
}, 120_000);

afterAll(async () => {
  for (const c of clients) await c.stop();
  await host?.close();
  await prosody?.remove();
  await removeDir?.();
});

describe('config', () => {
  const base = { jid: 'bot@example.org', password: 'x' };

  it('allows tls: none only on loopback and names the key', () => {
    const remote = xmppConfigSchema.safeParse({ ...base, service: 'xmpp://example.org:5222', tls: 'none' });
    expect(remote.success).toBe(false);
    expect(remote.error?.issues[0]?.path).toEqual(['tls']);
    expect(xmppConfigSchema.safeParse({ ...base, service: 'xmpp://127.0.0.1:5222', tls: 'none' }).success).toBe(true);
  });

  it('refuses a bad JID, a TLS mode that contradicts the service and a backoff upside down', () => {
    expect(xmppConfigSchema.safeParse({ ...base, jid: 'no-at-sign' }).error?.issues[0]?.path).toEqual(['jid']);
    expect(xmppConfigSchema.safeParse({ ...base, service: 'xmpp://example.org', tls: 'direct' }).error?.issues[0]?.path).toEqual([
      'service',
    ]);
    expect(xmppConfigSchema.safeParse({ ...base, reconnect: { min: 5, max: 1 } }).error?.issues[0]?.path).toEqual(['reconnect', 'min']);
  });
});

describe('tls', () => {
  it('with tls: starttls, does not log in to a server that offers no STARTTLS', async () => {
    const logins = async () =>
      ((await readFile(join(prosody.dir, 'prosody.log'), 'utf8')).match(/Authenticated as porterbot@/g) ?? []).length;
    const before = await logins();
    const { dir: strictDir, remove } = await tempDir();
    const { host: strict, records: logs } = await openHost(
      {
        plugs: {
          chat: { path: 'xmpp.XmppPlug', config: { jid: BOT.jid, password: BOT.password, service: prosody.service } },
        },
      },
      strictDir,
    );
    try {
      await until(() => logs.some((r) => r.msg === 'plug failed to open; retrying'), 15_000);
      const failure = logs.find((r) => r.msg === 'plug failed to open; retrying');
      expect((failure?.err as { message?: string } | undefined)?.message).toMatch(
        /offers no STARTTLS \(tls: starttls\); not logging in unencrypted/,
      );
      expect(strict.plugs.get('chat')?.state).not.toBe('active');
      // Nothing was negotiated on the plain stream: the server saw no login.
      expect(await logins()).toBe(before);
    } finally {
      await strict.close();
      await remove();
    }
  });
});

describe('websocket', () => {
  it('connects over WebSocket and joins its rooms', async () => {
    const { dir: wsDir, remove } = await tempDir();
    const room = `${marker('ws')}@${MUC_DOMAIN}`;
    const { host: other } = await openHost(
      {
        plugs: {
          chat: {
            path: 'xmpp.XmppPlug',
            config: {
              jid: `staff@${DOMAIN}`,
              password: 'staff-password',
              service: prosody.websocket,
              tls: 'none',
              resource: 'ws',
              rooms: [room],
            },
          },
        },
      },
      wsDir,
    );
    try {
      const wsPlug = other.plugs.get('chat') as XmppPlug;
      await until(() => wsPlug.online, 15_000);
      const client = await anonymous();
      expect(await client.join(room, 'visitor')).toBe('joined');
      await eventually('the visitor seen over WebSocket', async () =>
        (await wsPlug.occupants(wsPlug.channel(room))).some((o) => o.nick === 'visitor') ? true : undefined,
      );
    } finally {
      await other.close();
      await remove();
    }
  });
});

describe('rooms', () => {
  it('declares rooms as a capability', async () => {
    const { isRoomsCapable } = await import('porter');
    expect(isRoomsCapable(plug())).toBe(true);
    expect(isRoomsCapable(host.plugs.get('lab')!)).toBe(false);
  });

  it('keeps a new room locked until it is configured, then lets in only those with the password', async () => {
    const name = marker('locked');
    const { channel, created } = await plug().joinRoom(name);
    expect(created).toBe(true);
    const client = await anonymous();
    expect(await client.join(channel.source, 'early')).toBe('item-not-found');
    await plug().configureRoom(channel, { password: 'sesame', historyLength: 5 });
    expect(await client.join(channel.source, 'nopass')).toBe('not-authorized');
    expect(await client.join(channel.source, 'wrongpass', 'open-up')).toBe('not-authorized');
    expect(await client.join(channel.source, 'ada', 'sesame')).toBe('joined');
  });

  it('creates a configured room in one call; the invitation carries the password', async () => {
    const channel = await plug().createRoom({ password: 'pw-invite', maxOccupants: 2 });
    expect(channel.source.endsWith(`@${MUC_DOMAIN}`)).toBe(true);
    const client = await anonymous();
    await plug().invite(channel, client.jid, { reason: 'a counsellor is waiting' });
    const invitation = await client.waitFor(
      'an invitation',
      (s) => s.is('message') && s.attrs.from === channel.source && !!s.getChild('x', NS_MUC_USER)?.getChild('invite'),
    );
    const x = invitation.getChild('x', NS_MUC_USER)!;
    expect(x.getChildText('password')).toBe('pw-invite');
    expect(x.getChild('invite')?.getChildText('reason')).toBe('a counsellor is waiting');
    expect(await client.join(channel.source, 'bea', x.getChildText('password') ?? undefined)).toBe('joined');
  });

  it('shows real JIDs to porter as moderator, and reports joins and leaves with clean or lost', async () => {
    const channel = await plug().createRoom({ password: 'pw-presence' });
    const calm = await anonymous();
    const flaky = await anonymous();
    expect(await calm.join(channel.source, 'calm', 'pw-presence')).toBe('joined');
    expect(await flaky.join(channel.source, 'flaky', 'pw-presence')).toBe('joined');
    const occupants = await eventually('both occupants', async () => {
      const list = await plug().occupants(channel);
      return list.length === 2 ? list : undefined;
    });
    expect(Object.fromEntries(occupants.map((o) => [o.nick, o.address]))).toEqual({ calm: calm.jid, flaky: flaky.jid });
    // The other occupants see no real JID: the room shows them to moderators only.
    const flakyInCalm = await calm.waitFor('flaky joining', (s) => s.is('presence') && s.attrs.from === `${channel.source}/flaky`);
    expect(flakyInCalm.getChild('x', NS_MUC_USER)?.getChild('item')?.attrs.jid).toBeUndefined();
    const joins = () =>
      seen()
        .filter((m) => m.channel === channel && m.joined?.length)
        .map((m) => (m.joined![0] as RoomUser).nick);
    await until(() => joins().length === 2, 15_000);
    expect(joins().sort()).toEqual(['calm', 'flaky']);
    expect((seen().find((m) => m.channel === channel && m.joined?.[0]?.username === 'calm')!.joined![0] as RoomUser).address).toBe(
      calm.jid,
    );

    await calm.leave(channel.source, 'calm', 'Clean Exit');
    flaky.drop();
    const left = () =>
      seen()
        .filter((m) => m.channel === channel && m.left?.length)
        .map((m) => m.left![0]!);
    await until(() => left().length === 2, 20_000);
    expect(Object.fromEntries(left().map((u) => [u.username, leftCleanly(u)]))).toEqual({ calm: true, flaky: false });
    expect(await plug().occupants(channel)).toEqual([]);
  });

  it('keeps the occupant cap itself: whoever joins beyond it is removed', async () => {
    const channel = await plug().createRoom({ password: 'pw-cap', maxOccupants: 1 });
    const first = await anonymous();
    const second = await anonymous();
    expect(await first.join(channel.source, 'first', 'pw-cap')).toBe('joined');
    await eventually('the first occupant', async () => ((await plug().occupants(channel)).length === 1 ? true : undefined));
    expect(await second.join(channel.source, 'second', 'pw-cap')).toBe('joined');
    const removed = await second.waitFor('removal', (s) => s.is('presence') && s.attrs.type === 'unavailable' && statusCodes(s).has('307'));
    expect(removed.getChild('x', NS_MUC_USER)?.getChild('item')?.getChildText('reason')).toBe('The room is full');
    await eventually('only the first left', async () => {
      const nicks = (await plug().occupants(channel)).map((o) => o.nick);
      return nicks.length === 1 && nicks[0] === 'first' ? true : undefined;
    });
  });

  it('kicks by real address and destroys the room', async () => {
    const channel = await plug().createRoom({ password: 'pw-kick' });
    const a = await anonymous();
    const b = await anonymous();
    expect(await a.join(channel.source, 'a', 'pw-kick')).toBe('joined');
    expect(await b.join(channel.source, 'b', 'pw-kick')).toBe('joined');
    await eventually('both in the room', async () => ((await plug().occupants(channel)).length === 2 ? true : undefined));
    await plug().kick(channel, a.jid, 'be nice');
    const kicked = await a.waitFor('being kicked', (s) => s.is('presence') && s.attrs.type === 'unavailable' && statusCodes(s).has('307'));
    expect(kicked.getChild('x', NS_MUC_USER)?.getChild('item')?.getChildText('reason')).toBe('be nice');
    await until(() => seen().some((m) => m.channel === channel && (m.left?.[0] as RoomUser | undefined)?.kicked === true));
    await expect(plug().kick(channel, 'nobody-here')).rejects.toThrow(/nobody of that nick/);

    await plug().destroyRoom(channel, 'chat ended');
    const destroyed = await b.waitFor(
      'the room ending',
      (s) => s.is('presence') && s.attrs.type === 'unavailable' && !!s.getChild('x', NS_MUC_USER)?.getChild('destroy'),
    );
    expect(destroyed.getChild('x', NS_MUC_USER)?.getChild('destroy')?.getChildText('reason')).toBe('chat ended');
    // Gone: an anonymous client may not create rooms, and the room is no more.
    expect(await b.join(channel.source, 'b', 'pw-kick')).not.toBe('joined');
    await expect(plug().occupants(channel)).rejects.toThrow(/not in that room/);
  });

  it('fails clearly and logs when the server refuses a configuration or a password', async () => {
    const owner = await staff();
    const theirs = `${marker('theirs')}@${MUC_DOMAIN}`;
    expect(await owner.join(theirs, 'owner')).toBe('joined');
    await owner.unlock(theirs);
    const { channel, created } = await plug().joinRoom(theirs);
    expect(created).toBe(false);
    await expect(plug().configureRoom(channel, { password: 'mine-now' })).rejects.toThrow(/cannot configure room .*forbidden/);
    expect(records.some((r) => r.msg === 'the server refused the room configuration' && r.condition === 'forbidden')).toBe(true);

    await expect(plug().createRoom({ name: 'bad name', password: 'x' })).rejects.toThrow(/not a valid room name/);
    await expect(plug().createRoom({ password: 'x', maxOccupants: -1 })).rejects.toThrow(/maxOccupants must be a whole number/);
    await expect(plug().invite(host.channelByName('lobby')!, 'not a jid')).rejects.toThrow(/not a JID/);

    const room = await plug().createRoom({ password: 'right' });
    const guest = await anonymous();
    expect(await guest.join(room.source, 'guest', 'right')).toBe('joined');
    await plug().leaveRoom(room);
    await expect(plug().rejoinRoom(room, 'wrong')).rejects.toThrow(/not-authorized \(wrong password\)/);
    expect(records.some((r) => r.msg === 'cannot rejoin room' && r.room === room.source)).toBe(true);
    expect(await plug().rejoinRoom(room, 'right')).toBe('joined');

    // Once everyone has left the room, the server forgets it: rejoining creates it anew.
    await guest.leave(room.source, 'guest', 'Clean Exit');
    await until(() => seen().some((m) => m.channel === room && m.left?.[0]?.username === 'guest'));
    await plug().leaveRoom(room);
    expect(await plug().rejoinRoom(room, 'right')).toBe('recreated');
    // …and configured again with its password, so it is not left locked.
    const late = await anonymous();
    expect(await late.join(room.source, 'late')).toBe('not-authorized');
    expect(await late.join(room.source, 'late', 'right')).toBe('joined');
  });
});

describe('bridge', () => {
  it('bridges a MUC room and a loopback channel both ways, with the nick as author, without loops', async () => {
    const lab = host.plugs.get('lab') as LoopbackPlug;
    const ada = await anonymous();
    expect(await ada.join(LOBBY, 'ada')).toBe('joined');
    // porter is present in the room with its status text.
    const presence = await ada.waitFor("porter's presence", (s) => s.is('presence') && s.attrs.from === `${LOBBY}/porter`);
    expect(presence.getChildText('status')).toBe('on duty');
    const hello = marker('hello from xmpp');
    const copied = lab.waitFor('desk', (m) => m.text?.toPlain() === hello, 15_000);
    await ada.say(LOBBY, hello);
    const copy = await copied;
    expect(displayName(copy.user!)).toBe('ada');

    const hi = marker('hi from the desk');
    lab.post('desk', hi, 'tim');
    const inRoom = await ada.waitFor('the copy in the room', (s) => s.is('message') && s.getChildText('body') === `<Tim> ${hi}`);
    expect(inRoom.attrs.from).toBe(`${LOBBY}/porter`);

    // A last line through the room: everything before it has been handled when it arrives.
    const last = marker('last');
    const lastCopied = lab.waitFor('desk', (m) => m.text?.toPlain() === last, 15_000);
    await ada.say(LOBBY, last);
    await lastCopied;
    const desk = lab.history('desk').map((m) => m.text?.toPlain() ?? '');
    expect(desk.filter((t) => t.includes(hello))).toHaveLength(1);
    expect(desk.filter((t) => t.includes(hi))).toHaveLength(1);
  });
});

describe('one-to-one', () => {
  it('carries a one-to-one chat as a private channel, both ways', async () => {
    const person = await staff();
    const text = marker('a private word');
    await person.chat(`porterbot@${DOMAIN}`, text);
    await until(() => seen().some((m) => m.text?.toPlain() === text), 15_000);
    const received = seen().find((m) => m.text?.toPlain() === text)!;
    expect(received.channel.source).toBe(`staff@${DOMAIN}`);
    expect(received.user?.username).toBe('staff');
    expect(await plug().channelIsPrivate(received.channel)).toBe(true);
    expect(await plug().channelIsPrivate(host.channelByName('lobby')!)).toBe(false);

    const answer = marker('an answer');
    const arrived = person.waitFor('the answer', (s) => s.is('message') && s.getChildText('body') === answer);
    await host.send(received.channel, { text: RichText.plain(answer) });
    expect((await arrived).attrs.type).toBe('chat');
  });

  it('changes its status text in its rooms', async () => {
    const watcher = await anonymous();
    expect(await watcher.join(LOBBY, 'status-watcher')).toBe('joined');
    await plug().setStatus('back in five');
    const changed = await watcher.waitFor(
      'the new status',
      (s) => s.is('presence') && s.attrs.from === `${LOBBY}/porter` && s.getChildText('status') === 'back in five',
    );
    expect(changed.attrs.type).toBeUndefined();
    await plug().setStatus('on duty');
  });
});

describe('reconnect', () => {
  it('notices a server that stopped answering, and reconnects once it answers again', async () => {
    const { dir: otherDir, remove } = await tempDir();
    const config = {
      jid: `staff@${DOMAIN}`,
      password: 'staff-password',
      service: prosody.service,
      tls: 'none',
      resource: 'keepalive',
      keepalive: 0.5,
      timeout: 1,
      reconnect: { min: 0.2, max: 1 },
    };
    const { host: other, records: logs } = await openHost({ plugs: { chat: { path: 'xmpp.XmppPlug', config } } }, otherDir);
    const pid = prosody.pid!;
    try {
      const watched = other.plugs.get('chat') as XmppPlug;
      await until(() => watched.online, 15_000);
      let offline = false;
      watched.events.on('offline', () => {
        offline = true;
      });
      const mark = logs.length;
      process.kill(pid, 'SIGSTOP');
      try {
        await until(() => logs.slice(mark).some((r) => r.msg === 'no answer to a ping; dropping the connection to reconnect'), 20_000);
        await until(() => offline && !watched.online, 20_000);
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      await until(() => watched.online, 30_000);
    } finally {
      await other.close();
      await remove();
    }
  }, 90_000);

  it('reconnects with backoff after the server restarts and rejoins its rooms with their passwords', async () => {
    const kept = await plug().createRoom({ password: 'pw-kept', persistent: true });
    const lost = await plug().createRoom({ password: 'pw-lost' });
    const outcomes = new Map<string, string>();
    plug().events.on('rejoined', (channel, outcome) => outcomes.set(channel.source, outcome));
    const offlineAt = records.length;
    await prosody.restart();
    await until(() => outcomes.has(kept.source) && outcomes.has(lost.source) && outcomes.has(LOBBY), 60_000);
    expect(outcomes.get(kept.source)).toBe('joined');
    expect(outcomes.get(lost.source)).toBe('recreated');
    const attempts = records.slice(offlineAt).filter((r) => r.msg === 'XMPP connection lost; reconnecting');
    expect(attempts.length).toBeGreaterThanOrEqual(1);
    expect(attempts[0]!.delayMs).toBe(200);
    for (let i = 1; i < attempts.length; i++) expect(Number(attempts[i]!.delayMs)).toBeGreaterThanOrEqual(Number(attempts[i - 1]!.delayMs));
    expect(plug().online).toBe(true);

    const client = await anonymous();
    expect(await client.join(lost.source, 'back', 'wrong')).toBe('not-authorized');
    expect(await client.join(lost.source, 'back', 'pw-lost')).toBe('joined');
    expect(await client.join(kept.source, 'back', 'pw-kept')).toBe('joined');
    await eventually('porter to see the client', async () =>
      (await plug().occupants(kept)).some((o) => o.address === client.jid) ? true : undefined,
    );
  }, 90_000);
});

describe('stop', () => {
  it('leaves its rooms with the status text Clean Exit when porter stops', async () => {
    const watcher = await anonymous();
    expect(await watcher.join(LOBBY, 'watcher')).toBe('joined');
    await host.close();
    const gone = await watcher.waitFor(
      'porter leaving',
      (s) => s.is('presence') && s.attrs.from === `${LOBBY}/porter` && s.attrs.type === 'unavailable',
    );
    expect(gone.getChildText('status')).toBe('Clean Exit');
  });
});
