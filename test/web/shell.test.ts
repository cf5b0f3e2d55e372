// The web UI as a real host serves it: the shell at `/` and at page routes, cache headers, 404s for
// everything else, and the Status page rendering /api/status in Debian's Chromium.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fastify from 'fastify';
import type { Browser } from 'playwright-core';
import type { Host } from 'porter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveWebUi } from '../../src/services/http/web.js';
import { openHost, tempDir } from '../helpers/host.js';
import { launchChromium } from '../peers/chromium.js';

// A fresh machine installs Chromium first.
const LAUNCH_TIMEOUT_MS = 600_000;
const SEEN_TIMEOUT_MS = 10_000;

let host: Host;
let url: string;
let remove: () => Promise<void>;
let browser: Browser;

beforeAll(async () => {
  let dir: string;
  ({ dir, remove } = await tempDir());
  ({ host } = await openHost(
    {
      plugs: { frontdesk: { path: 'loopback.LoopbackPlug' } },
      channels: { lobby: { plug: 'frontdesk', source: 'lobby' } },
      http: { listen: '127.0.0.1:0' },
    },
    dir,
  ));
  url = host.http?.url ?? '';
  browser = await launchChromium();
}, LAUNCH_TIMEOUT_MS);

afterAll(async () => {
  await browser?.close();
  await host?.close();
  await remove?.();
});

const html = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };

describe('the shell over HTTP', () => {
  it('serves the shell at `/` and at page routes, never cached without a check', async () => {
    for (const path of ['', 'board', 'board/?tag=lab', 'no-such-page']) {
      const response = await fetch(`${url}${path}`, { headers: html });
      expect(response.status, path).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/html/);
      expect(response.headers.get('cache-control')).toBe('no-cache');
      expect(await response.text()).toContain('<div id="root"></div>');
    }
  });

  it('caches the hashed assets for a year', async () => {
    const shell = await (await fetch(url)).text();
    const script = /src="\/(assets\/[^"]+\.js)"/.exec(shell)?.[1];
    const style = /href="\/(assets\/[^"]+\.css)"/.exec(shell)?.[1];
    expect(script).toBeDefined();
    expect(style).toBeDefined();
    for (const asset of [script, style]) {
      const response = await fetch(`${url}${asset}`);
      expect(response.status).toBe(200);
      expect(response.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    }
  });

  it('keeps /api/status as JSON, and answers 404 to what is not a page', async () => {
    const status = (await (await fetch(`${url}api/status`, { headers: html })).json()) as { plugs: { name: string }[] };
    expect(status.plugs.map((p) => p.name)).toEqual(['frontdesk']);
    const missing = [
      fetch(`${url}assets/missing.js`, { headers: html }),
      fetch(`${url}board`, { headers: { accept: 'application/json' } }),
      fetch(`${url}occupancy/stream`, { headers: { accept: 'text/event-stream' } }),
      fetch(`${url}board`, { method: 'POST', headers: html }),
    ];
    for (const response of await Promise.all(missing)) {
      expect(response.status, response.url).toBe(404);
      expect(((await response.json()) as { error: string }).error).toBe('Not Found');
    }
  });

  it('adds nothing when there is no build', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'porter-web-'));
    const app = fastify();
    try {
      expect(await serveWebUi(app, { root: empty })).toBe(false);
      expect((await app.inject({ url: '/', headers: html })).statusCode).toBe(404);
    } finally {
      await app.close();
      await rm(empty, { recursive: true, force: true });
    }
  });
});

describe('the shell in the browser', () => {
  it('shows the Status page at `/` with the plugs, channels and their states', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(url);
      await page.locator('td', { hasText: 'frontdesk' }).first().waitFor({ timeout: SEEN_TIMEOUT_MS });
      expect(await page.title()).toBe('Status · porter');
      expect(await page.locator('header.top .brand').textContent()).toBe('porter');
      const plug = page.locator('tr', { hasText: 'loopback.LoopbackPlug' });
      expect(await plug.locator('td').allTextContents()).toEqual(['frontdesk', 'Loopback', 'loopback.LoopbackPlug', 'active']);
      expect(await page.locator('tr', { hasText: 'lobby' }).locator('td').allTextContents()).toEqual(['lobby', 'frontdesk', 'lobby']);
    } finally {
      await page.close();
    }
  });

  it('moves between pages without reloading, and back', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(url);
      await page.locator('h1', { hasText: 'Status' }).waitFor({ timeout: SEEN_TIMEOUT_MS });
      // A page reload would clear this. (Strings, because the tests' type-check has no DOM library.)
      await page.evaluate("document.body.dataset.loaded = 'once'");
      await page.locator('nav a', { hasText: 'Board' }).click();
      await page.waitForURL(`${url}board`);
      await page.locator('h1', { hasText: 'All rooms' }).waitFor({ timeout: SEEN_TIMEOUT_MS });
      expect(await page.locator('nav a[aria-current="page"]').textContent()).toBe('Board');
      await page.goBack();
      await page.locator('h1', { hasText: 'Status' }).waitFor({ timeout: SEEN_TIMEOUT_MS });
      expect(await page.evaluate<string | undefined>('document.body.dataset.loaded')).toBe('once');
    } finally {
      await page.close();
    }
  });
});
