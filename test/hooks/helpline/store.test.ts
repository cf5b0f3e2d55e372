// The helpline's tables on SQLite and PostgreSQL: two porter instances pairing from one
// database at once never put two clients in one room nor one client in two rooms, and serve the
// queue in order; the state table; erasing old message bodies; statistics; config errors.
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigRefs } from '../../../src/core/component.js';
import { helplineConfigSchema } from '../../../src/hooks/helpline/index.js';
import { nextState } from '../../../src/hooks/helpline/states.js';
import { helplineStats } from '../../../src/hooks/helpline/stats.js';
import { HELPLINE_MIGRATION_OWNER, HelplineStore, helplineMigrations, PairingRace } from '../../../src/hooks/helpline/store.js';
import { Store } from '../../../src/services/store/index.js';
import { tempDir } from '../../helpers/host.js';
import { createTestDatabase } from '../../peers/postgres.js';

const log = pino({ level: 'silent' });

const stores: [string, (dir: string) => Promise<{ url: string; drop(): Promise<void> }>][] = [
  ['SQLite', async (dir) => ({ url: `sqlite:${join(dir, 'porter.db')}`, drop: async () => {} })],
  ['PostgreSQL', () => createTestDatabase()],
];

describe.each(stores)('helpline store on %s', (_name, makeStore) => {
  let dir: { dir: string; remove(): Promise<void> };
  let database: { url: string; drop(): Promise<void> };
  let one: Store;
  let two: Store;

  beforeAll(async () => {
    dir = await tempDir();
    database = await makeStore(dir.dir);
    one = await Store.open(database.url, { baseDir: dir.dir, log });
    await one.migrate(HELPLINE_MIGRATION_OWNER, helplineMigrations);
    // A second instance on PostgreSQL; SQLite is one porter's file, shared by the hooks of one process.
    two = database.url.startsWith('postgres') ? await Store.open(database.url, { baseDir: dir.dir, log }) : one;
  }, 60_000);

  afterAll(async () => {
    await one?.close();
    if (two !== one) await two?.close();
    await database?.drop();
    await dir?.remove();
  });

  it('pairs each client once and each room once, in queue order, with two instances racing', async () => {
    const a = new HelplineStore(one, 'race');
    const b = new HelplineStore(two, 'race');
    const rooms: string[] = [];
    for (let i = 0; i < 20; i++) {
      const room = `room-${i}@conference.localhost`;
      await a.addRoom(room, `pw-${i}`);
      expect(await a.claimRoom(`staff-${i}`, 3)).not.toBe('none');
      expect(await a.transition(room, 'available', 'staffWaiting')).toBe(true);
      rooms.push(room);
    }
    const tickets: string[] = [];
    for (let i = 0; i < 30; i++)
      tickets.push((await (i % 2 ? a : b).enqueue(`ticket-${String(i).padStart(4, '0')}xx`, 'fp', `n${i}`)).ticket);
    const attempt = (s: HelplineStore, room: string) =>
      s.pair(room).catch((error: unknown) => {
        if (error instanceof PairingRace) return undefined;
        throw error;
      });
    // Every room is tried by both instances at once, twice over.
    const results = await Promise.all(rooms.flatMap((room) => [attempt(a, room), attempt(b, room), attempt(b, room), attempt(a, room)]));
    // A room whose every attempt lost a race is tried again, as the desk does.
    for (const room of rooms) if (!(await a.room(room))?.ticket) results.push(await attempt(b, room));
    const paired = results.filter((r) => r !== undefined);
    expect(paired).toHaveLength(20);
    expect(new Set(paired.map((t) => t?.ticket)).size).toBe(20);
    expect(new Set(paired.map((t) => t?.room)).size).toBe(20);
    for (const room of rooms) expect((await a.room(room))?.ticket).toBeTruthy();
    // The first twenty in the queue, and the other ten still waiting in order.
    expect(new Set(paired.map((t) => t?.ticket))).toEqual(new Set(tickets.slice(0, 20)));
    expect((await b.waiting()).map((t) => t.ticket)).toEqual(tickets.slice(20));
    const last = await b.ticket(tickets[29] as string);
    expect(last && (await b.position(last))).toBe(10);
  });

  it('releases a room given to staff who did not come in, unless they came in first; the limit counts it until then', async () => {
    const a = new HelplineStore(one, 'release');
    const b = new HelplineStore(two, 'release');
    await a.addRoom('late@conference.localhost', 'pw-late', 1_000);
    await a.addRoom('came@conference.localhost', 'pw-came', 1_001);
    expect(await a.claimRoom('cy', 2, () => true, 5_000)).toMatchObject({
      room: 'late@conference.localhost',
      staff: 'cy',
      state_at: 5_000,
    });
    expect(await a.claimRoom('cy', 2, () => true, 6_000)).toMatchObject({ room: 'came@conference.localhost', state_at: 6_000 });
    expect(await a.claimRoom('cy', 2)).toBe('limit');
    expect((await b.unjoinedClaims(5_500)).map((r) => r.room)).toEqual(['late@conference.localhost']);
    const stale = await b.unjoinedClaims(10_000);
    expect(stale.map((r) => r.room)).toEqual(['late@conference.localhost', 'came@conference.localhost']);
    // cy comes into the second room before the release: it stays theirs.
    expect(await a.transition('came@conference.localhost', 'available', 'staffWaiting')).toBe(true);
    expect(await b.releaseClaim(stale[0]!, 'pw-new', 11_000)).toBe(true);
    expect(await b.releaseClaim(stale[1]!, 'pw-other', 11_000)).toBe(false);
    // A second release of the same claim (another instance) finds nothing to do.
    expect(await a.releaseClaim(stale[0]!, 'pw-third', 11_000)).toBe(false);
    expect(await a.room('late@conference.localhost')).toMatchObject({ staff: null, password: 'pw-new', state: 'available' });
    expect(await a.room('came@conference.localhost')).toMatchObject({ staff: 'cy', password: 'pw-came', state: 'staffWaiting' });
    expect(await a.claimRoom('cy', 2)).toMatchObject({ room: 'late@conference.localhost' });
  });

  it('gives a staff member no more rooms than their limit, and refuses a transition from a stale state', async () => {
    const s = new HelplineStore(one, 'limit');
    for (let i = 0; i < 3; i++) await s.addRoom(`l-${i}`, 'pw');
    expect(await s.claimRoom('ada', 2)).toMatchObject({ staff: 'ada' });
    expect(await s.claimRoom('ada', 2)).toMatchObject({ staff: 'ada' });
    expect(await s.claimRoom('ada', 2)).toBe('limit');
    expect(await s.transition('l-0', 'chatting', 'lost')).toBe(false);
    expect(await s.transition('l-0', 'available', 'staffWaiting')).toBe(true);
    expect((await s.changes('l-0')).map((c) => [c.from_state, c.to_state])).toEqual([['available', 'staffWaiting']]);
  });

  it('lets an invitation not taken up lapse and frees its room for the next client', async () => {
    const s = new HelplineStore(one, 'lapse');
    await s.addRoom('r1', 'pw');
    await s.claimRoom('ada', 3);
    await s.transition('r1', 'available', 'staffWaiting');
    await s.enqueue('gone-away-ticket', 'fp', 'n1');
    await s.enqueue('next-in-line-tk', 'fp', 'n2');
    expect((await s.pair('r1', 1000))?.ticket).toBe('gone-away-ticket');
    expect(await s.expireInvites(500)).toEqual([]);
    expect(await s.expireInvites(2000)).toEqual(['r1']);
    expect((await s.ticket('gone-away-ticket'))?.state).toBe('left');
    expect((await s.pair('r1'))?.ticket).toBe('next-in-line-tk');
  });

  it('erases message bodies after the configured days and keeps the rows', async () => {
    const s = new HelplineStore(one, 'erase');
    const day = 86_400_000;
    await s.addMessage('r', 'client', 'old words', Date.now() - 40 * day);
    await s.addMessage('r', 'staff', 'new words', Date.now());
    expect(await s.eraseBodies(Date.now() - 30 * day)).toBe(1);
    expect((await s.messages('r')).map((m) => m.body)).toEqual([null, 'new words']);
  });
});

