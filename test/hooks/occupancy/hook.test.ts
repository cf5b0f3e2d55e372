// The occupancy hook end to end in a real host: pushes over HTTP, tkbd's Joyce, WebSocket, the
// history API, restarts, a mirror following a master process that is killed and restarted, and
// the board in Debian's Chromium.
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import type { Host } from 'porter';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { OccupancyHook } from '../../../src/hooks/occupancy/index.js';
import { BIN } from '../../helpers/cli.js';
import { openHost, tempDir } from '../../helpers/host.js';
import { until } from '../../helpers/wait.js';
import { launchChromium } from '../../peers/chromium.js';

const TOKEN = 'test-push-token';

function boardConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    path: 'occupancy.OccupancyHook',
    config: {
      rooms: { hg137: { name: 'HG00.137', pcs: ['hg137pc*'] }, lib: { name: 'Library', pcs: ['libpc*'] } },
      tags: { hg: ['hg137'], all: ['hg137', 'lib'] },
      push: { token: TOKEN },
      ...extra,
    },
  };
}

let dir: string;
let remove: () => Promise<void>;
let host: Host | undefined;

beforeEach(async () => {
  ({ dir, remove } = await tempDir());
});
afterEach(async () => {
  await host?.close();
  host = undefined;
  await remove();
});

async function openBoard(extra: Record<string, unknown> = {}): Promise<{ host: Host; base: string }> {
  ({ host } = await openHost({ http: { listen: '127.0.0.1:0' }, hooks: { board: boardConfig(extra) } }, dir));
  return { host, base: host.http?.url.replace(/\/$/, '') ?? '' };
}

async function push(base: string, data: unknown, token = TOKEN): Promise<{ status: number; body: string }> {
  const res = await fetch(`${base}/push`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(data),
  });
  return { status: res.status, body: await res.text() };
}

async function joyce(base: string, messages: unknown): Promise<[string, Record<string, unknown>[], unknown[]]> {
  const res = await fetch(`${base}/joyce?m=${encodeURIComponent(JSON.stringify(messages))}`);
  return (await res.json()) as [string, Record<string, unknown>[], unknown[]];
}

