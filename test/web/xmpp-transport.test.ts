// The helpline pages' XMPP transport (web/src/helpline/xmpp.ts) in Debian's Chromium against Debian's
// Prosody over WebSocket, from a page on another origin than Prosody's: the transport is bundled by
// Vite for the browser and exposed on the page; porter's xmpp plug owns the password rooms. Anonymous
// and staff logins, a wrong password refused, lines both ways with history, a clean leave seen by
// porter as clean, a lost connection as lost, a kick and a destroyed room seen by the page as removed,
// and a connection the server ends reported as disconnected.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fastify, { type FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { type Host, leftCleanly, RichText, type RoomUser, type SentMessage } from 'porter';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { XmppPlug } from '../../src/plugs/xmpp/index.js';
import type { ChatLine, ChatPresence, ChatReach } from '../../web/src/helpline/transport.js';
import type { RecorderHook } from '../fixtures/plugins/recorder.js';
import { openHost, tempDir } from '../helpers/host.js';
import { eventually, until } from '../helpers/wait.js';
import { launchChromium } from '../peers/chromium.js';
import { ANON_DOMAIN, BOT, botPlug, DOMAIN, MUC_DOMAIN, type Prosody, startProsody } from '../peers/prosody.js';

// A fresh machine installs Chromium and Prosody first.
const LAUNCH_TIMEOUT_MS = 600_000;
const SEEN_MS = 20_000;
const TRANSPORT = new URL('../../web/src/helpline/xmpp.ts', import.meta.url).pathname;

/** What the page records of one connection: its events, by kind. */
interface Seen {
  lines: ChatLine[];
  presence: ChatPresence[];
  removed: { room: string; why: string; reason?: string }[];
  disconnected: string[];
}

// The test entry: `connectXmpp` with events recorded per connection id, driven by page.evaluate.
const ENTRY = `import { connectXmpp } from ${JSON.stringify(TRANSPORT)};
const connections = new Map();
const seen = {};
window.transport = {
  seen,
  async open(id, reach, login) {
    const record = { lines: [], presence: [], removed: [], disconnected: [] };
    seen[id] = record;
    const events = {
      line: (l) => record.lines.push(l),
      presence: (p) => record.presence.push(p),
      removed: (room, why, reason) => record.removed.push({ room, why, reason }),
      disconnected: (reason) => record.disconnected.push(reason),
    };
    try {
      connections.set(id, await connectXmpp(reach, login, events, location.origin));
      return 'ok';
    } catch (error) {
      return 'error: ' + error.message;
    }
  },
  async call(id, method, ...args) {
    try {
      await connections.get(id)[method](...args);
      return 'ok';
    } catch (error) {
      return 'error: ' + error.message;
    }
  },
};
`;

let prosody: Prosody;
let browser: Browser;
let page: Page;
let web: FastifyInstance;
let host: Host;
let buildDir: string;
let removeHostDir: () => Promise<void>;
let reach: ChatReach;

function plug(): XmppPlug {
  return host.plugs.get('chat') as XmppPlug;
}

function seenByPorter(): SentMessage[] {
  return (host.hooks.get('seen') as RecorderHook).seen;
}

async function open(
  id: string,
  login: { kind: 'anonymous' } | { kind: 'staff'; username: string; password: string },
  on: Page = page,
): Promise<string> {
  return on.evaluate(
    ([i, r, l]) => (globalThis as unknown as { transport: { open(...a: unknown[]): Promise<string> } }).transport.open(i, r, l),
    [id, reach, login] as const,
  );
}

async function call(id: string, method: 'join' | 'say' | 'leave' | 'close', args: string[] = [], on: Page = page): Promise<string> {
  return on.evaluate(
    ([i, m, a]) => (globalThis as unknown as { transport: { call(...a: unknown[]): Promise<string> } }).transport.call(i, m, ...a),
    [id, method, args] as const,
  );
}

async function seen(id: string): Promise<Seen> {
  return page.evaluate((i) => (globalThis as unknown as { transport: { seen: Record<string, Seen> } }).transport.seen[i] as Seen, id);
}