describe('the room state table', () => {
  it('allows exactly HelpIM’s transitions', () => {
    expect(nextState('available', 'staffJoins')).toBe('staffWaiting');
    expect(nextState('staffWaiting', 'clientJoins')).toBe('chatting');
    expect(nextState('chatting', 'cleanLeave')).toBe('closingChat');
    expect(nextState('chatting', 'dirtyLeave')).toBe('lost');
    expect(nextState('lost', 'dirtyLeave')).toBe('abandoned');
    expect(nextState('lost', 'cleanLeave')).toBe('toDestroy');
    expect(nextState('closingChat', 'dirtyLeave')).toBe('toDestroy');
    expect(nextState('staffWaiting', 'cleanLeave')).toBe('toDestroy');
    expect(nextState('abandoned', 'cleanup')).toBe('destroyed');
    expect(nextState('chatting', 'clientJoins')).toBeUndefined();
    expect(nextState('available', 'clientJoins')).toBeUndefined();
    expect(nextState('chatting', 'cleanup')).toBeUndefined();
    expect(nextState('abandoned', 'dirtyLeave')).toBeUndefined();
  });
});

describe('statistics', () => {
  it('reports waits, the share who waited 15 s or more, and chat durations', () => {
    const stats = helplineStats(
      [
        { created_at: 0, paired_at: 5000 },
        { created_at: 0, paired_at: 20_000 },
        { created_at: 0, paired_at: null },
      ],
      [{ started_at: 0, ended_at: 60_000 }],
    );
    expect(stats).toMatchObject({ clients: 2, waited15sShare: 0.5, waitSeconds: { max: 20 }, chats: 1, chatSeconds: { p50: 60 } });
  });
});

