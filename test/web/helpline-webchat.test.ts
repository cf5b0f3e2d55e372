// The helpline pages in Debian's Chromium against a real porter with its web chat and the helpline
// hook (SQLite): a staff member logs in on the console and goes available in two rooms, two clients
// ask for a chat on the client page, wait, are paired and exchange lines both ways with the staff
// member; one leaves, the staff member ends the other chat; the console then shows both transcripts
// and the statistics. Also the closed message when no one is on duty, a client's dropped socket
// resumed without a leave, a waiting client giving up their place, and a blocked client refused.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, WebSocketRoute } from 'playwright-core';
import type { Host } from 'porter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HelplineHook } from '../../src/hooks/helpline/index.js';
import { WEB_ROOT } from '../../src/services/http/web.js';
import { openHost, tempDir } from '../helpers/host.js';
import { eventually } from '../helpers/wait.js';
import { launchChromium } from '../peers/chromium.js';
import { type HelplinePages, helplinePages } from './helpline-pages.js';

// A fresh machine installs Chromium first.
const LAUNCH_TIMEOUT_MS = 600_000;
// Three browser pages, a web chat and a store on a loaded machine.
const TEST_TIMEOUT_MS = 180_000;
const ADA_TOKEN = 'ada-api-token-0123456789';
const ADA_PASSWORD = 'ada-chat-password';
const CLOSED = 'The helpline is open every day from 9 to 17.';

function porterConfig(): Record<string, unknown> {
  return {
    http: { listen: '127.0.0.1:0' },
    plugs: {
      web: {
        path: 'webchat.WebChatPlug',
        config: { path: '/chat/ws', nick: 'helpline', staff: [{ username: 'ada', password: ADA_PASSWORD, name: 'Ada' }], grace: 5 },
      },
    },
    hooks: {
      desk: {
        path: 'helpline.HelplineHook',
        config: {
          plug: 'web',
          pool: { size: 2 },
          'max-chats-per-staff': 2,
          upkeep: 0.5,
          'closed-message': CLOSED,
          'fingerprint-secret': 'a fingerprint secret for the page test',
          staff: { ada: { address: 'staff/ada', token: ADA_TOKEN } },
        },
      },
    },
  };
}

let browser: Browser;
let host: Host;
let removeDir: () => Promise<void>;
let url: string;
let pages: HelplinePages;

beforeAll(async () => {
  if (!existsSync(join(WEB_ROOT, 'index.html'))) throw new Error(`${WEB_ROOT} has no build of the web UI: run npm run build`);
  browser = await launchChromium();
  let dir: string;
  ({ dir, remove: removeDir } = await tempDir());
  ({ host } = await openHost(porterConfig(), dir));
  url = (host.http?.url ?? '').replace(/\/$/, '');
  const desk = () => (host.hooks.get('desk') as HelplineHook).desk;
  pages = helplinePages({
    browser,
    url,
    staff: { id: 'ada', token: ADA_TOKEN, account: 'ada', password: ADA_PASSWORD },
    roomReady: async () => (await desk().store.rooms(['available'])).length > 0,
  });
}, LAUNCH_TIMEOUT_MS);

afterAll(async () => {
  await pages?.closeAll();
  await browser?.close();
  await host?.close();
  await removeDir?.();
});

const staffApi = async (path: string): Promise<Record<string, unknown>> =>
  (await (await fetch(`${url}/api/helpline${path}`, { headers: { authorization: `Bearer ${ADA_TOKEN}` } })).json()) as Record<
    string,
    unknown
  >;

