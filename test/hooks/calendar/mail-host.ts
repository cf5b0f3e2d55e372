// A porter with the mail hook (SMTP, LMTP, POP3) and a calendar hook, for tests that mail
// scheduling messages in with Python and read the agents' answers back over POP3.
import type { Host } from 'porter';
import type { CalendarHook } from '../../../src/hooks/calendar/index.js';
import type { MailHook } from '../../../src/hooks/mail/index.js';
import { MailUsers } from '../../../src/mail/auth/index.js';
import { type LogRecord, openHost, tempDir } from '../../helpers/host.js';
import { eventually as eventuallyWithin, freePort } from '../../helpers/wait.js';
import { ensureMailTools, popMessages } from '../../peers/mail-tools.js';
import { ensurePythonCalendar } from '../../peers/python-calendar.js';
import { type Invitation, mailCalendar, makeCalendar, type ParsedReply, readReply } from './itip.js';

export const PASSWORD = 'calendar test password';
export const AMS = 'Europe/Amsterdam';

/** Mail goes through SMTP, the queue, the plug and back by POP3: on a loaded machine that takes a while. */
export const eventually = <T>(what: string, probe: () => Promise<T | undefined>, ms = 45_000): Promise<T> =>
  eventuallyWithin(what, probe, ms);

export const unique = (what: string) => `${what}-${Math.random().toString(36).slice(2, 10)}@test`;

/** A Monday `weeks` weeks ahead, as YYYY-MM-DD. */
export function monday(weeks: number): string {
  const now = new Date();
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 7 * weeks));
  d.setUTCDate(d.getUTCDate() - ((d.getUTCDay() + 6) % 7));
  return d.toISOString().slice(0, 10);
}

export interface MailHost {
  readonly host: Host;
  readonly records: LogRecord[];
  readonly dir: string;
  /** The whole config document the host runs. */
  readonly doc: Record<string, unknown>;
  calendar(): CalendarHook;
  port(mode: 'smtp' | 'lmtp'): number;
  /** Every mail fetched from `user`'s mailbox so far (POP3 deletes it; later looks add to it). */
  mailFor(user: string): Promise<string[]>;
  /** Waits for the iTIP message about `uid` with `method` (from `from`) in `user`'s mailbox, read by Python. */
  itipFor(user: string, uid: string, from?: string, method?: string, where?: (reply: ParsedReply) => boolean): Promise<ParsedReply>;
  /** Mails an invitation (or another method) made by Python's icalendar; the organizer defaults to org@example.org. */
  invite(inv: Omit<Invitation, 'organizer'> & { organizer?: string }, o?: { from?: string }): Promise<string>;
  /** Mails a calendar text as it is. */
  mail(from: string, to: readonly string[], calendar: string): Promise<void>;
  api<T>(url: string, method?: 'GET' | 'POST', body?: unknown): Promise<{ status: number; json: T; text: string }>;
  close(): Promise<void>;
}

/**
 * Starts porter with a mailbox for each of `users` (local parts at example.org); `agents` of them
 * get a mail channel of the same name for the calendar hook's `calendar` config.
 */
export async function openMailHost(o: {
  users: readonly string[];
  agents: readonly string[];
  calendar: Record<string, unknown>;
}): Promise<MailHost> {
  await Promise.all([ensureMailTools(), ensurePythonCalendar()]);
  const { dir, remove } = await tempDir();
  const doc: Record<string, unknown> = {
    http: { listen: '127.0.0.1:0' },
    plugs: { email: { path: 'mail.MailPlug', config: { poll: 0.2 } } },
    channels: Object.fromEntries(o.agents.map((u) => [u, { plug: 'email', source: `${u}@example.org` }])),
    hooks: {
      mail: {
        path: 'mail.MailHook',
        config: {
          domains: ['example.org'],
          smtp: {
            hostname: 'mx.example.org',
            listeners: [
              { address: '127.0.0.1:0', mode: 'smtp' },
              { address: '127.0.0.1:0', mode: 'lmtp' },
            ],
          },
          pop3: '127.0.0.1:0',
          outbound: { hostname: 'mx.example.org', smarthost: { host: '127.0.0.1', port: await freePort() } },
        },
      },
      calendar: { path: 'calendar.CalendarHook', config: o.calendar },
    },
  };
  const { host, records } = await openHost(doc, dir);
  const users = new MailUsers(host.store);
  for (const u of o.users) await users.add(`${u}@example.org`, PASSWORD);
  const mailHook = () => host.hooks.get('mail') as MailHook;
  const port = (mode: 'smtp' | 'lmtp') => mailHook().listeners.smtp.find((l) => l.mode === mode)!.port;
  const fetched = new Map<string, string[]>();
  const mailFor = async (user: string) => {
    const got = await popMessages(mailHook().listeners.pop3[0]!.port, `${user}@example.org`, PASSWORD, { dele: true });
    const all = [...(fetched.get(user) ?? []), ...got];
    fetched.set(user, all);
    return all;
  };
  const parsedOnce = new Map<string, Promise<ParsedReply>>();
  const parsed = (mail: string) => {
    let reply = parsedOnce.get(mail);
    if (!reply) {
      reply = readReply(mail);
      parsedOnce.set(mail, reply);
    }
    return reply;
  };
  return {
    host,
    records,
    dir,
    doc,
    calendar: () => host.hooks.get('calendar') as CalendarHook,
    port,
    mailFor,
    itipFor: (user, uid, from, method = 'REPLY', where = () => true) =>
      eventually(`a ${method} for ${uid} in ${user}'s mailbox`, async () => {
        for (const mail of await mailFor(user)) {
          if (!mail.includes(uid)) continue;
          const reply = await parsed(mail);
          if (reply.method === method && (!from || reply.from.includes(from)) && where(reply)) return reply;
        }
        return undefined;
      }),
    async invite(inv, opts = {}) {
      const organizer = inv.organizer ?? 'org@example.org';
      const text = await makeCalendar({ ...inv, organizer });
      await mailCalendar({ port: port('smtp'), from: opts.from ?? organizer, to: inv.attendees, calendar: text });
      return text;
    },
    mail: (from, to, calendar) => mailCalendar({ port: port('smtp'), from, to, calendar }),
    async api<T>(url: string, method: 'GET' | 'POST' = 'GET', body?: unknown) {
      const res = await host.http!.app.inject({ method, url, ...(body !== undefined ? { payload: body as object } : {}) });
      return {
        status: res.statusCode,
        json: (String(res.headers['content-type'] ?? '').includes('json') ? res.json() : undefined) as T,
        text: res.body,
      };
    },
    async close() {
      await host.close();
      await remove();
    },
  };
}
