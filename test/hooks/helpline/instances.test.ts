// Two porter instances with one helpline on one PostgreSQL, each on its own web chat: each keeps
// its own pool and hands its staff its own rooms, neither one's recovery or upkeep takes the
// other's rooms for its own (re-keying or closing rooms it cannot see), and a room ended through the
// other instance is destroyed by its owner.
import type { Host } from 'porter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HelplineHook } from '../../../src/hooks/helpline/index.js';
import type { RoomRow } from '../../../src/hooks/helpline/store.js';
import { openHost, tempDir } from '../../helpers/host.js';
import { eventually } from '../../helpers/wait.js';
import { createTestDatabase } from '../../peers/postgres.js';
import { type ChatClient, connected } from '../../plugs/webchat/client.js';

const ADA_TOKEN = 'ada-token-0123456789';

let database: { url: string; drop(): Promise<void> };
const dirs: { dir: string; remove(): Promise<void> }[] = [];
const hosts: Record<'a' | 'b', Host> = {} as Record<'a' | 'b', Host>;
const clients: ChatClient[] = [];

function document(instance: string): Record<string, unknown> {
  return {
    store: database.url,
    http: { listen: '127.0.0.1:0' },
    plugs: { web: { path: 'webchat.WebChatPlug', config: { staff: [{ username: 'ada', password: 'ada-password' }] } } },
    hooks: {
      desk: {
        path: 'helpline.HelplineHook',
        config: {
          plug: 'web',
          instance,
          pool: { size: 1 },
          upkeep: 3600,
          'fingerprint-secret': 'a-secret-of-enough-length',
          staff: { ada: { address: 'staff/ada', token: ADA_TOKEN } },
        },
      },
    },
  };
}

const desk = (instance: 'a' | 'b') => (hosts[instance].hooks.get('desk') as HelplineHook).desk;

async function available(instance: 'a' | 'b'): Promise<{ status: number; room?: string }> {
  const url = hosts[instance].http?.url.replace(/\/$/, '') ?? '';
  const response = await fetch(`${url}/api/helpline/staff/ada/available`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADA_TOKEN}` },
  });
  const body = (await response.json()) as { room?: string };
  return { status: response.status, ...body };
}

async function allRooms(): Promise<RoomRow[]> {
  return desk('a').store.rooms();
}

beforeAll(async () => {
  database = await createTestDatabase();
  for (const instance of ['a', 'b'] as const) {
    const dir = await tempDir();
    dirs.push(dir);
    hosts[instance] = (await openHost(document(instance), dir.dir)).host;
  }
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.drop();
  for (const host of Object.values(hosts)) await host?.close();
  for (const dir of dirs) await dir.remove();
  await database?.drop();
});

describe('several instances on one PostgreSQL', () => {
  it('each keeps its own pool and gives its staff its own rooms', async () => {
    const rooms = await eventually('a ready room of each instance', async () => {
      const rows = await allRooms();
      return rows.filter((r) => r.staff === null).length === 2 ? rows : undefined;
    });
    expect(rooms.map((r) => r.owner).sort()).toEqual(['a', 'b']);
    const atB = await eventually('a room from b', async () => {
      const r = await available('b');
      return r.status === 200 ? r : undefined;
    });
    expect(rooms.find((r) => r.room === atB.room)?.owner).toBe('b');
    const atA = await eventually('a room from a', async () => {
      const r = await available('a');
      return r.status === 200 ? r : undefined;
    });
    expect(rooms.find((r) => r.room === atA.room)?.owner).toBe('a');
  });

  it('leaves the other instance’s rooms alone in recovery and upkeep', async () => {
    const before = new Map((await allRooms()).map((r) => [r.room, r]));
    // What b does at start and at every upkeep; a's rooms are on a's web chat, which b cannot see.
    await desk('b').recover();
    await desk('b').rejoinMissing(true);
    await desk('b').rejoinMissing(true);
    await desk('b').releaseUnjoined(Date.now() + 86_400_000);
    await desk('b').cleanup(Date.now() + 86_400_000);
    const theirs = [...before.values()].filter((r) => r.owner === 'a');
    expect(theirs.length).toBeGreaterThanOrEqual(1);
    for (const was of theirs) {
      const row = await desk('a').store.room(was.room);
      expect(row).toMatchObject({ password: was.password, state: was.state, staff: was.staff });
    }
    // b's own room given to ada and not entered went back to b's pool; a's stays with ada.
    const bRooms = (await allRooms()).filter((r) => r.owner === 'b');
    expect(bRooms.every((r) => r.staff === null)).toBe(true);
    expect((await allRooms()).filter((r) => r.owner === 'a' && r.staff === 'ada')).toHaveLength(1);
  });

  it('an end through the other instance closes the room in the store; its owner destroys it', async () => {
    const row = (await allRooms()).find((r) => r.owner === 'a' && r.staff === 'ada' && r.state === 'available');
    expect(row).toBeDefined();
    const base = hosts.a.http?.url.replace(/\/$/, '') ?? '';
    const ada = await connected(`${base.replace(/^http/, 'ws')}/chat/ws`, { username: 'ada', password: 'ada-password' });
    clients.push(ada);
    expect(await ada.join(row!.room, row!.password)).toBe('joined');
    await eventually('ada waiting', async () => ((await desk('a').store.room(row!.room))?.state === 'staffWaiting' ? true : undefined));
    const urlB = hosts.b.http?.url.replace(/\/$/, '') ?? '';
    const ended = await fetch(`${urlB}/api/helpline/rooms/${encodeURIComponent(row!.room)}/end`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADA_TOKEN}` },
    });
    expect(ended.status).toBe(200);
    expect((await desk('a').store.room(row!.room))?.state).toBe('toDestroy');
    await desk('b').cleanup(Date.now() + 86_400_000);
    expect((await desk('a').store.room(row!.room))?.state).toBe('toDestroy');
    await desk('a').cleanup(Date.now() + 86_400_000);
    expect((await desk('a').store.room(row!.room))?.state).toBe('destroyed');
    await ada.waitFor('the room ending', (f) => f.room === row!.room && f.type === 'destroyed');
  });
});