/** Waits until the page's record of connection `id` passes `test`, and returns it. */
async function pageSees(id: string, what: string, test: (s: Seen) => boolean): Promise<Seen> {
  return eventually(
    what,
    async () => {
      const s = await seen(id);
      return test(s) ? s : undefined;
    },
    SEEN_MS,
  );
}

function leftSeenByPorter(room: string): RoomUser[] {
  return seenByPorter()
    .filter((m) => m.channel.source === room && m.left?.length)
    .flatMap((m) => m.left as RoomUser[]);
}

beforeAll(async () => {
  prosody = await startProsody();
  await prosody.register(BOT.name, BOT.password);
  await prosody.register('ada', 'ada-password');

  // The transport as a browser gets it: bundled by Vite with its browser resolution.
  buildDir = await mkdtemp(join(tmpdir(), 'porter-xmpp-transport-'));
  await writeFile(join(buildDir, 'entry.js'), ENTRY);
  await build({
    configFile: false,
    root: buildDir,
    logLevel: 'error',
    build: {
      outDir: join(buildDir, 'out'),
      emptyOutDir: true,
      lib: { entry: join(buildDir, 'entry.js'), formats: ['es'], fileName: () => 'transport.js' },
    },
  });
  const script = await readFile(join(buildDir, 'out', 'transport.js'), 'utf8');

  // The page is served from its own origin, not Prosody's: the WebSocket is cross-origin, as in use.
  web = fastify();
  web.get('/', async (_request, reply) =>
    reply.type('text/html').send('<!doctype html><title>transport</title><script type="module" src="/transport.js"></script>'),
  );
  web.get('/transport.js', async (_request, reply) => reply.type('text/javascript').send(script));
  const origin = await web.listen({ host: '127.0.0.1', port: 0 });

  let dir: string;
  ({ dir, remove: removeHostDir } = await tempDir());
  ({ host } = await openHost(
    {
      plugs: {
        chat: botPlug(prosody),
      },
      hooks: { seen: { path: 'recorder.RecorderHook' } },
    },
    dir,
  ));
  reach = { kind: 'xmpp', muc: MUC_DOMAIN, websocket: prosody.websocket, anonymous: ANON_DOMAIN };

  browser = await launchChromium();
  page = await browser.newPage();
  await page.goto(origin);
  await page.waitForFunction(() => 'transport' in globalThis);
}, LAUNCH_TIMEOUT_MS);

afterAll(async () => {
  await browser?.close();
  await host?.close();
  await web?.close();
  await prosody?.remove();
  await removeHostDir?.();
  if (buildDir) await rm(buildDir, { recursive: true, force: true });
});

