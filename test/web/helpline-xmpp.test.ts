// The helpline pages in Debian's Chromium against a real porter whose helpline rooms are on Debian's
// Prosody: the pages reach Prosody over WebSocket, clients log in anonymously on its anonymous host
// and the staff member with their JID. The same conversation as on web chat: a staff member in two
// rooms, two clients paired (the second after waiting), lines both ways, a clean leave, a chat ended
// by staff, both transcripts and the statistics. Also the closed message before anyone is on duty,
// and a blocked client refused.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import type { Host } from 'porter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HelplineHook } from '../../src/hooks/helpline/index.js';
import { WEB_ROOT } from '../../src/services/http/web.js';
import { openHost, tempDir } from '../helpers/host.js';
import { eventually } from '../helpers/wait.js';
import { launchChromium } from '../peers/chromium.js';
import { ANON_DOMAIN, BOT, botPlug, DOMAIN, type Prosody, startProsody } from '../peers/prosody.js';
import { type HelplinePages, helplinePages } from './helpline-pages.js';

// A fresh machine installs Chromium and Prosody first.
const LAUNCH_TIMEOUT_MS = 600_000;
const TEST_TIMEOUT_MS = 180_000;
const ADA_TOKEN = 'ada-api-token-0123456789';
const ADA_PASSWORD = 'ada-xmpp-password';
const CLOSED = 'We are closed: call again at nine.';

function porterConfig(prosody: Prosody): Record<string, unknown> {
  return {
    http: { listen: '127.0.0.1:0' },
    plugs: {
      chat: botPlug(prosody, { reconnect: { min: 0.2, max: 1 } }),
    },
    hooks: {
      desk: {
        path: 'helpline.HelplineHook',
        config: {
          plug: 'chat',
          pool: { size: 2 },
          'max-chats-per-staff': 2,
          upkeep: 0.5,
          'closed-message': CLOSED,
          'fingerprint-secret': 'a fingerprint secret for the page test',
          web: { websocket: prosody.websocket, anonymous: ANON_DOMAIN },
          staff: { ada: { jid: `ada@${DOMAIN}`, token: ADA_TOKEN } },
        },
      },
    },
  };
}

let prosody: Prosody;
let browser: Browser;
let host: Host;
let removeDir: () => Promise<void>;
let url: string;
let pages: HelplinePages;

beforeAll(async () => {
  if (!existsSync(join(WEB_ROOT, 'index.html'))) throw new Error(`${WEB_ROOT} has no build of the web UI: run npm run build`);
  [prosody, browser] = await Promise.all([startProsody(), launchChromium()]);
  await prosody.register(BOT.name, BOT.password);
  await prosody.register('ada', ADA_PASSWORD);
  let dir: string;
  ({ dir, remove: removeDir } = await tempDir());
  ({ host } = await openHost(porterConfig(prosody), dir));
  url = (host.http?.url ?? '').replace(/\/$/, '');
  const desk = () => (host.hooks.get('desk') as HelplineHook).desk;
  pages = helplinePages({
    browser,
    url,
    staff: { id: 'ada', token: ADA_TOKEN, account: `ada@${DOMAIN}`, password: ADA_PASSWORD },
    roomReady: async () => (await desk().store.rooms(['available'])).length > 0,
  });
}, LAUNCH_TIMEOUT_MS);

afterAll(async () => {
  await pages?.closeAll();
  await browser?.close();
  await host?.close();
  await removeDir?.();
  await prosody?.remove();
});

describe('the helpline pages on Prosody', () => {
  it(
    'tells a client the closed message while no staff member is on duty',
    async () => {
      const client = await pages.open('/helpline');
      await client.getByRole('button', { name: 'Ask for a chat' }).click();
      await pages.seen(client.getByRole('button', { name: 'Ask for a chat again' }));
      await pages.seen(client.getByRole('status').getByText(CLOSED));
      const info = (await (await fetch(`${url}/api/helpline`)).json()) as Record<string, unknown>;
      expect(info).toMatchObject({ open: false, chat: { kind: 'xmpp', websocket: prosody.websocket, anonymous: ANON_DOMAIN } });
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'pairs two anonymous clients with a staff member in two MUC rooms, carries lines both ways, and shows transcripts and statistics',
    async () => {
      await pages.conversation(
        { sayHello: 'Hello over XMPP from A', reply: 'Hi A, Ada on XMPP' },
        { sayHello: 'Hello over XMPP from B', reply: 'Hi B, Ada on XMPP' },
      );
      const stats = (await (
        await fetch(`${url}/api/helpline/stats`, { headers: { authorization: `Bearer ${ADA_TOKEN}` } })
      ).json()) as Record<string, unknown>;
      expect(stats).toMatchObject({ clients: 2, chats: 2 });
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'ends a chat by blocking the client, who is refused the next time',
    async () => {
      const staff = await pages.staffLogsIn();
      const chat = await pages.goAvailable(staff, 1);
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