describe('the helpline pages on porter’s web chat', () => {
  it(
    'tells a client the closed message while no staff member is on duty',
    async () => {
      const client = await pages.open('/helpline');
      // Before asking: the page reads whether anyone is on duty.
      await pages.seen(client.getByRole('status').getByText(CLOSED));
      await client.getByRole('button', { name: 'Ask for a chat' }).click();
      // Only an answer shows this button: the notice before asking does not.
      await pages.seen(client.getByRole('button', { name: 'Ask for a chat again' }));
      await pages.seen(client.getByRole('status').getByText(CLOSED));
      expect(((await (await fetch(`${url}/api/helpline`)).json()) as { open: boolean }).open).toBe(false);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'pairs two clients with a staff member in two rooms, carries lines both ways, and shows transcripts and statistics',
    async () => {
      await pages.conversation(
        { sayHello: 'Hello from A', reply: 'Hi A, this is Ada' },
        { sayHello: 'Hello from B', reply: 'Hi B, Ada here' },
      );
      const stats = await staffApi('/stats');
      expect(stats).toMatchObject({ clients: 2, chats: 2 });
      expect(stats.waits).toHaveLength(2);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'resumes a client whose socket dropped, without a leave in the room; a waiting client leaves the queue',
    async () => {
      const staff = await pages.staffLogsIn();
      const chat = await pages.goAvailable(staff, 1);
      const client = await pages.open('/helpline');
      // Every socket the client page opens to the web chat goes through the test, which can cut it.
      const sockets: { page: WebSocketRoute; server: WebSocketRoute }[] = [];
      await client.routeWebSocket(/\/chat\/ws$/, (page) => {
        sockets.push({ page, server: page.connectToServer() });
      });
      await client.getByRole('button', { name: 'Ask for a chat' }).click();
      await pages.seen(client.getByRole('status').getByText('You are chatting with a staff member.'));
      await pages.say(client, 'Before the drop');
      await pages.seen(chat.getByRole('log').getByText('Before the drop'));
      const room = (await chat.getAttribute('data-room')) ?? '';

      // Meanwhile another client waits, and gives up their place.
      const other = await pages.open('/helpline');
      await other.getByRole('button', { name: 'Ask for a chat' }).click();
      await pages.seen(other.getByRole('status').getByText('You are number 1 in the queue.'));
      await pages.seen(staff.getByRole('table', { name: 'Queue' }));
      await other.getByRole('button', { name: 'Leave the queue' }).click();
      await pages.seen(other.getByRole('status').getByText('You left the queue.'));
      await pages.seen(staff.getByText('No one is waiting.'));
      expect(await (host.hooks.get('desk') as HelplineHook).desk.store.waiting()).toEqual([]);

      // The network drops: porter and the page each see their socket close without a bye.
      const first = sockets[0];
      if (!first) throw new Error('the client page opened no web chat socket');
      await first.server.close({ code: 4000, reason: 'network dropped' });
      await first.page.close({ code: 4000, reason: 'network dropped' });
      await eventually('the page’s second socket', async () => (sockets.length >= 2 ? true : undefined));

      // Resumed within the grace: the room saw no leave, and lines flow both ways again.
      await pages.say(client, 'After the drop');
      await pages.seen(chat.getByRole('log').getByText('After the drop'));
      await pages.say(chat, 'Still here');
      await pages.seen(client.getByRole('log').getByText('Still here'));
      expect(
        await chat
          .getByRole('log')
          .getByText(/left the chat|lost their connection/)
          .count(),
      ).toBe(0);
      expect((await (host.hooks.get('desk') as HelplineHook).desk.store.room(room))?.state).toBe('chatting');

      await client.getByRole('button', { name: 'Leave the chat' }).click();
      await pages.seen(chat.getByRole('log').getByText(/client-\S+ left the chat\.$/));
      await chat.getByRole('button', { name: 'Close', exact: true }).click();
      await chat.waitFor({ state: 'detached' });
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'ends a chat by blocking the client, who is refused the next time',
    async () => {
      const staff = await pages.staffLogsIn();
      const chat = await pages.goAvailable(staff, 1);
      expect(await (await fetch(`${url}/api/helpline`)).json()).toEqual({ chat: { kind: 'webchat', path: '/chat/ws' }, open: true });
      await pages.blocked(chat);
      const room = (await chat.getAttribute('data-room')) ?? '';
      await eventually('the blocked room destroyed', async () => {
        const row = await (host.hooks.get('desk') as HelplineHook).desk.store.room(room);
        return row?.state === 'destroyed' || undefined;
      });
    },
    TEST_TIMEOUT_MS,
  );
});