describe('the XMPP transport in Chromium', () => {
  it('refuses a wrong staff password, and a reach without a WebSocket URL or an anonymous host', async () => {
    expect(await open('bad', { kind: 'staff', username: `ada@${DOMAIN}`, password: 'not-it' })).toMatch(
      /login refused for ada@localhost: wrong address or password/,
    );
    expect(await open('nojid', { kind: 'staff', username: 'ada', password: 'ada-password' })).toMatch(/bare JID such as ada@example.org/);
    const plain = { kind: 'xmpp', muc: MUC_DOMAIN } as const;
    const noUrl = await page.evaluate(
      ([r]) =>
        (globalThis as unknown as { transport: { open(...a: unknown[]): Promise<string> } }).transport.open('x', r, { kind: 'anonymous' }),
      [plain] as const,
    );
    expect(noUrl).toMatch(/no XMPP WebSocket URL/);
    const noAnon = await page.evaluate(
      ([r]) =>
        (globalThis as unknown as { transport: { open(...a: unknown[]): Promise<string> } }).transport.open('y', r, { kind: 'anonymous' }),
      [{ ...plain, websocket: prosody.websocket }] as const,
    );
    expect(noAnon).toMatch(/no anonymous XMPP host/);
  });

  it('joins a password room anonymously and as staff, refuses a wrong password, and carries lines both ways', async () => {
    const channel = await plug().createRoom({ password: 'pw-chat', historyLength: 5 });
    const room = channel.source;
    await host.send(channel, { text: RichText.plain('said before anyone came') });

    expect(await open('client', { kind: 'anonymous' })).toBe('ok');
    expect(await call('client', 'join', [room, 'wrong-password', 'client-1'])).toMatch(new RegExp(`cannot join ${room}: wrong password`));
    expect(await call('client', 'join', [room, 'pw-chat', 'client-1'])).toBe('ok');
    // The room replays its history, flagged as such.
    const history = await pageSees('client', 'the replayed line', (s) => s.lines.some((l) => l.history));
    expect(history.lines.find((l) => l.history)).toMatchObject({ room, from: 'porter', text: 'said before anyone came', mine: false });

    expect(await open('staff', { kind: 'staff', username: `ada@${DOMAIN}`, password: 'ada-password' })).toBe('ok');
    expect(await call('staff', 'join', [room, 'pw-chat', 'ada'])).toBe('ok');
    // The nick is taken: a second join under it is refused with a reason.
    expect(await open('twin', { kind: 'anonymous' })).toBe('ok');
    expect(await call('twin', 'join', [room, 'pw-chat', 'ada'])).toMatch(/the nick is taken/);
    await pageSees('client', 'ada joining', (s) => s.presence.some((p) => p.nick === 'ada' && p.event === 'joined'));
    // Porter sees the staff member's real JID (it is the room's owner).
    const occupants = await eventually('both occupants', async () => {
      const list = await plug().occupants(channel);
      return list.length === 2 ? list : undefined;
    });
    expect(occupants.find((o) => o.nick === 'ada')?.address).toMatch(/^ada@localhost\//);

    expect(await call('client', 'say', [room, 'hello, is anyone there?'])).toBe('ok');
    const atStaff = await pageSees('staff', 'the client line', (s) => s.lines.some((l) => l.text === 'hello, is anyone there?'));
    expect(atStaff.lines.find((l) => l.text === 'hello, is anyone there?')).toMatchObject({
      from: 'client-1',
      mine: false,
      history: false,
    });
    const own = await pageSees('client', 'the echo of its own line', (s) => s.lines.some((l) => l.text === 'hello, is anyone there?'));
    expect(own.lines.find((l) => l.text === 'hello, is anyone there?')).toMatchObject({ from: 'client-1', mine: true, history: false });
    await until(() => seenByPorter().some((m) => m.channel === channel && m.text?.toPlain() === 'hello, is anyone there?'), SEEN_MS);

    expect(await call('staff', 'say', [room, 'yes, I am here'])).toBe('ok');
    await pageSees('client', 'the staff line', (s) => s.lines.some((l) => l.text === 'yes, I am here' && l.from === 'ada' && !l.mine));
    await host.send(channel, { text: RichText.plain('a word from porter') });
    await pageSees('staff', 'the line from porter', (s) => s.lines.some((l) => l.text === 'a word from porter' && !l.history));

    // A clean leave: porter and the staff page see it as clean.
    expect(await call('client', 'leave', [room])).toBe('ok');
    await until(() => leftSeenByPorter(room).some((u) => u.nick === 'client-1'), SEEN_MS);
    expect(leftCleanly(leftSeenByPorter(room).find((u) => u.nick === 'client-1')!)).toBe(true);
    const gone = await pageSees('staff', 'the client leaving', (s) => s.presence.some((p) => p.nick === 'client-1' && p.event === 'left'));
    expect(gone.presence.find((p) => p.nick === 'client-1' && p.event === 'left')).toMatchObject({ clean: true, kicked: false });
    expect(await call('client', 'say', [room, 'after leaving'])).toMatch(/not in that room/);
    // Leaving is not being removed.
    expect((await seen('client')).removed).toEqual([]);
    await call('staff', 'close');
    await call('twin', 'close');
    await call('client', 'close');
  });

  it('shows a lost connection as lost, a kick and a destroyed room as removed', async () => {
    const channel = await plug().createRoom({ password: 'pw-kick' });
    const room = channel.source;
    expect(await open('kicked', { kind: 'anonymous' })).toBe('ok');
    expect(await open('watcher', { kind: 'anonymous' })).toBe('ok');
    expect(await open('closer', { kind: 'anonymous' })).toBe('ok');
    expect(await call('kicked', 'join', [room, 'pw-kick', 'client-k'])).toBe('ok');
    expect(await call('watcher', 'join', [room, 'pw-kick', 'watcher'])).toBe('ok');
    await pageSees('watcher', 'the other', (s) => s.presence.some((p) => p.event === 'joined'));

    await plug().kick(channel, 'client-k', 'not your room');
    const kicked = await pageSees('kicked', 'the kick', (s) => s.removed.length > 0);
    expect(kicked.removed).toEqual([{ room, why: 'kicked', reason: 'not your room' }]);
    expect(await call('kicked', 'say', [room, 'still here?'])).toMatch(/not in that room/);
    const watched = await pageSees('watcher', 'the kick of another', (s) => s.presence.some((p) => p.event === 'left'));
    expect(watched.presence.find((p) => p.event === 'left')).toMatchObject({ nick: 'client-k', clean: false, kicked: true });

    // A page that goes away without leaving is a lost connection; close() leaves cleanly first.
    const other = await browser.newPage();
    await other.goto(page.url());
    await other.waitForFunction(() => 'transport' in globalThis);
    expect(await open('flaky', { kind: 'anonymous' }, other)).toBe('ok');
    expect(await call('flaky', 'join', [room, 'pw-kick', 'flaky'], other)).toBe('ok');
    expect(await call('closer', 'join', [room, 'pw-kick', 'closer'])).toBe('ok');
    await pageSees('watcher', 'flaky and closer', (s) =>
      ['flaky', 'closer'].every((nick) => s.presence.some((p) => p.nick === nick && p.event === 'joined')),
    );
    await other.close();
    expect(await call('closer', 'close')).toBe('ok');
    await until(() => ['flaky', 'closer'].every((nick) => leftSeenByPorter(room).some((u) => u.nick === nick)), SEEN_MS);
    const cleanness = Object.fromEntries(leftSeenByPorter(room).map((u) => [u.nick, leftCleanly(u)]));
    expect(cleanness).toMatchObject({ flaky: false, closer: true });
    const left = await pageSees('watcher', 'flaky and closer leaving', (s) =>
      ['flaky', 'closer'].every((nick) => s.presence.some((p) => p.nick === nick && p.event === 'left')),
    );
    expect(left.presence.find((p) => p.nick === 'flaky' && p.event === 'left')).toMatchObject({ clean: false, kicked: false });
    expect(left.presence.find((p) => p.nick === 'closer' && p.event === 'left')).toMatchObject({ clean: true, kicked: false });

    await plug().destroyRoom(channel, 'chat ended');
    const ended = await pageSees('watcher', 'the room ending', (s) => s.removed.length > 0);
    expect(ended.removed).toEqual([{ room, why: 'destroyed', reason: 'chat ended' }]);
    expect(ended.disconnected).toEqual([]);
    await call('watcher', 'close');
    await call('kicked', 'close');
  });

  it('tells the page when the server ends the connection, and refuses to join afterwards', async () => {
    const channel = await plug().createRoom({ password: 'pw-last' });
    expect(await open('last', { kind: 'staff', username: `ada@${DOMAIN}`, password: 'ada-password' })).toBe('ok');
    expect(await call('last', 'join', [channel.source, 'pw-last', 'ada'])).toBe('ok');
    await prosody.restart();
    const ended = await pageSees('last', 'the connection ending', (s) => s.disconnected.length > 0);
    expect(ended.disconnected[0]).toMatch(/XMPP connection closed/);
    expect(await call('last', 'join', [channel.source, 'pw-last', 'ada'])).toMatch(/the XMPP connection is closed/);
    expect(await call('last', 'close')).toBe('ok');
  });
});
