// The calendar pages in Debian's Chromium. First beside a server that answers the calendar hook's HTTP
// API (/api/calendar/…) from fixed data and records what the pages send: choosing an agent, answering
// a person's requests (accept, counter), a resource's policy, bookings and decisions, and the
// planner's free/busy grid sending an invitation for a slot chosen by mouse and by keyboard, with
// times on the agents' own clocks (Berlin and New York). Then against a real porter with its mail
// servers and calendar hook: a request mailed over SMTP is answered from the page, and an invitation
// sent from the planner is decided by the room, whose page shows the booking and the reason.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fastify, { type FastifyInstance } from 'fastify';
import { createTransport } from 'nodemailer';
import type { Browser, Page } from 'playwright-core';
import type { Host } from 'porter';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { MailHook } from '../../src/hooks/mail/index.js';
import { MailUsers } from '../../src/mail/auth/index.js';
import { serveWebUi, WEB_ROOT } from '../../src/services/http/web.js';
import { addDays, dateKeyOf, formatSpan, mondayOf, zonedToUtc } from '../../web/src/calendar/time.js';
import { openHost, tempDir } from '../helpers/host.js';
import { eventually, freePort } from '../helpers/wait.js';
import { launchChromium } from '../peers/chromium.js';

// A fresh machine installs Chromium first.
const LAUNCH_TIMEOUT_MS = 600_000;
const SEEN_TIMEOUT_MS = 10_000;

// Monday 23 November 2026, 10:00 in Berlin: the week every page opens on.
const NOW = new Date('2026-11-23T09:00:00Z');
const MONDAY_BERLIN = '2026-11-22T23:00:00.000Z';
const NEXT_MONDAY_BERLIN = '2026-11-29T23:00:00.000Z';

const ANN = { id: 'ann', address: 'ann@example.org', name: 'Ann Archer', tzid: 'Europe/Berlin' };
const BOB = { id: 'bob', address: 'bob@example.org', name: 'Bob Baker', tzid: 'America/New_York' };
const ROOM = {
  id: 'boardroom',
  address: 'boardroom@example.org',
  name: 'Boardroom',
  tzid: 'Europe/Berlin',
  kind: 'room',
  capacity: 12,
  policies: [
    { type: 'who', domains: ['example.org'] },
    { type: 'duration', max: 120 },
    { type: 'hours', times: ['mon-fri 08:00-18:00'] },
    { type: 'free' },
  ],
};
const BEAMER = { id: 'beamer', address: 'beamer@example.org', name: 'Beamer', tzid: 'Europe/Berlin', kind: 'equipment', policies: [] };

interface Recorded {
  readonly method: string;
  readonly url: string;
  readonly body: unknown;
}

/** The calendar API the pages call, answering from fixed data; POSTs change it the way the hook does. */
class CalendarApi {
  readonly requests: Recorded[] = [];
  pending = [
    {
      uid: 'budget-1',
      method: 'REQUEST',
      summary: 'Budget review',
      organizer: BOB.address,
      start: '2026-11-24T13:00:00Z',
      end: '2026-11-24T14:00:00Z',
      sequence: 0,
      received: '2026-11-20T08:00:00Z',
      recurring: false,
    },
    {
      uid: 'offsite-2',
      method: 'REQUEST',
      summary: 'Offsite planning',
      organizer: BOB.address,
      start: '2026-11-26T15:00:00Z',
      end: '2026-11-26T16:30:00Z',
      sequence: 1,
      received: '2026-11-21T08:00:00Z',
      recurring: true,
    },
  ];

