// The Board page in Debian's Chromium: served by the web UI module, fed by a stand-in for the
// occupancy stream that speaks protocol.ts's messages; it shows the rooms, follows updates, and
// resumes after a dropped connection.
import { existsSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import fastify, { type FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ServerMessage } from '../../src/hooks/occupancy/protocol.js';
import { serveWebUi, WEB_ROOT } from '../../src/services/http/web.js';
import { launchChromium } from '../peers/chromium.js';

// A fresh machine installs Chromium first.
const LAUNCH_TIMEOUT_MS = 600_000;
const SEEN_TIMEOUT_MS = 10_000;

/** What the real stream sends a new session for the tag `lab`: welcome, then the full state. */
function labState(): ServerMessage[] {
  return [
    { type: 'welcome', protocols: [1] },
    { type: 'tags', version: 1, tags: ['lab', 'library'] },
    { type: 'tagMap', version: 1, tagMap: { lab: ['hg761', 'hg023'], library: ['lib'] } },
    {
      type: 'roomMap',
      version: 1,
      roomMap: {
        hg761: ['HG 07.61', ['hg761pc1', 'hg761pc2', 'hg761pc3', 'hg761pc4', 'hg761pc5']],
        hg023: ['HG 00.23', ['hg023pc1', 'hg023pc2']],
      },
    },
    {
      type: 'occupation',
      version: 5,
      occupation: { hg761pc1: 'wf', hg761pc2: 'lf', hg761pc3: 'o', hg761pc4: 'wu', hg761pc5: 'lx', hg023pc1: 'x', hg023pc2: 'lu' },
    },
    {
      type: 'schedule',
      version: 1,
      schedule: {
        hg761: [
          [[10, 0], [11, 45], 'Algorithms lecture'],
          [[13, 15], [15, 0], 'Lab session B'],
        ],
      },
    },
  ];
}

/** A test-only `GET /occupancy/stream`: the SSE framing the board expects, with sends under the test's control. */
class FakeStream {
  readonly requests: { tags: string | undefined; lastEventId: string | undefined }[] = [];
  /** What a session resuming after `Last-Event-ID` gets. */
  resume: ServerMessage[] = [];
  readonly #clients = new Set<ServerResponse>();
  #seq = 0;

  route(app: FastifyInstance): void {
    app.get<{ Querystring: { tags?: string } }>('/occupancy/stream', (request, reply) => {
      const lastEventId = request.headers['last-event-id'];
      this.requests.push({ tags: request.query.tags, lastEventId: typeof lastEventId === 'string' ? lastEventId : undefined });
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      // The browser waits this long before reconnecting: keeps the resume test short.
      res.write('retry: 100\n\n');
      this.#clients.add(res);
      res.on('close', () => this.#clients.delete(res));
      this.#write(res, lastEventId === undefined ? labState() : this.resume);
    });
  }

  get clients(): number {
    return this.#clients.size;
  }

  send(messages: ServerMessage[]): void {
    for (const res of this.#clients) this.#write(res, messages);
  }

  /** Cuts every connection the way a network drop does; the browser reconnects by itself. */
  drop(): void {
    for (const res of this.#clients) res.destroy();
  }

  #write(res: ServerResponse, messages: ServerMessage[]): void {
    this.#seq += 1;
    res.write(`id: ${this.#seq}\ndata: ${JSON.stringify(messages)}\n\n`);
  }

  get seq(): number {
    return this.#seq;
  }
}

let browser: Browser;
let app: FastifyInstance;
let base: string;
let stream: FakeStream;
let page: Page;

beforeAll(async () => {
  if (!existsSync(join(WEB_ROOT, 'index.html'))) throw new Error(`${WEB_ROOT} has no build of the web UI: run npm run build`);
  browser = await launchChromium();
}, LAUNCH_TIMEOUT_MS);

afterAll(async () => {
  await browser?.close();
});

beforeEach(async () => {
  stream = new FakeStream();
  app = fastify({ forceCloseConnections: true });
  expect(await serveWebUi(app)).toBe(true);
  stream.route(app);
  base = await app.listen({ host: '127.0.0.1', port: 0 });
  const context = await browser.newContext();
  page = await context.newPage();
  // 10:30 local time in the page: between the lecture's start and the lab session.
  await page.clock.setFixedTime(new Date(2026, 2, 2, 10, 30));
});

afterEach(async () => {
  await page?.context().close();
  stream.drop();
  await app.close();
});

const text = (selector: string) => page.locator(selector).first().textContent({ timeout: SEEN_TIMEOUT_MS });
const counts = async (room: string) => [await text(`[data-room="${room}"] .count-free`), await text(`[data-room="${room}"] .count-used`)];

describe('the board', () => {
  it('shows every room of the tag with its counts, PCs and reservations, and follows an update', async () => {
    await page.goto(`${base}/board?tag=lab`);
    await expect.poll(() => counts('hg761'), { timeout: SEEN_TIMEOUT_MS }).toEqual(['3', '2']);
    expect(await counts('hg023')).toEqual(['0', '2']);
    expect(stream.requests).toEqual([{ tags: 'lab', lastEventId: undefined }]);

    // Rooms in the tag map's order, by display name.
    expect(await page.locator('.room h2').allTextContents()).toEqual(['HG 07.61', 'HG 00.23']);
    expect(await page.locator('h1').textContent()).toBe('lab');
    expect(await page.locator('.board-total').textContent()).toBe('3 of 7 free');
    expect(await page.locator('[data-room="hg761"] .pc').evaluateAll((els) => els.map((el) => el.className))).toEqual([
      'pc pc-free',
      'pc pc-free',
      'pc pc-off',
      'pc pc-used',
      'pc pc-booted',
    ]);
    expect(await page.locator('[data-pc="hg023pc1"]').getAttribute('class')).toBe('pc pc-unknown');
    expect(await text('[data-room="hg761"] .schedule-now dd')).toBe('10:00–11:45 Algorithms lecture');
    expect(await text('[data-room="hg761"] .schedule-next dd')).toBe('13:15–15:00 Lab session B');
    expect(await text('[data-room="hg023"] .schedule')).toBe('No more reservations today.');
    expect(await page.locator('.tag-picker option').allTextContents()).toEqual(['all rooms', 'lab', 'library']);
    expect(await text('.connection')).toBe('live');

    stream.send([{ type: 'occupation_update', version: 6, update: { hg761pc1: 'wu', hg023pc2: 'lf' } }]);
    await expect.poll(() => counts('hg761'), { timeout: SEEN_TIMEOUT_MS }).toEqual(['2', '3']);
    expect(await counts('hg023')).toEqual(['1', '1']);
    expect(await page.locator('[data-pc="hg761pc1"]').getAttribute('class')).toBe('pc pc-used');
  });

  it('resumes after a dropped connection with Last-Event-ID, and takes the full state after a reload', async () => {
    await page.goto(`${base}/board?tag=lab`);
    await expect.poll(() => counts('hg761'), { timeout: SEEN_TIMEOUT_MS }).toEqual(['3', '2']);
    stream.resume = [
      { type: 'welcome', protocols: [1] },
      { type: 'reload', seq: 9 },
      ...labState().filter((m) => m.type === 'roomMap'),
      { type: 'occupation', version: 9, occupation: { hg761pc5: 'wu' } },
    ];
    const seen = stream.seq;
    stream.drop();
    await expect.poll(() => stream.requests.length, { timeout: SEEN_TIMEOUT_MS }).toBe(2);
    expect(stream.requests[1]).toEqual({ tags: 'lab', lastEventId: String(seen) });
    // After the reload only hg761pc5 has a state: it is used, and the PCs without one count as used.
    await expect.poll(() => counts('hg761'), { timeout: SEEN_TIMEOUT_MS }).toEqual(['0', '5']);
    expect(await page.locator('.schedule').count()).toBe(0);
  });

  it('fills a wall screen without the nav and the tag picker', async () => {
    await page.setViewportSize({ width: 1920, height: 1080 });
    await page.goto(`${base}/board?tag=lab&wall=1`);
    await expect.poll(() => counts('hg761'), { timeout: SEEN_TIMEOUT_MS }).toEqual(['3', '2']);
    expect(await page.locator('header.top').count()).toBe(0);
    expect(await page.locator('.tag-picker').count()).toBe(0);
    // Strings, because the tests' type-check has no DOM library.
    const fontSize = await page.evaluate<string>("getComputedStyle(document.querySelector('.app')).fontSize");
    expect(Number.parseFloat(fontSize)).toBeGreaterThan(16);
  });

  it('lists the tags to choose from when no tag is given, and opens the board of the one chosen', async () => {
    stream.resume = [];
    await page.goto(`${base}/board`);
    await page.locator('.tag-picker option', { hasText: 'library' }).waitFor({ state: 'attached', timeout: SEEN_TIMEOUT_MS });
    expect(stream.requests[0]).toEqual({ tags: undefined, lastEventId: undefined });
    await page.locator('.tag-picker select').selectOption('lab');
    await page.waitForURL(`${base}/board?tag=lab`);
    await expect.poll(() => stream.requests.at(-1)?.tags, { timeout: SEEN_TIMEOUT_MS }).toBe('lab');
    await expect.poll(() => counts('hg761'), { timeout: SEEN_TIMEOUT_MS }).toEqual(['3', '2']);
  });
});
