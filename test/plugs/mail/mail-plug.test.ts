// The mail plug in real hosts: swaks sends mail to a bridged address and a loopback room gets it; the room's messages come back as mail (POP3, smtp-sink); the same over IPC; restarts; bad mail.
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { text as readText } from 'node:stream/consumers';
import type { Host, SentMessage } from 'porter';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MailHook } from '../../../src/hooks/mail/index.js';
import { MailUsers } from '../../../src/mail/auth/index.js';
import { isMailSending } from '../../../src/mail/local.js';
import type { LoopbackPlug } from '../../../src/plugs/loopback/index.js';
import type { MailRaw } from '../../../src/plugs/mail/index.js';
import { type LogRecord, openHost, tempDir } from '../../helpers/host.js';
import { eventually } from '../../helpers/wait.js';
import { ensureMailTools, popMessages, type SmtpSink, startSmtpSink, swaks } from '../../peers/mail-tools.js';

const PASSWORD = 'correct horse battery staple';
const IPC_TOKEN = 'a-token-of-sixteen-or-more';

let dir: string;
let removeDir: () => Promise<void>;
let mailHost: Host | undefined;
let mailRecords: LogRecord[];
let remoteHost: Host | undefined;
let remoteRecords: LogRecord[];
let sink: SmtpSink;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One porter: the mail hook, the mail plug on team@example.org, a loopback room, bridged by sync. */
function mailDocument(): Record<string, unknown> {
  return {
    plugs: {
      email: {
        path: 'mail.MailPlug',
        config: {
          poll: 0.2,
          recipients: { 'team@example.org': ['alice@example.org', 'team@example.org', 'carol@remote.test'] },
          'max-size': 100_000,
          hold: 'held@example.org',
        },
      },
      lab: { path: 'loopback.LoopbackPlug', config: { users: [{ id: 'ada', name: 'Ada Lovelace' }] } },
    },
    channels: {
      team: { plug: 'email', source: 'team@example.org' },
      room: { plug: 'lab', source: 'room' },
    },
    hooks: {
      mail: {
        path: 'mail.MailHook',
        config: {
          domains: ['example.org'],
          smtp: { hostname: 'mx.example.org', listeners: [{ address: '127.0.0.1:0', mode: 'smtp' }] },
          pop3: '127.0.0.1:0',
          ipc: { socket: 'mail.sock', tcp: { address: '127.0.0.1:0', token: IPC_TOKEN } },
          outbound: { hostname: 'mx.example.org', smarthost: { host: '127.0.0.1', port: sink.port }, backoff: { min: 1, max: 2 } },
        },
      },
      bridge: { path: 'sync.SyncHook', config: { channels: { team: ['team', 'room'] } } },
      // What every hook sees, to check the message the plug makes.
      seen: { path: 'recorder.RecorderHook' },
    },
  };
}

/** Another porter: only the mail plug (over the first one's IPC socket) and a loopback room, bridged. */
function remoteDocument(ipc: Record<string, unknown> = { socket: join(dir, 'mail.sock') }): Record<string, unknown> {
  return {
    plugs: {
      email: {
        path: 'mail.MailPlug',
        config: {
          ipc: { ...ipc, domains: ['example.org'] },
          poll: 0.2,
          recipients: { 'desk@example.org': ['alice@example.org', 'dave@remote.test'] },
        },
      },
      lab: { path: 'loopback.LoopbackPlug' },
    },
    channels: {
      desk: { plug: 'email', source: 'desk@example.org' },
      counter: { plug: 'lab', source: 'counter' },
    },
    hooks: { bridge: { path: 'sync.SyncHook', config: { channels: { desk: ['desk', 'counter'] } } } },
  };
}

function mailHook(): MailHook {
  return mailHost!.hooks.get('mail') as MailHook;
}

function smtpPort(): number {
  return mailHook().listeners.smtp.find((l) => l.mode === 'smtp')!.port;
}

const send = (args: readonly string[]) => swaks(['--server', '127.0.0.1', '--port', String(smtpPort()), '--helo', 'client.test', ...args]);

/** Every message in the user's mailbox, through Python's poplib, deleted after reading. */
function popAll(user: string): Promise<string[]> {
  return popMessages(mailHook().listeners.pop3[0]!.port, user, PASSWORD, { dele: true });
}