  route(app: FastifyInstance): void {
    // After parsing, so a POST is recorded with its body.
    app.addHook('preHandler', async (request) => {
      if (request.url.startsWith('/api/')) this.requests.push({ method: request.method, url: request.url, body: request.body });
    });
    app.get('/api/calendar/agents', async () => ({
      people: [ANN, BOB],
      resources: [ROOM, BEAMER],
      pools: [{ id: 'rooms', address: 'rooms@example.org', name: 'Any room', members: ['boardroom'] }],
    }));
    app.get<{ Params: { id: string }; Querystring: { start?: string } }>('/api/calendar/people/:id/week', async (request, reply) => {
      const person = [ANN, BOB].find((p) => p.id === request.params.id);
      if (!person) return reply.code(404).send({ error: `id: no person "${request.params.id}"` });
      const next = request.query.start === '2026-11-30';
      // The week runs from Monday midnight on the person's clock.
      const week =
        person === BOB
          ? ['2026-11-23T05:00:00Z', '2026-11-30T05:00:00Z']
          : next
            ? [NEXT_MONDAY_BERLIN, '2026-12-06T23:00:00.000Z']
            : [MONDAY_BERLIN, NEXT_MONDAY_BERLIN];
      return {
        id: person.id,
        tzid: person.tzid,
        start: week[0],
        end: week[1],
        events: next
          ? [event('retro', 'Sprint retro', '2026-12-01T09:00:00Z', '2026-12-01T10:00:00Z', 'ACCEPTED')]
          : [
              event('standup', 'Team standup', '2026-11-23T08:00:00Z', '2026-11-23T08:15:00Z', 'ACCEPTED'),
              event('lunch', 'Lunch with Carol', '2026-11-25T11:30:00Z', '2026-11-25T12:30:00Z', 'TENTATIVE'),
              // An all-day date: UTC midnights on the wire, the same date on every clock.
              { ...event('holiday', 'Company holiday', '2026-11-27T00:00:00Z', '2026-11-28T00:00:00Z', 'ACCEPTED'), allDay: true },
            ],
        pending: person.id === 'ann' ? this.pending : [],
      };
    });
    app.post<{ Params: { id: string; uid: string } }>('/api/calendar/people/:id/pending/:uid', async (request, reply) => {
      const before = this.pending.length;
      this.pending = this.pending.filter((p) => p.uid !== request.params.uid);
      if (this.pending.length === before) return reply.code(404).send({ error: `uid: no pending request "${request.params.uid}"` });
      return { sent: true, messageId: `<${request.params.uid}-reply@example.org>` };
    });
    app.get<{ Params: { id: string } }>('/api/calendar/resources/:id/bookings', async (request, reply) => {
      if (request.params.id !== ROOM.id) return reply.code(404).send({ error: `id: no resource "${request.params.id}"` });
      return {
        id: ROOM.id,
        tzid: ROOM.tzid,
        start: MONDAY_BERLIN,
        end: NEXT_MONDAY_BERLIN,
        bookings: [
          {
            uid: 'board-1',
            summary: 'Board meeting',
            organizer: ANN.address,
            start: '2026-11-23T12:00:00Z',
            end: '2026-11-23T14:00:00Z',
            status: 'CONFIRMED',
          },
          {
            uid: 'interview-1',
            summary: 'Interview',
            organizer: BOB.address,
            start: '2026-11-27T09:00:00Z',
            end: '2026-11-27T10:00:00Z',
            status: 'TENTATIVE',
          },
        ],
        decisions: [
          {
            at: '2026-11-22T16:05:00Z',
            uid: 'party-1',
            organizer: 'eve@elsewhere.net',
            summary: 'Party',
            outcome: 'DECLINED',
            reason: 'Only example.org may book the Boardroom.',
            policy: 'who',
          },
          {
            at: '2026-11-21T09:30:00Z',
            uid: 'board-1',
            organizer: ANN.address,
            summary: 'Board meeting',
            outcome: 'ACCEPTED',
            reason: 'The Boardroom is free.',
            policy: 'free',
          },
        ],
      };
    });
    app.get<{ Querystring: { who: string; start: string; end: string } }>('/api/calendar/freebusy', async (request) => {
      const busy: Record<string, { start: string; end: string; type: string }[]> = {
        // Ann: 09:00–10:00 Berlin; Bob: 11:00–12:00 Berlin tentative; the Boardroom: 13:00–15:00 Berlin.
        [ANN.address]: [{ start: '2026-11-23T08:00:00Z', end: '2026-11-23T09:00:00Z', type: 'BUSY' }],
        [BOB.address]: [{ start: '2026-11-23T10:00:00Z', end: '2026-11-23T11:00:00Z', type: 'BUSY-TENTATIVE' }],
        [ROOM.address]: [{ start: '2026-11-23T12:00:00Z', end: '2026-11-23T14:00:00Z', type: 'BUSY' }],
      };
      const calendars: Record<string, unknown> = {};
      for (const who of request.query.who.split(',')) calendars[who] = busy[who] ?? { unknown: true };
      return { start: request.query.start, end: request.query.end, calendars };
    });
    app.post<{ Body: { summary?: string } }>('/api/calendar/invitations', async (request, reply) => {
      if (!request.body?.summary) return reply.code(400).send({ error: 'summary: required' });
      return { uid: 'new-meeting-1', messageId: '<new-meeting-1@example.org>' };
    });
  }

  posts(path: string): unknown[] {
    return this.requests.filter((r) => r.method === 'POST' && r.url === path).map((r) => r.body);
  }