describe('occupancy hook', () => {
  it('takes a push and shows it to Joyce clients, as tkbd does', async () => {
    const { base } = await openBoard();
    const [token, welcome] = await joyce(base, null);
    expect(welcome.map((m) => m.type)).toEqual(['welcome', 'tags']);
    // A request with nothing to answer would be held as the poll; asking for something answers it at once.
    const [, first] = await joyce(base, [
      token,
      { type: 'set_msgFilter', occupation: ['hg'], roomMap: ['hg'], schedule: null },
      { type: 'get_occupation' },
    ]);
    expect(first).toEqual([{ type: 'occupation', version: 0, occupation: {} }]);
    expect(
      await push(base, { datasource: 'scan', data: { HG137PC01: { status: 'used', session: 'linux' }, libpc1: { status: 'free' } } }),
    ).toEqual({
      status: 200,
      body: 'true',
    });
    const [, messages] = await joyce(base, [token]);
    // The room map first (a new PC), then the occupation change, and nothing of the library.
    expect(messages.map((m) => m.type)).toEqual(['roomMap', 'occupation_update']);
    expect(messages[0]?.roomMap).toEqual({ hg137: ['HG00.137', ['hg137pc01']] });
    expect(messages[1]?.update).toEqual({ hg137pc01: 'lu' });
  });

  it('refuses a push without the token, from an address not allowed, or with a bad body, applying nothing', async () => {
    const { base, host: opened } = await openBoard({ push: { token: TOKEN, allow: ['127.0.0.1', '::1'] } });
    expect((await push(base, { datasource: 'scan', data: {} }, 'wrong-token')).status).toBe(401);
    const bad = await push(base, { datasource: 'scan', data: { hg137pc01: { status: 'used' }, hg137pc02: { status: 'sleepy' } } });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body).error).toMatch(/^data\.hg137pc02\.status: unknown status "sleepy"/);
    const unplaced = await push(base, { datasource: 'scan', data: { printer7: { status: 'used' } } });
    expect(unplaced.status).toBe(400);
    expect(JSON.parse(unplaced.body).error).toMatch(/printer7/);
    expect([...(opened.hooks.get('board') as OccupancyHook).service.state.occupation.keys()]).toEqual([]);
    await opened.close();
    host = undefined;
    const other = await openBoard({ push: { token: TOKEN, allow: ['10.9.8.7'] } });
    expect((await push(other.base, { datasource: 'scan', data: {} })).status).toBe(403);
  });

  it("reads a push's body as JSON whatever its content type, and refuses one that is not JSON", async () => {
    const { base } = await openBoard();
    const asForm = await fetch(`${base}/push`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ datasource: 'log', data: { hg137pc01: { event: 'logon' } } }),
    });
    expect([asForm.status, await asForm.text()]).toEqual([200, 'true']);
    const notJson = await fetch(`${base}/push`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: '{"datasource": "log", "data": {',
    });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: string }).error).toMatch(/^the body is not JSON/);
  });

  it('streams changes over WebSocket with sequence numbers, filtered by tag', async () => {
    const { base } = await openBoard();
    await push(base, { datasource: 'scan', data: { hg137pc01: { status: 'free' }, libpc1: { status: 'free' } } });
    const ws = new WebSocket(`${base.replace('http', 'ws')}/occupancy/ws?tags=hg`);
    const frames: { seq: number; messages: Record<string, unknown>[] }[] = [];
    ws.on('message', (data) => frames.push(JSON.parse(String(data))));
    await new Promise((resolve) => ws.once('open', resolve));
    await until(() => frames.length > 0);
    const full = frames.flatMap((f) => f.messages);
    expect(full.find((m) => m.type === 'occupation')?.occupation).toEqual({ hg137pc01: 'wf' });
    const before = frames.at(-1)?.seq ?? 0;
    await push(base, { datasource: 'log', data: { hg137pc01: { event: 'logon' }, libpc1: { event: 'logon' } } });
    await until(() => frames.some((f) => f.seq > before));
    const update = frames.filter((f) => f.seq > before).flatMap((f) => f.messages);
    expect(update).toEqual([{ type: 'occupation_update', version: expect.any(Number), update: { hg137pc01: 'wu' } }]);
    ws.close();
  });

  it('answers history by tag and time as JSON and CSV, and get_historic_updates oldest first', async () => {
    const { base } = await openBoard();
    await push(base, { datasource: 'scan', data: { hg137pc01: { status: 'free' }, libpc1: { status: 'used' } } });
    await push(base, { datasource: 'log', data: { hg137pc01: { event: 'logon' } } });
    const json = (await (await fetch(`${base}/occupancy/api/history?tag=hg`)).json()) as {
      total: number;
      records: { pc: string; state: string }[];
    };
    expect(json.total).toBe(2);
    expect(json.records.map((r) => [r.pc, r.state])).toEqual([
      ['hg137pc01', 'wf'],
      ['hg137pc01', 'wu'],
    ]);
    const csv = await fetch(`${base}/occupancy/api/history?room=lib&format=csv`);
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    expect((await csv.text()).trim().split('\n')).toEqual([
      'seq,time,pc,source,state',
      expect.stringMatching(/^\d+,\d{4}-.*Z,libpc1,scan,wu$/),
    ]);
    expect((await fetch(`${base}/occupancy/api/history?tag=nope`)).status).toBe(400);
    expect((await fetch(`${base}/occupancy/api/history?from=yesterday`)).status).toBe(400);
    const [token] = await joyce(base, null);
    const [, answer] = await joyce(base, [token, { type: 'get_historic_updates', offset: 1, count: 5 }]);
    const historic = answer.find((m) => m.type === 'historic_updates');
    expect(historic?.updates).toEqual([
      ['libpc1', 'scan', expect.any(Number), 'wu'],
      ['hg137pc01', 'log', expect.any(Number), 'wu'],
    ]);
  });

  it('keeps state, versions and the room map across a restart', async () => {
    const first = await openBoard();
    await push(first.base, { datasource: 'scan', data: { hg137pc01: { status: 'used' } } });
    const [t1] = await joyce(first.base, null);
    const [, before] = await joyce(first.base, [
      t1,
      { type: 'set_msgFilter', occupation: null, roomMap: null },
      { type: 'get_occupation' },
      { type: 'get_roomMap' },
    ]);
    await first.host.close();
    host = undefined;
    const second = await openBoard();
    const [t2] = await joyce(second.base, null);
    const [, after] = await joyce(second.base, [
      t2,
      { type: 'set_msgFilter', occupation: null, roomMap: null },
      { type: 'get_occupation' },
      { type: 'get_roomMap' },
    ]);
    expect(after).toEqual(before);
  });
});