async function mailboxCount(user: string): Promise<number> {
  return (await mailHook().mailboxes!.snapshot(user)).messages.length;
}

const marker = (what: string) => `${what} ${Math.random().toString(36).slice(2, 10)}`;

beforeAll(async () => {
  await ensureMailTools();
  ({ dir, remove: removeDir } = await tempDir());
  sink = await startSmtpSink(dir);
  ({ host: mailHost, records: mailRecords } = await openHost(mailDocument(), dir));
  const users = new MailUsers(mailHost.store);
  for (const name of ['team@example.org', 'alice@example.org', 'held@example.org', 'desk@example.org']) await users.add(name, PASSWORD);
  const remoteDir = join(dir, 'remote');
  await mkdir(remoteDir);
  ({ host: remoteHost, records: remoteRecords } = await openHost(remoteDocument(), remoteDir));
}, 120_000);

afterAll(async () => {
  await remoteHost?.close();
  await mailHost?.close();
  await sink?.stop();
  await removeDir?.();
});

describe('mail.MailPlug in the porter that runs the mail hook', () => {
  it('hands mail for a bridged address to the room: sender, subject, text and attachment', async () => {
    const lab = mailHost!.plugs.get('lab') as LoopbackPlug;
    const body = marker('see you at noon');
    const attachment = join(dir, 'agenda.txt');
    await writeFile(attachment, '1. soup\n2. bread\n');
    const arrived = lab.waitFor('room', (m) => m.text?.toPlain().includes(body) ?? false, 15_000);
    const result = await send([
      '--from',
      'bob@outside.test',
      '--to',
      'team@example.org',
      '--header',
      'From: "Bob Builder" <bob@outside.test>',
      '--header',
      'Subject: Lunch on Friday',
      '--header',
      'Message-ID: <lunch-1@outside.test>',
      '--body',
      body,
      '--attach-type',
      'text/plain',
      '--attach-name',
      'agenda.txt',
      '--attach',
      `@${attachment}`,
    ]);
    expect(result.code, result.output).toBe(0);
    const got = await arrived;
    expect(got.user?.realName).toBe('Bob Builder');
    expect(got.text?.toPlain()).toBe(`Lunch on Friday\n${body}`);
    expect(got.attachments?.map((a) => [a.name, a.type])).toEqual([['agenda.txt', 'text/plain']]);
    expect(await readText(await got.attachments![0]!.open!())).toBe('1. soup\n2. bread\n');
    // Taken from the mailbox once handed over.
    await eventually('the mailbox to empty', async () => ((await mailboxCount('team@example.org')) === 0 ? true : undefined));
  });

  it('gives hooks the message id, the subject and the whole mail', async () => {
    const recorder = mailHost!.hooks.get('seen') as unknown as { seen: SentMessage[] };
    const body = marker('raw');
    const result = await send([
      '--from',
      'bob@outside.test',
      '--to',
      'team@example.org',
      '--header',
      'Subject: about raw',
      '--header',
      'Message-ID: <raw-1@outside.test>',
      '--body',
      body,
    ]);
    expect(result.code, result.output).toBe(0);
    const mail = await eventually('the message', async () =>
      recorder.seen.find((m) => m.channel.plug.name === 'email' && m.text?.toPlain().includes(body)),
    );
    expect(mail.id).toBe('raw-1@outside.test');
    expect(mail.title).toBe('about raw');
    expect(mail.channel.key).toBe('email:team@example.org');
    const raw = mail.raw as MailRaw;
    expect(raw.messageId).toBe('raw-1@outside.test');
    expect(raw.source.toString()).toContain(body);
    expect(raw.from?.address).toBe('bob@outside.test');
    expect(raw.to).toEqual(['team@example.org']);
    expect(raw.automatic).toBe(false);
  });

  it('sends what is written in the room as mail: to a local mailbox, to the smarthost, and never back into the room', async () => {
    const lab = mailHost!.plugs.get('lab') as LoopbackPlug;
    const line = marker('the minutes are online');
    lab.post('room', line, 'ada');
    const [mail] = await eventually('the mail in alice’s mailbox', async () => {
      const got = await popAll('alice@example.org');
      return got.length > 0 ? got : undefined;
    });
    expect(mail).toMatch(/\r\nFrom: Ada Lovelace <team@example\.org>\r\n/);
    expect(mail).toMatch(/\r\nTo: alice@example\.org, team@example\.org, carol@remote\.test\r\n/);
    expect(mail).toContain(`\r\nSubject: the minutes are online`);
    expect(mail).toMatch(/\r\nMessage-ID: <porter\.[^>]+@example\.org>\r\n/);
    expect(mail!.slice(mail!.indexOf('\r\n\r\n') + 4)).toContain(line);
    const dumped = await eventually('the mail at the smarthost', async () => {
      for (const file of await readdir(sink.dump)) {
        const text = await readFile(join(sink.dump, file), 'utf8');
        if (text.includes(line)) return text;
      }
      return undefined;
    });
    expect(dumped).toContain('carol@remote.test');
    // team@example.org is a recipient too: its copy is read back as porter's own and not bridged again.
    await eventually('the echo to be read', async () => ((await mailboxCount('team@example.org')) === 0 ? true : undefined));
    await sleep(600);
    expect(lab.history('room').filter((m) => m.text?.toPlain().includes(line))).toHaveLength(1);
  });

  it('answers a mail in the thread: In-Reply-To becomes the reply', async () => {
    const lab = mailHost!.plugs.get('lab') as LoopbackPlug;
    const line = marker('question');
    const question = lab.post('room', line, 'ada');
    const [mail] = await eventually('the mail in alice’s mailbox', async () => {
      const got = await popAll('alice@example.org');
      return got.length > 0 ? got : undefined;
    });
    const id = /\r\nMessage-ID: (<[^>]+>)/.exec(mail!)![1]!;
    const answer = marker('answer');
    const arrived = lab.waitFor('room', (m) => m.text?.toPlain().includes(answer) ?? false);
    const result = await send([
      '--from',
      'alice@example.org',
      '--to',
      'team@example.org',
      '--header',
      'Subject: Re: question',
      '--header',
      `In-Reply-To: ${id}`,
      '--body',
      answer,
    ]);
    expect(result.code, result.output).toBe(0);
    const got = await arrived;
    // The bridge points the reply at the room's own message.
    expect(got.replyTo?.id).toBe(question.id);
  });

  it('turns an HTML-only mail into text', async () => {
    const lab = mailHost!.plugs.get('lab') as LoopbackPlug;
    const word = marker('html');
    const arrived = lab.waitFor('room', (m) => m.text?.toPlain().includes(word) ?? false);
    const data = [
      'From: Hattie <hattie@outside.test>',
      'To: team@example.org',
      'Subject: formatted',
      'MIME-Version: 1.0',
      'Content-Type: text/html; charset=utf-8',
      '',
      `<html><body><p>Hello <b>${word}</b></p><p>second paragraph</p></body></html>`,
      '',
    ].join('\r\n');
    const result = await send(['--from', 'hattie@outside.test', '--to', 'team@example.org', '--data', data]);
    expect(result.code, result.output).toBe(0);
    const got = await arrived;
    expect(got.text?.toPlain()).toBe(`formatted\nHello ${word}\n\nsecond paragraph`);
    expect(got.user?.realName).toBe('Hattie');
  });

  it('hands over malformed MIME as far as it can be read, the whole mail in raw', async () => {
    const lab = mailHost!.plugs.get('lab') as LoopbackPlug;
    const recorder = mailHost!.hooks.get('seen') as unknown as { seen: SentMessage[] };
    const word = marker('broken');
    const arrived = lab.waitFor('room', (m) => m.text?.toPlain().includes(word) ?? false);
    // A multipart whose boundary never comes, a header line without a colon, and stray 8-bit bytes.
    const data = [
      'From: Mallory <mallory@outside.test>',
      'To: team@example.org',
      `Subject: ${word}`,
      'this header has no colon',
      'Content-Type: multipart/mixed; boundary="never-used"',
      '',
      'lost body \u00ff\u00fe',
      '',
    ].join('\r\n');
    const result = await send(['--from', 'mallory@outside.test', '--to', 'team@example.org', '--data', data]);
    expect(result.code, result.output).toBe(0);
    const got = await arrived;
    expect(got.user?.realName).toBe('Mallory');
    // mailparser finds no part in a multipart without its boundary: the text is the subject alone.
    expect(got.text?.toPlain()).toBe(word);
    const mail = recorder.seen.find((m) => m.channel.plug.name === 'email' && m.title === word);
    expect((mail!.raw as MailRaw).source.toString()).toContain('lost body');
    expect(mailHost!.plugs.get('email')!.state).toBe('active');
  });

  it('moves mail from the null sender and mail over max-size to the hold mailbox, with a log line', async () => {
    const before = (await popAll('held@example.org')).length;
    expect(before).toBe(0);
    const bounce = await send([
      '--from',
      '<>',
      '--to',
      'team@example.org',
      '--header',
      'From: Mail Delivery System <MAILER-DAEMON@outside.test>',
      '--header',
      'Subject: Undelivered Mail Returned to Sender',
      '--header',
      'Auto-Submitted: auto-replied',
      '--body',
      'your message could not be delivered',
    ]);
    expect(bounce.code, bounce.output).toBe(0);
    const big = join(dir, 'big.bin');
    await writeFile(big, Buffer.alloc(150_000, 7));
    const large = await send([
      '--from',
      'bob@outside.test',
      '--to',
      'team@example.org',
      '--header',
      'Subject: holiday pictures',
      '--attach',
      `@${big}`,
    ]);
    expect(large.code, large.output).toBe(0);
    const held = await eventually('both in the hold mailbox', async () => {
      const count = await mailboxCount('held@example.org');
      return count >= 2 ? count : undefined;
    });
    expect(held).toBe(2);
    expect(await mailboxCount('team@example.org')).toBe(0);
    const lines = mailRecords.filter((r) => r.msg.startsWith('mail not handed over'));
    expect(lines.some((r) => r.msg.includes('made by a program') && r.heldIn === 'held@example.org')).toBe(true);
    expect(lines.some((r) => r.msg.includes('more than max-size (100000)'))).toBe(true);
    const lab = mailHost!.plugs.get('lab') as LoopbackPlug;
    expect(lab.history('room').some((m) => m.text?.toPlain().includes('could not be delivered'))).toBe(false);
    expect(lab.history('room').some((m) => m.text?.toPlain().includes('holiday pictures'))).toBe(false);
  });

  it('lets another hook send mail of its own, such as a calendar reply', async () => {
    const email = mailHost!.plugs.get('email');
    expect(isMailSending(email)).toBe(true);
    if (!isMailSending(email)) return;
    const id = await email.sendMail({
      from: 'team@example.org',
      to: ['alice@example.org'],
      subject: 'Accepted: planning',
      text: 'accepted',
      calendar: { method: 'REPLY', content: 'BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nEND:VCALENDAR\r\n' },
      autoSubmitted: 'auto-replied',
    });
    const [mail] = await eventually('the reply in alice’s mailbox', async () => {
      const got = await popAll('alice@example.org');
      return got.length > 0 ? got : undefined;
    });
    expect(mail).toContain(`Message-ID: <${id}>`);
    expect(mail).toContain('Auto-Submitted: auto-replied');
    expect(mail).toMatch(/Content-Type: text\/calendar; charset=utf-8; method=REPLY/);
  });

  it('says clearly when a channel has no recipients', async () => {
    const email = mailHost!.plugs.get('email')!;
    const channel = email.channel('nobody-listens@example.org');
    await expect(mailHost!.send(channel, { text: (await import('porter')).RichText.plain('hello') })).rejects.toThrow(
      /no recipients for nobody-listens@example\.org \(set recipients\.nobody-listens@example\.org/,
    );
  });
});

describe('mail.MailPlug over IPC, in another porter', () => {
  it('bridges mail for its address with its room, both ways', async () => {
    const lab = remoteHost!.plugs.get('lab') as LoopbackPlug;
    const body = marker('over ipc');
    const arrived = lab.waitFor('counter', (m) => m.text?.toPlain().includes(body) ?? false, 15_000);
    const result = await send([
      '--from',
      'bob@outside.test',
      '--to',
      'desk@example.org',
      '--header',
      'From: "Bob Builder" <bob@outside.test>',
      '--header',
      'Subject: opening hours',
      '--body',
      body,
    ]);
    expect(result.code, result.output).toBe(0);
    const got = await arrived;
    expect(got.user?.realName).toBe('Bob Builder');
    expect(got.text?.toPlain()).toBe(`opening hours\n${body}`);

    const line = marker('we open at nine');
    lab.post('counter', line, { id: 'tim', realName: 'Tim' });
    const [mail] = await eventually('the mail in alice’s mailbox', async () => {
      const all = await popAll('alice@example.org');
      return all.length > 0 ? all : undefined;
    });
    expect(mail).toMatch(/\r\nFrom: Tim <desk@example\.org>\r\n/);
    expect(mail).toContain(line);
    // The remote recipient goes through the queue's slot and SMTP out, over IPC too.
    const dumped = await eventually('the mail at the smarthost', async () => {
      for (const file of await readdir(sink.dump)) {
        const text = await readFile(join(sink.dump, file), 'utf8');
        if (text.includes(line)) return text;
      }
      return undefined;
    });
    expect(dumped).toContain('dave@remote.test');
  });

  it('works over IPC on TCP with the token', async () => {
    await remoteHost!.close();
    const remoteDir = join(dir, 'remote');
    ({ host: remoteHost, records: remoteRecords } = await openHost(
      remoteDocument({ tcp: `127.0.0.1:${mailHook().listeners.ipcTcpPort}`, token: IPC_TOKEN }),
      remoteDir,
    ));
    const lab = remoteHost.plugs.get('lab') as LoopbackPlug;
    const body = marker('over tcp');
    const arrived = lab.waitFor('counter', (m) => m.text?.toPlain().includes(body) ?? false, 15_000);
    const result = await send(['--from', 'bob@outside.test', '--to', 'desk@example.org', '--body', body]);
    expect(result.code, result.output).toBe(0);
    expect((await arrived).user?.id).toBe('bob@outside.test');
    await remoteHost.close();
    ({ host: remoteHost, records: remoteRecords } = await openHost(remoteDocument(), remoteDir));
  });

  it('delivers the mail that arrived while it was stopped when it starts again', async () => {
    await remoteHost!.close();
    const body = marker('while you were out');
    const result = await send(['--from', 'bob@outside.test', '--to', 'desk@example.org', '--header', 'Subject: missed', '--body', body]);
    expect(result.code, result.output).toBe(0);
    await eventually('the mail in desk’s mailbox', async () => ((await mailboxCount('desk@example.org')) === 1 ? true : undefined));
    ({ host: remoteHost, records: remoteRecords } = await openHost(remoteDocument(), join(dir, 'remote')));
    const lab = remoteHost.plugs.get('lab') as LoopbackPlug;
    const got = await eventually('the mail in the room', async () => lab.history('counter').find((m) => m.text?.toPlain().includes(body)));
    expect(got.text?.toPlain()).toBe(`missed\n${body}`);
    await eventually('desk’s mailbox to empty', async () => ((await mailboxCount('desk@example.org')) === 0 ? true : undefined));
  });

  it('leaves mail from the null sender in the mailbox, says so once, and goes on', async () => {
    const bounce = await send([
      '--from',
      '<>',
      '--to',
      'desk@example.org',
      '--header',
      'From: MAILER-DAEMON@outside.test',
      '--header',
      'Auto-Submitted: auto-replied',
      '--body',
      'returned mail',
    ]);
    expect(bounce.code, bounce.output).toBe(0);
    await eventually('the log line', async () =>
      remoteRecords.find((r) => r.msg.startsWith('mail not handed over: mail made by a program') && r.mailbox === 'desk@example.org'),
    );
    const body = marker('after the bounce');
    const lab = remoteHost!.plugs.get('lab') as LoopbackPlug;
    const arrived = lab.waitFor('counter', (m) => m.text?.toPlain().includes(body) ?? false);
    const result = await send(['--from', 'bob@outside.test', '--to', 'desk@example.org', '--body', body]);
    expect(result.code, result.output).toBe(0);
    await arrived;
    await sleep(600);
    expect(await mailboxCount('desk@example.org')).toBe(1);
    expect(remoteRecords.filter((r) => r.msg.startsWith('mail not handed over'))).toHaveLength(1);
  });

  it('keeps running and says so when the mail servers cannot be reached', async () => {
    await remoteHost!.close();
    const remoteDir = join(dir, 'remote');
    ({ host: remoteHost, records: remoteRecords } = await openHost(remoteDocument({ socket: join(dir, 'nothing-here.sock') }), remoteDir));
    expect(remoteHost.plugs.get('email')!.state).toBe('active');
    await eventually('the warning', async () => remoteRecords.find((r) => r.msg === 'cannot reach the mail servers; trying again'));
    await remoteHost.close();
    ({ host: remoteHost, records: remoteRecords } = await openHost(remoteDocument(), remoteDir));
  });
});