  gets(prefix: string): string[] {
    return this.requests.filter((r) => r.method === 'GET' && r.url.startsWith(prefix)).map((r) => r.url);
  }
}

function event(uid: string, summary: string, start: string, end: string, partstat: string) {
  return { uid, summary, start, end, organizer: BOB.address, status: 'CONFIRMED', partstat, allDay: false };
}

let browser: Browser;
let app: FastifyInstance;
let base: string;
let api: CalendarApi;
let page: Page;

beforeAll(async () => {
  if (!existsSync(join(WEB_ROOT, 'index.html'))) throw new Error(`${WEB_ROOT} has no build of the web UI: run npm run build`);
  browser = await launchChromium();
}, LAUNCH_TIMEOUT_MS);

afterAll(async () => {
  await browser?.close();
});

const texts = (selector: string) => page.locator(selector).allTextContents();
const seen = (selector: string, options: { hasText?: string } = {}) =>
  page.locator(selector, options).first().waitFor({ state: 'visible', timeout: SEEN_TIMEOUT_MS });

describe('the calendar pages', () => {
  beforeEach(async () => {
    api = new CalendarApi();
    app = fastify({ forceCloseConnections: true });
    expect(await serveWebUi(app)).toBe(true);
    api.route(app);
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    page = await context.newPage();
    // An action on an element that never shows fails in its own words, before the test's timeout.
    page.setDefaultTimeout(SEEN_TIMEOUT_MS);
    await page.clock.setFixedTime(NOW);
  });

  afterEach(async () => {
    await page?.context().close();
    await app.close();
  });

  it('lists the people, rooms, equipment and pools, and opens a person from the list', async () => {
    await page.goto(`${base}/calendar`);
    await seen('a', { hasText: 'Ann Archer' });
    expect(await texts('section[aria-labelledby="cal-people"] li a')).toEqual(['Ann Archer', 'Bob Baker']);
    expect(await texts('section[aria-labelledby="cal-resources"] li')).toEqual([
      'Boardroom room, 12 seats · boardroom@example.org',
      'Beamer equipment · beamer@example.org',
    ]);
    expect(await page.locator('section[aria-labelledby="cal-pools"] li').textContent()).toContain('Any room');
    expect(await page.locator('header.top nav a[aria-current="page"]').textContent()).toBe('Calendar');

    await page.getByRole('link', { name: 'Ann Archer' }).click();
    await page.waitForURL(`${base}/calendar/person/ann`);
    await seen('h1', { hasText: 'Ann Archer' });
    expect(await page.locator('header.top nav a[aria-current="page"]').textContent()).toBe('Calendar');
    expect(await page.title()).toBe('Calendar · porter');
  });

  it('shows a person’s week on their own clock, and answers a request with accept and with a counter-proposal', async () => {
    await page.goto(`${base}/calendar/person/ann`);
    await seen('.cal-pending', { hasText: 'Budget review' });
    expect(api.gets('/api/calendar/people/ann/week')).toEqual(['/api/calendar/people/ann/week']);
    // 13:00 UTC is 14:00 in Berlin.
    expect(await page.locator('[data-uid="budget-1"] .cal-when').textContent()).toBe('Tue 24 Nov 14:00–15:00');
    expect(await page.locator('[data-uid="offsite-2"] p').first().textContent()).toContain('recurring');
    expect(await page.locator('#cal-week-title').textContent()).toBe('Week of Mon 23 Nov 2026');
    expect(await texts('[data-date="2026-11-23"] .cal-item')).toEqual(['09:00–09:15 Team standupaccepted · bob@example.org']);
    expect(await texts('[data-date="2026-11-25"] .cal-item')).toEqual(['12:30–13:30 Lunch with Caroltentative · bob@example.org']);
    expect(await texts('[data-date="2026-11-27"] .cal-item')).toEqual(['all day Company holidayaccepted · bob@example.org']);
    expect(await texts('[data-date="2026-11-28"] .cal-item')).toEqual([]);

    const budget = page.locator('[data-uid="budget-1"]');
    await budget.getByRole('button', { name: 'Accept' }).click();
    await seen('.cal-status', { hasText: 'Accepted: “Budget review”' });
    expect(api.posts('/api/calendar/people/ann/pending/budget-1')).toEqual([{ answer: 'ACCEPTED' }]);
    expect(await page.locator('[data-uid="budget-1"]').count()).toBe(0);
    expect(await page.locator('#cal-pending-title').textContent()).toBe('Requests to answer (1)');

    // Propose Wednesday 10:00–11:30 Berlin instead, with a comment, by keyboard and form.
    const offsite = page.locator('[data-uid="offsite-2"]');
    await offsite.getByLabel('Comment (optional)').fill('Thursday is full for me');
    await offsite.getByRole('button', { name: 'Propose another time' }).click();
    await offsite.getByLabel('Date').fill('2026-11-25');
    await offsite.getByLabel('From').fill('10:00');
    await offsite.getByLabel('To').fill('11:30');
    await offsite.getByRole('button', { name: 'Send proposal' }).click();
    await seen('.cal-status', { hasText: 'Proposed another time: “Offsite planning”' });
    expect(api.posts('/api/calendar/people/ann/pending/offsite-2')).toEqual([
      {
        answer: 'COUNTER',
        counter: { start: '2026-11-25T09:00:00.000Z', end: '2026-11-25T10:30:00.000Z' },
        comment: 'Thursday is full for me',
      },
    ]);
    await seen('p', { hasText: 'Nothing waits for an answer.' });
  });

  it('refuses a counter-proposal that ends before it starts, and moves between weeks', async () => {
    await page.goto(`${base}/calendar/person/ann`);
    const budget = page.locator('[data-uid="budget-1"]');
    await budget.getByRole('button', { name: 'Propose another time' }).click();
    await budget.getByLabel('From').fill('15:00');
    await budget.getByLabel('To').fill('14:00');
    await budget.getByRole('button', { name: 'Send proposal' }).click();
    await seen('[data-uid="budget-1"] .problem', { hasText: 'The end must come after the start.' });
    expect(api.posts('/api/calendar/people/ann/pending/budget-1')).toEqual([]);

    await page.getByRole('link', { name: 'Next week →' }).click();
    await page.waitForURL(`${base}/calendar/person/ann?start=2026-11-30`);
    await seen('#cal-week-title', { hasText: 'Week of Mon 30 Nov 2026' });
    expect(await texts('[data-date="2026-12-01"] .cal-item')).toEqual(['10:00–11:00 Sprint retroaccepted · bob@example.org']);
    expect(api.gets('/api/calendar/people/ann/week').at(-1)).toBe('/api/calendar/people/ann/week?start=2026-11-30');
  });

  it('shows a person in New York on New York’s clock, and says so when a person is unknown', async () => {
    await page.goto(`${base}/calendar/person/bob`);
    await seen('.cal-item');
    // The standup at 08:00 UTC is 03:00 in New York.
    expect(await texts('[data-date="2026-11-23"] .cal-item')).toEqual(['03:00–03:15 Team standupaccepted · bob@example.org']);
    expect(await page.locator('.cal-weeknav').textContent()).toContain('Times in America/New_York');
    expect(await texts('[data-date="2026-11-27"] .cal-item')).toEqual(['all day Company holidayaccepted · bob@example.org']);
    expect(await texts('[data-date="2026-11-26"] .cal-item')).toEqual([]);

    await page.goto(`${base}/calendar/person/nobody`);
    await seen('.problem', { hasText: 'id: no person "nobody"' });
  });

  it('shows a resource’s policy in words, its bookings and its recent decisions with their reasons', async () => {
    await page.goto(`${base}/calendar/resource/boardroom`);
    await seen('.cal-decisions');
    expect(await page.locator('h1').textContent()).toBe('Boardroom');
    expect(await texts('.cal-policies > li > strong')).toEqual(['who', 'duration', 'hours', 'free']);
    const policy = await texts('.cal-policies > li');
    expect(policy[0]).toContain('Accepts bookings only from people at example.org.');
    expect(policy[1]).toContain('Declines bookings longer than 2 hours.');
    expect(policy[2]).toContain('Books only during mon-fri 08:00-18:00');
    expect(await texts('[data-date="2026-11-23"] .cal-item')).toEqual(['13:00–15:00 Board meeting · ann@example.org']);
    expect(await texts('[data-date="2026-11-27"] .cal-item')).toEqual(['10:00–11:00 Interviewtentative · bob@example.org']);
    const rows = await page
      .locator('.cal-decisions tbody tr')
      .evaluateAll((trs) =>
        trs.map((tr) => Array.from(tr.querySelectorAll('td'), (td) => (td as { textContent: string | null }).textContent)),
      );
    expect(rows).toEqual([
      ['Sun 22 Nov 17:05', 'Party', 'eve@elsewhere.net', 'declined', 'Only example.org may book the Boardroom.', 'who'],
      ['Sat 21 Nov 10:30', 'Board meeting', 'ann@example.org', 'accepted', 'The Boardroom is free.', 'free'],
    ]);
    expect(await page.getByRole('link', { name: 'bookings feed (.ics)' }).getAttribute('href')).toBe(
      '/calendar/bookings/boardroom%40example.org.ics',
    );
  });

  it('plans a meeting: busy blocks per row, a free slot chosen by dragging, and the invitation sent', async () => {
    await page.goto(`${base}/calendar/planner?from=ann`);
    await seen('tr[data-address="ann@example.org"]');
    await page.getByRole('checkbox', { name: 'Bob Baker' }).check();
    await page.getByRole('checkbox', { name: 'Boardroom' }).check();
    await page.getByRole('checkbox', { name: 'Beamer' }).check();
    await page.waitForURL(/who=bob%40example.org%2Cboardroom%40example.org%2Cbeamer%40example.org/);
    await seen('tr[data-address="beamer@example.org"]');
    const row = (address: string) =>
      page.locator(`tr[data-address="${address}"] td`).evaluateAll((tds) => tds.map((td) => td.getAttribute('data-state')));
    // Half hours from 07:00 Berlin; 26 slots.
    const states = (...busy: [number, number, string][]) => {
      const out = Array.from({ length: 26 }, () => 'free');
      for (const [from, to, state] of busy) for (let i = from; i < to; i += 1) out[i] = state;
      return out;
    };
    await expect.poll(() => row('bob@example.org'), { timeout: SEEN_TIMEOUT_MS }).toEqual(states([8, 10, 'tentative']));
    expect(await row('ann@example.org')).toEqual(states([4, 6, 'busy']));
    expect(await row('boardroom@example.org')).toEqual(states([12, 16, 'busy']));
    expect(await row('beamer@example.org')).toEqual(states([0, 26, 'unknown']));
    expect(await page.locator('tr[data-address="beamer@example.org"] th').textContent()).toBe('Beamer (not shared)');
    const fb = new URL(api.gets('/api/calendar/freebusy').at(-1) ?? '', base);
    expect(fb.searchParams.get('who')).toBe('ann@example.org,bob@example.org,boardroom@example.org,beamer@example.org');
    expect(fb.searchParams.get('start')).toBe(MONDAY_BERLIN);

    // Drag across 10:00–11:00 Berlin (slots 6 and 7) in Ann's row.
    const cell = (i: number) => page.locator('tr[data-address="ann@example.org"] td').nth(i);
    const from = await cell(6).boundingBox();
    const to = await cell(7).boundingBox();
    if (!from || !to) throw new Error('the grid is not laid out');
    await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
    await page.mouse.down();
    await page.mouse.move(to.x + to.width / 2, to.y + to.height / 2, { steps: 4 });
    await page.mouse.up();
    await seen('.cal-chosen', { hasText: 'Mon 23 Nov 10:00–11:00' });
    expect(await page.locator('.cal-chosen').textContent()).toContain('free for everyone shown');

    await page.getByLabel('Title').fill('Kick-off');
    await page.getByRole('button', { name: 'Send invitation' }).click();
    await seen('.cal-status', { hasText: 'Invitation “Kick-off” for Mon 23 Nov 10:00–11:00 sent to Bob Baker, Boardroom, Beamer' });
    expect(api.posts('/api/calendar/invitations')).toEqual([
      {
        from: 'ann',
        summary: 'Kick-off',
        start: '2026-11-23T09:00:00.000Z',
        end: '2026-11-23T10:00:00.000Z',
        attendees: ['bob@example.org', 'boardroom@example.org', 'beamer@example.org'],
      },
    ]);
  });

  it('chooses a slot with the keyboard alone, warns when someone is busy, and shows a week', async () => {
    await page.goto(`${base}/calendar/planner?from=ann&who=bob%40example.org`);
    await expect
      .poll(() => page.locator('tr[data-address="bob@example.org"] td[data-state="tentative"]').count(), { timeout: SEEN_TIMEOUT_MS })
      .toBe(2);
    // The first free slot takes the tab stop: 07:00.
    const first = page.locator('.cal-slot-button[tabindex="0"]');
    expect(await first.getAttribute('aria-label')).toBe('Mon 23 Nov 07:00–07:30, free for everyone');
    await first.focus();
    // Eight slots on is 11:00, where Bob is tentatively busy; Shift+arrow takes 11:00–12:00.
    for (let i = 0; i < 8; i += 1) await page.keyboard.press('ArrowRight');
    await page.keyboard.press('Enter');
    await page.keyboard.press('Shift+ArrowRight');
    await seen('.cal-chosen', { hasText: 'Mon 23 Nov 11:00–12:00' });
    expect(await page.locator('.cal-chosen').textContent()).toContain('someone is busy then');
    expect(await page.locator('.cal-slot-button[aria-pressed="true"]').count()).toBe(2);
    expect(await page.locator('.cal-slot-button[data-slot="8"]').getAttribute('aria-label')).toBe(
      'Mon 23 Nov 11:00–11:30, busy for Bob Baker (tentatively busy)',
    );
    await page.keyboard.press('Escape');
    await seen('.cal-chosen', { hasText: 'No time chosen yet.' });

    await page.getByLabel('Show', { exact: true }).selectOption('week');
    await page.waitForURL(/view=week/);
    await seen('th[scope="colgroup"]', { hasText: 'Sun 29 Nov' });
    expect(await texts('th[scope="colgroup"]')).toEqual([
      'Mon 23 Nov',
      'Tue 24 Nov',
      'Wed 25 Nov',
      'Thu 26 Nov',
      'Fri 27 Nov',
      'Sat 28 Nov',
      'Sun 29 Nov',
    ]);
    // Hours from 07:00 to 20:00, seven days.
    expect(await page.locator('.cal-slot-button').count()).toBe(13 * 7);
    const fb = new URL(api.gets('/api/calendar/freebusy').at(-1) ?? '', base);
    expect([fb.searchParams.get('start'), fb.searchParams.get('end')]).toEqual([MONDAY_BERLIN, NEXT_MONDAY_BERLIN]);
  });
});

