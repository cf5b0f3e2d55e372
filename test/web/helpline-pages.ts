// Driving the helpline pages in the browser for the page tests, whatever network the helpline's
// rooms are on: a staff member on the console, clients on the client page, and the full
// conversation both tests run (two clients, two rooms, lines both ways, a clean leave, an end,
// the transcripts and the statistics), and a block.
import type { Browser, Locator, Page } from 'playwright-core';
import { expect } from 'vitest';
import { eventually } from '../helpers/wait.js';

/** How long a page may take to show something on a loaded machine. */
export const SEEN_TIMEOUT_MS = 20_000;

export interface StaffLogin {
  readonly id: string;
  readonly token: string;
  /** The chat account: the web chat user name, or the XMPP address. */
  readonly account: string;
  readonly password: string;
}

export interface HelplinePagesOptions {
  readonly browser: Browser;
  /** porter's web origin, without a trailing slash. */
  readonly url: string;
  readonly staff: StaffLogin;
  /** Whether the pool has a room ready for a staff member (so "Go available" is not answered 503). */
  readonly roomReady: () => Promise<boolean>;
}

/** One client's side of the conversation. */
export interface ClientScript {
  readonly sayHello: string;
  readonly reply: string;
}

export interface HelplinePages {
  /** A page in a browser context of its own (its own cookies and storage, as another person's browser). */
  open(path: string): Promise<Page>;
  seen(locator: Locator): Promise<void>;
  /** Opens the console and logs the staff member in; resolves once the console shows. */
  staffLogsIn(): Promise<Page>;
  /** Clicks "Go available" once a room is ready; resolves with the chat panel `Chat n` once the staff member is in its room. */
  goAvailable(staff: Page, n: number): Promise<Locator>;
  /** Says `text` in the chat of `scope` (a client page, or a staff chat panel) and waits for it in its log. */
  say(scope: Page | Locator, text: string): Promise<void>;
  /** A client is paired with the waiting `chat`, the staff member blocks them, and their next ask is refused. */
  blocked(chat: Locator): Promise<void>;
  /** The whole conversation of the page tests; see the module comment. */
  conversation(a: ClientScript, b: ClientScript): Promise<void>;
  closeAll(): Promise<void>;
}