describe('occupancy mirror', () => {
  let master: ChildProcess | undefined;
  afterEach(() => {
    master?.kill('SIGKILL');
  });

  async function startMaster(file: string): Promise<void> {
    master = spawn(process.execPath, [BIN, 'run', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    const proc = master;
    await new Promise<void>((resolve, reject) => {
      let out = '';
      proc.stdout?.on('data', (d) => {
        out += d;
        if (out.includes('ready in')) resolve();
      });
      proc.on('exit', (code) => reject(new Error(`master exited ${code}: ${out}`)));
    });
  }

  it('follows a master, and catches up after the master is killed and restarted', async () => {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const masterBase = `http://127.0.0.1:${port}`;
    const file = join(dir, 'master.json');
    await writeFile(
      file,
      JSON.stringify({ store: `sqlite:${join(dir, 'master.db')}`, http: { listen: `127.0.0.1:${port}` }, hooks: { board: boardConfig() } }),
    );
    await startMaster(file);
    await push(masterBase, { datasource: 'scan', data: { hg137pc01: { status: 'used' }, libpc1: { status: 'free' } } });

    ({ host } = await openHost(
      {
        http: { listen: '127.0.0.1:0' },
        hooks: {
          board: {
            path: 'occupancy.OccupancyHook',
            config: {
              rooms: { hg137: { name: 'placeholder' } },
              push: false,
              mirror: { url: `${masterBase}/joyce`, 'request-timeout': 3 },
            },
          },
        },
      },
      dir,
    ));
    const service = (host.hooks.get('board') as OccupancyHook).service;
    await until(() => service.state.occupation.get('hg137pc01') === 'wu' && service.state.occupation.get('libpc1') === 'wf');
    // The mirror places PCs as the master does: its room map is the master's.
    expect(service.state.roomOf('libpc1')).toBe('lib');

    master?.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    await startMaster(file);
    await push(masterBase, { datasource: 'log', data: { hg137pc01: { event: 'logoff' } } });
    await until(() => service.state.occupation.get('hg137pc01') === 'wf', 15_000);
  }, 30_000);
});

describe('the board with the real hook', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
  });

  it('shows free and used PCs of a tag, and the count changes after a push', async () => {
    const { base } = await openBoard();
    await push(base, {
      datasource: 'scan',
      data: { hg137pc01: { status: 'free' }, hg137pc02: { status: 'used' }, hg137pc03: { status: 'free' } },
    });
    const page = await browser.newPage();
    try {
      await page.goto(`${base}/board?tag=hg`);
      const free = page.locator('[data-room="hg137"] .count-free');
      await expect.poll(() => free.textContent(), { timeout: 10_000 }).toBe('2');
      await push(base, { datasource: 'log', data: { hg137pc01: { event: 'logon' } } });
      await expect.poll(() => free.textContent(), { timeout: 10_000 }).toBe('1');
      expect(await page.locator('[data-room="hg137"] .count-used').textContent()).toBe('2');
    } finally {
      await page.close();
    }
  }, 60_000);
});