// ---- against a real porter ----------------------------------------------------------------------

const PASSWORD = 'calendar page test password';
// Mail goes through porter's SMTP server, mailboxes and the mail plug's polling: slower than the fixtures.
const E2E_TIMEOUT_MS = 90_000;
const BERLIN = 'Europe/Berlin';

/** A porter with its mail servers (SMTP in, local mailboxes) and the calendar hook: Ann, Bob and a room. */
function porterConfig(smarthostPort: number): Record<string, unknown> {
  const users = ['ann', 'bob', 'boardroom'];
  return {
    http: { listen: '127.0.0.1:0' },
    plugs: { email: { path: 'mail.MailPlug', config: { poll: 0.2 } } },
    channels: Object.fromEntries(users.map((u) => [u, { plug: 'email', source: `${u}@example.org` }])),
    hooks: {
      mail: {
        path: 'mail.MailHook',
        config: {
          domains: ['example.org'],
          smtp: { hostname: 'mx.example.org', listeners: [{ address: '127.0.0.1:0', mode: 'smtp' }] },
          pop3: '127.0.0.1:0',
          // Nothing listens there: no mail in this test leaves example.org.
          outbound: { hostname: 'mx.example.org', smarthost: { host: '127.0.0.1', port: smarthostPort } },
        },
      },
      calendar: {
        path: 'calendar.CalendarHook',
        config: {
          people: {
            ann: { channel: 'ann', name: 'Ann Archer', preferences: { TZID: BERLIN, freebusy_sharing: true } },
            bob: { channel: 'bob', name: 'Bob Baker', preferences: { TZID: 'America/New_York', freebusy_sharing: true } },
          },
          resources: {
            boardroom: {
              channel: 'boardroom',
              name: 'Boardroom',
              tzid: BERLIN,
              capacity: 12,
              policies: [{ type: 'duration', max: 120 }, { type: 'free' }],
            },
          },
        },
      },
    },
  };
}