describe('config', () => {
  const refs = { plug: () => ({}) as never } as unknown as ConfigRefs;
  it('names the key that is wrong', async () => {
    const { z } = await import('zod');
    const schema = helplineConfigSchema({ ...refs, plug: () => z.string() } as unknown as ConfigRefs);
    const good = { plug: 'chat', 'fingerprint-secret': 'x'.repeat(16), staff: { ada: { jid: 'ada@example.org', token: 't'.repeat(16) } } };
    expect(schema.safeParse(good).success).toBe(true);
    const short = schema.safeParse({ ...good, 'fingerprint-secret': 'short' });
    expect(short.error?.issues[0]?.path).toEqual(['fingerprint-secret']);
    const jid = schema.safeParse({ ...good, staff: { ada: { jid: 'ada', token: 't'.repeat(16) } } });
    expect(jid.error?.issues[0]?.path).toEqual(['staff', 'ada', 'jid']);
    expect(schema.safeParse({ ...good, pool: { size: 0 } }).error?.issues[0]?.path).toEqual(['pool', 'size']);
  });

  it('takes a ws:// or wss:// URL and a domain for pages on XMPP, and names what is wrong', async () => {
    const { z } = await import('zod');
    const schema = helplineConfigSchema({ ...refs, plug: () => z.string() } as unknown as ConfigRefs);
    const good = { plug: 'chat', 'fingerprint-secret': 'x'.repeat(16), staff: { ada: { jid: 'ada@example.org', token: 't'.repeat(16) } } };
    const web = { websocket: 'wss://chat.example.org/xmpp-websocket', anonymous: 'anon.example.org' };
    expect(schema.parse({ ...good, web }).web).toEqual(web);
    expect(schema.parse(good).web).toEqual({});
    const http = schema.safeParse({ ...good, web: { websocket: 'https://chat.example.org/xmpp-websocket' } });
    expect(http.error?.issues[0]?.path).toEqual(['web', 'websocket']);
    expect(http.error?.issues[0]?.message).toMatch(/ws:\/\/ or wss:\/\/ URL/);
    expect(schema.safeParse({ ...good, web: { websocket: 'not a url' } }).error?.issues[0]?.path).toEqual(['web', 'websocket']);
    const anon = schema.safeParse({ ...good, web: { anonymous: 'anon@example.org' } });
    expect(anon.error?.issues[0]?.path).toEqual(['web', 'anonymous']);
    expect(anon.error?.issues[0]?.message).toMatch(/expected a domain/);
    expect(schema.safeParse({ ...good, web: { bosh: 'x' } }).success).toBe(false);
  });
});