export function helplinePages(options: HelplinePagesOptions): HelplinePages {
  const opened: Page[] = [];
  const seen = (locator: Locator) => locator.first().waitFor({ state: 'visible', timeout: SEEN_TIMEOUT_MS });

  const pages: HelplinePages = {
    async open(path) {
      const context = await options.browser.newContext({ viewport: { width: 1400, height: 1000 } });
      const page = await context.newPage();
      // An action on an element that never shows fails in its own words, before the test's timeout.
      page.setDefaultTimeout(SEEN_TIMEOUT_MS);
      opened.push(page);
      await page.goto(`${options.url}${path}`);
      return page;
    },

    seen,

    async staffLogsIn() {
      const staff = await pages.open('/helpline/staff');
      await staff.getByLabel('Staff id').fill(options.staff.id);
      await staff.getByLabel('API token').fill(options.staff.token);
      await staff.getByLabel('Chat account').fill(options.staff.account);
      await staff.getByLabel('Chat password').fill(options.staff.password);
      await staff.getByRole('button', { name: 'Log in' }).click();
      await seen(staff.getByText(`Logged in as ${options.staff.id}.`));
      return staff;
    },

    async goAvailable(staff, n) {
      await eventually(`a room ready for chat ${n}`, async () => (await options.roomReady()) || undefined, 30_000);
      await staff.getByRole('button', { name: 'Go available' }).click();
      const chat = staff.getByRole('region', { name: `Chat ${n}`, exact: true });
      // In the room: waiting, or already chatting when a client was waiting for it.
      await expect.poll(() => chat.getAttribute('data-stage'), { timeout: SEEN_TIMEOUT_MS }).toMatch(/^(waiting|chatting)$/);
      return chat;
    },

    async say(scope, text) {
      await scope.getByRole('textbox', { name: 'Message', exact: true }).fill(text);
      await scope.getByRole('button', { name: 'Send', exact: true }).click();
      await seen(scope.getByRole('log').getByText(text, { exact: true }));
    },

    async blocked(chat) {
      const client = await pages.open('/helpline');
      await client.getByRole('button', { name: 'Ask for a chat' }).click();
      await seen(client.getByRole('status').getByText('You are chatting with a staff member.'));
      await pages.say(client, 'I will be rude now');
      await seen(chat.getByRole('log').getByText('I will be rude now'));
      await chat.getByRole('button', { name: 'Block', exact: true }).click();
      await seen(chat.getByRole('log').getByText('You blocked this client and ended the chat.'));
      await seen(client.getByRole('log').getByText('The chat has ended.'));
      await client.getByRole('button', { name: 'Leave the chat' }).click();
      await client.getByRole('button', { name: 'Ask for a chat again' }).click();
      await seen(client.getByRole('status').getByText('You cannot start a chat here.'));
      expect(await client.getByRole('button', { name: /Ask for a chat/ }).count()).toBe(0);
      // The block is of the client's fingerprint (from its address), not of the page: the API refuses a new ticket too.
      expect((await fetch(`${options.url}/api/helpline/queue`, { method: 'POST' })).status).toBe(403);
    },

    async conversation(a, b) {
      const staff = await pages.staffLogsIn();
      const chat1 = await pages.goAvailable(staff, 1);
      // No client yet: porter's own occupant (on XMPP) is not taken for one.
      expect(await chat1.getAttribute('data-stage')).toBe('waiting');
      expect(await chat1.getByRole('log').getByRole('listitem').count()).toBe(0);

      // Client A is paired at once with the one room waiting.
      const clientA = await pages.open('/helpline');
      await clientA.getByRole('button', { name: 'Ask for a chat' }).click();
      await seen(clientA.getByRole('status').getByText('You are chatting with a staff member.'));
      await seen(chat1.getByText(/^Chatting with client-/));
      await pages.say(clientA, a.sayHello);
      await seen(chat1.getByRole('log').getByText(a.sayHello, { exact: true }));
      await pages.say(chat1, a.reply);
      await seen(clientA.getByRole('log').getByText(a.reply, { exact: true }));

      // Client B waits: the only room is taken. Both pages show the place.
      const clientB = await pages.open('/helpline');
      await clientB.getByRole('button', { name: 'Ask for a chat' }).click();
      await seen(clientB.getByRole('status').getByText('You are number 1 in the queue.'));
      const queue = staff.getByRole('table', { name: 'Queue' });
      await seen(queue.getByRole('cell', { name: '1', exact: true }));
      expect(await queue.getByRole('row').count()).toBe(2);

      // A second room: B is paired with it.
      const chat2 = await pages.goAvailable(staff, 2);
      await seen(clientB.getByRole('status').getByText('You are chatting with a staff member.'));
      await seen(chat2.getByText(/^Chatting with client-/));
      await pages.say(clientB, b.sayHello);
      await seen(chat2.getByRole('log').getByText(b.sayHello, { exact: true }));
      await pages.say(chat2, b.reply);
      await seen(clientB.getByRole('log').getByText(b.reply, { exact: true }));
      await seen(staff.getByText('No one is waiting.'));

      // Two rooms is the helpline's limit in these tests (max-chats-per-staff: 2): a third is refused in words.
      await eventually('a room ready for a third chat', async () => (await options.roomReady()) || undefined, 30_000);
      await staff.getByRole('button', { name: 'Go available' }).click();
      await seen(staff.getByRole('alert').getByText('You hold as many chats as you may. End one first.'));
      expect(await staff.getByRole('region', { name: 'Chat 3', exact: true }).count()).toBe(0);

      // Each room carried its own conversation only.
      expect(await chat1.getByRole('log').getByText(b.sayHello).count()).toBe(0);
      expect(await clientB.getByRole('log').getByText(a.reply).count()).toBe(0);
      expect(await clientA.getByRole('log').getByText(b.reply).count()).toBe(0);
      const roomA = await chat1.getAttribute('data-room');
      const roomB = await chat2.getAttribute('data-room');
      expect(roomA).toBeTruthy();
      expect(roomB).not.toBe(roomA);

      // A leaves cleanly; the staff member sees it and closes the panel.
      await clientA.getByRole('button', { name: 'Leave the chat' }).click();
      await seen(clientA.getByRole('status').getByText('You left the chat. Thank you for talking with us.'));
      await seen(chat1.getByRole('log').getByText(/client-\S+ left the chat\.$/));
      await chat1.getByRole('button', { name: 'Close', exact: true }).click();
      await chat1.waitFor({ state: 'detached' });

      // The staff member ends B's chat; B sees it end.
      await chat2.getByRole('button', { name: 'End', exact: true }).click();
      await seen(chat2.getByRole('log').getByText('You ended the chat.'));
      await seen(clientB.getByRole('log').getByText('The chat has ended.'));
      await seen(clientB.getByRole('status').getByText('The chat has ended.'));

      // Both transcripts, with their lines and the rooms' state changes.
      const transcripts = staff.getByRole('table', { name: 'Transcripts' });
      for (const [room, script] of [
        [roomA, a],
        [roomB, b],
      ] as const) {
        await transcripts.getByRole('button', { name: `Read ${room}` }).click();
        const transcript = staff.getByRole('region', { name: 'Transcript', exact: true });
        await expect.poll(() => transcript.getAttribute('data-room'), { timeout: SEEN_TIMEOUT_MS }).toBe(room);
        const messages = transcript.getByRole('list', { name: 'Messages' });
        await seen(messages.getByText(script.sayHello, { exact: true }));
        await seen(messages.getByText(script.reply, { exact: true }));
        await seen(transcript.getByRole('list', { name: 'Room states' }).getByText('staffWaiting → chatting'));
        await seen(transcript.getByRole('list', { name: 'Room states' }).getByText('chatting → closingChat'));
      }
      expect(await transcripts.getByRole('row').count()).toBe(3);

      // The statistics: two clients served, two chats ended.
      await expect.poll(() => staff.locator('[data-stat="clients"]').textContent(), { timeout: SEEN_TIMEOUT_MS }).toBe('2');
      await expect.poll(() => staff.locator('[data-stat="chats"]').textContent(), { timeout: SEEN_TIMEOUT_MS }).toBe('2');
    },

    async closeAll() {
      for (const page of opened.splice(0)) await page.context().close();
    },
  };
  return pages;
}