/** An iTIP REQUEST as a calendar client writes it, times in UTC. */
function request(uid: string, summary: string, start: number, end: number): string {
  const stamp = (ms: number) =>
    new Date(ms)
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d{3}/, '');
  return [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//porter tests//EN',
    'METHOD:REQUEST',
    'BEGIN:VEVENT',
    `UID:${uid}`,
    `DTSTAMP:${stamp(Date.now())}`,
    `DTSTART:${stamp(start)}`,
    `DTEND:${stamp(end)}`,
    `SUMMARY:${summary}`,
    'SEQUENCE:0',
    'ORGANIZER:mailto:bob@example.org',
    'ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:ann@example.org',
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n');
}

describe('the calendar pages on a real porter', () => {
  let host: Host;
  let removeDir: () => Promise<void>;
  let url: string;
  // Next week, on Ann's clock: nothing in it depends on the hour the test runs.
  const monday = addDays(mondayOf(dateKeyOf(Date.now(), BERLIN)), 7);

  beforeAll(async () => {
    let dir: string;
    ({ dir, remove: removeDir } = await tempDir());
    ({ host } = await openHost(porterConfig(await freePort()), dir));
    const users = new MailUsers(host.store);
    for (const user of ['ann', 'bob', 'boardroom']) await users.add(`${user}@example.org`, PASSWORD);
    url = (host.http?.url ?? '').replace(/\/$/, '');
  }, 120_000);

  afterAll(async () => {
    await host?.close();
    await removeDir?.();
  });

  beforeEach(async () => {
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    page = await context.newPage();
    page.setDefaultTimeout(SEEN_TIMEOUT_MS);
  });

  afterEach(async () => {
    await page?.context().close();
  });

  const json = async <T>(path: string): Promise<T> => (await (await fetch(`${url}${path}`)).json()) as T;
  type Week = { pending: { uid: string; method: string }[]; events: { uid: string; partstat: string }[] };

  /** Bob's calendar client mails Ann a REQUEST through porter's SMTP server. */
  async function mailRequest(uid: string, summary: string, start: number, end: number): Promise<void> {
    const smtp = (host.hooks.get('mail') as MailHook).listeners.smtp.find((l) => l.mode === 'smtp');
    if (!smtp) throw new Error('the mail hook has no SMTP listener');
    const transport = createTransport({ host: '127.0.0.1', port: smtp.port, secure: false, ignoreTLS: true });
    try {
      await transport.sendMail({
        from: 'bob@example.org',
        to: 'ann@example.org',
        subject: `Invitation: ${summary}`,
        text: summary,
        icalEvent: { method: 'REQUEST', content: request(uid, summary, start, end) },
      });
    } finally {
      transport.close();
    }
  }

  it(
    'shows a request mailed to Ann over SMTP and sends her answer from the page',
    async () => {
      const start = zonedToUtc(addDays(monday, 1), 14, 0, BERLIN);
      await mailRequest('budget-e2e@example.org', 'Budget review', start, start + 3600_000);
      await eventually('the request in Ann’s pending list', async () => {
        const week = await json<Week>(`/api/calendar/people/ann/week?start=${monday}`);
        return week.pending.some((p) => p.uid === 'budget-e2e@example.org') || undefined;
      });

      await page.goto(`${url}/calendar/person/ann?start=${monday}`);
      const item = page.locator('[data-uid="budget-e2e@example.org"]');
      await item.waitFor();
      expect(await item.locator('.cal-when').textContent()).toMatch(/ 14:00–15:00$/);
      await item.getByRole('button', { name: 'Accept' }).click();
      await seen('.cal-status', { hasText: 'Accepted: “Budget review”. The reply was sent to bob@example.org.' });
      const answered = await eventually('the accepted event in Ann’s week', async () => {
        const week = await json<Week>(`/api/calendar/people/ann/week?start=${monday}`);
        const event = week.events.find((e) => e.uid === 'budget-e2e@example.org');
        return event?.partstat === 'ACCEPTED' && !week.pending.some((p) => p.uid === event.uid) ? event : undefined;
      });
      expect(answered.partstat).toBe('ACCEPTED');
      await page.reload();
      await seen(`[data-date="${addDays(monday, 1)}"] .cal-item`, { hasText: 'Budget review' });
      expect(await page.locator(`[data-date="${addDays(monday, 1)}"] .cal-item`, { hasText: 'Budget review' }).textContent()).toContain(
        '14:00–15:00',
      );
    },
    E2E_TIMEOUT_MS,
  );

  it(
    'sends Ann’s counter-proposal to Bob, whose page shows it on his clock and declines it',
    async () => {
      const start = zonedToUtc(addDays(monday, 3), 16, 0, BERLIN);
      await mailRequest('offsite-e2e@example.org', 'Offsite planning', start, start + 3600_000);
      await eventually('the request in Ann’s pending list', async () => {
        const week = await json<Week>(`/api/calendar/people/ann/week?start=${monday}`);
        return week.pending.some((p) => p.uid === 'offsite-e2e@example.org') || undefined;
      });

      await page.goto(`${url}/calendar/person/ann?start=${monday}`);
      const item = page.locator('[data-uid="offsite-e2e@example.org"]');
      await item.getByRole('button', { name: 'Propose another time' }).click();
      await item.getByLabel('Date').fill(addDays(monday, 4));
      await item.getByLabel('From').fill('10:00');
      await item.getByLabel('To').fill('11:30');
      await item.getByRole('button', { name: 'Send proposal' }).click();
      await seen('.cal-status', { hasText: 'Proposed another time: “Offsite planning”' });

      const proposed = { start: zonedToUtc(addDays(monday, 4), 10, 0, BERLIN), end: zonedToUtc(addDays(monday, 4), 11, 30, BERLIN) };
      await eventually('the proposal in Bob’s pending list', async () => {
        const week = await json<Week>(`/api/calendar/people/bob/week?start=${monday}`);
        return week.pending.some((p) => p.uid === 'offsite-e2e@example.org' && p.method === 'COUNTER') || undefined;
      });
      await page.goto(`${url}/calendar/person/bob?start=${monday}`);
      const proposal = page.locator('[data-uid="offsite-e2e@example.org"]');
      await proposal.waitFor();
      // Bob reads it on New York's clock.
      expect(await proposal.locator('.cal-when').textContent()).toBe(formatSpan(proposed.start, proposed.end, 'America/New_York'));
      expect(await proposal.locator('p').first().textContent()).toContain('by ann@example.org');
      expect(await proposal.getByRole('button').allTextContents()).toEqual(['Take the proposed time', 'Decline the proposal']);
      await proposal.getByRole('button', { name: 'Decline the proposal' }).click();
      await seen('.cal-status', { hasText: 'Declined the proposal: “Offsite planning”. The reply was sent to ann@example.org.' });
      await eventually('the proposal gone from Bob’s list', async () => {
        const week = await json<Week>(`/api/calendar/people/bob/week?start=${monday}`);
        return !week.pending.some((p) => p.uid === 'offsite-e2e@example.org') || undefined;
      });
    },
    E2E_TIMEOUT_MS,
  );

  it(
    'sends an invitation from the planner that the room decides, and shows the booking and the reason on the room’s page',
    async () => {
      const wednesday = addDays(monday, 2);
      await page.goto(`${url}/calendar/planner?from=ann&who=${encodeURIComponent('boardroom@example.org')}&date=${wednesday}`);
      await seen('tr[data-address="boardroom@example.org"] td[data-state="free"]');
      // 10:00–11:00 on Ann's clock: slots 6 and 7 from 07:00.
      await page.locator('.cal-slot-button[data-slot="6"]').click();
      await page.locator('.cal-slot-button[data-slot="7"]').click({ modifiers: ['Shift'] });
      await seen('.cal-chosen', { hasText: '10:00–11:00' });
      await page.getByLabel('Title').fill('Kick-off');
      await page.getByRole('button', { name: 'Send invitation' }).click();
      await seen('.cal-status', { hasText: 'Invitation “Kick-off”' });

      type Bookings = { bookings: { summary: string; start: string }[]; decisions: { summary: string; outcome: string }[] };
      const start = zonedToUtc(wednesday, 10, 0, BERLIN);
      const range = `start=${new Date(zonedToUtc(monday, 0, 0, BERLIN)).toISOString()}&end=${new Date(zonedToUtc(addDays(monday, 7), 0, 0, BERLIN)).toISOString()}`;
      await eventually(
        'the room’s decision',
        async () => {
          const room = await json<Bookings>(`/api/calendar/resources/boardroom/bookings?${range}`);
          return room.decisions.some((d) => d.summary === 'Kick-off') || undefined;
        },
        30_000,
      );

      await page.goto(`${url}/calendar/resource/boardroom?start=${monday}`);
      await seen('.cal-decisions tbody tr', { hasText: 'Kick-off' });
      const decision = page.locator('.cal-decisions tbody tr', { hasText: 'Kick-off' });
      expect(await decision.locator('td').nth(2).textContent()).toBe('ann@example.org');
      expect(await decision.locator('td').nth(3).textContent()).toBe('accepted');
      // The reason the room gave, as it mailed it to Ann, and the policy that decided.
      expect(await decision.locator('td').nth(4).textContent()).toContain('Boardroom');
      // Every policy passed: no single one decided.
      expect(await decision.locator('td').nth(5).textContent()).toBe('all passed');
      expect(await texts(`[data-date="${wednesday}"] .cal-item`)).toEqual(['10:00–11:00 Kick-off · ann@example.org']);
      expect(await texts('.cal-policies > li > strong')).toEqual(['duration', 'free']);
      // The page's feed link is the room's bookings as a calendar client subscribes to them.
      const feed = await fetch(`${url}${await page.getByRole('link', { name: 'bookings feed (.ics)' }).getAttribute('href')}`);
      expect(feed.status).toBe(200);
      expect(feed.headers.get('content-type')).toMatch(/^text\/calendar/);
      expect(await feed.text()).toContain('SUMMARY:Kick-off');
      const room = await json<Bookings>(`/api/calendar/resources/boardroom/bookings?${range}`);
      expect(room.bookings.find((b) => b.summary === 'Kick-off')?.start).toBe(new Date(start).toISOString());
    },
    E2E_TIMEOUT_MS,
  );
});
