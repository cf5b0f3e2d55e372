// The mailbox server on real files: the maildir layout, CRLF sizes, snapshots, refusals, the IPC replies.
import { readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dotStuff, head, MailboxError, Mailboxes, toCrlf } from '../../src/mail/mailbox/index.js';
import { tempDir } from '../helpers/host.js';

let dir: string;
let remove: () => Promise<void>;
beforeEach(async () => {
  ({ dir, remove } = await tempDir());
});
afterEach(async () => {
  await remove();
});

const mailboxes = (options: { deliveredTo?: boolean; maxMessageBytes?: number; knows?: (u: string) => Promise<boolean> } = {}) =>
  new Mailboxes({ root: join(dir, 'mail'), deliveredTo: false, ...options });

describe('message bytes', () => {
  it('turns every line end into CRLF and ends the last line', () => {
    expect(toCrlf(Buffer.from('a\nb\r\nc\rd')).toString()).toBe('a\r\nb\r\nc\r\nd\r\n');
    expect(toCrlf(Buffer.from('\n\n')).toString()).toBe('\r\n\r\n');
    const clean = Buffer.from('x\r\n');
    expect(toCrlf(clean)).toBe(clean);
    expect(toCrlf(Buffer.alloc(0)).length).toBe(0);
  });
  it('refuses NUL bytes, naming where', () => {
    expect(() => toCrlf(Buffer.from('ab\0c'))).toThrow('NUL byte (at offset 2)');
  });
  it('dot-stuffs and terminates', () => {
    expect(dotStuff(Buffer.from('.a\r\nb\r\n..c\r\n.\r\n')).toString()).toBe('..a\r\nb\r\n...c\r\n..\r\n.\r\n');
    expect(dotStuff(Buffer.from('x')).toString()).toBe('x\r\n.\r\n');
    expect(dotStuff(Buffer.alloc(0)).toString()).toBe('.\r\n');
  });
  it('takes the header and the first lines of the body', () => {
    const m = Buffer.from('A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\nl3\r\n');
    expect(head(m, 0).toString()).toBe('A: 1\r\nB: 2\r\n\r\n');
    expect(head(m, 2).toString()).toBe('A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\n');
    expect(head(m, 99).toString()).toBe(m.toString());
    expect(head(Buffer.from('\r\nbody\r\n'), 0).toString()).toBe('\r\n');
  });
});

describe('Mailboxes', () => {
  it('stores through tmp/ into new/, named with the CRLF size, and leaves tmp/ empty', async () => {
    const boxes = mailboxes();
    const stored = await boxes.store('alice@example.org', 'Alice', Buffer.from('Subject: hi\n\nline one\nline two\n'));
    expect(stored.user).toBe('alice');
    expect(stored.size).toBe('Subject: hi\r\n\r\nline one\r\nline two\r\n'.length);
    const home = join(dir, 'mail', 'alice');
    expect((await readdir(home)).sort()).toEqual(['cur', 'new', 'tmp']);
    expect(await readdir(join(home, 'tmp'))).toEqual([]);
    const files = await readdir(join(home, 'new'));
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(new RegExp(`^\\d{13}\\.P\\d+Q\\d+R[0-9a-f]{8}\\.[A-Za-z0-9._-]+,S=${stored.size}$`));
    expect(files[0]!.startsWith(stored.uid)).toBe(true);
    expect((await stat(join(home, 'new', files[0]!))).mode & 0o777).toBe(0o600);
    expect(await readFile(join(home, 'new', files[0]!), 'latin1')).toBe('Subject: hi\r\n\r\nline one\r\nline two\r\n');
  });

  it('removes a delivery left unfinished in tmp/ for more than 36 hours, and keeps a younger one', async () => {
    const first = mailboxes();
    await first.store('alice', 'alice', Buffer.from('Subject: a\r\n\r\nhi\r\n'));
    const tmp = join(dir, 'mail', 'alice', 'tmp');
    await writeFile(join(tmp, 'old.partial'), 'cut off');
    await writeFile(join(tmp, 'young.partial'), 'still being written');
    const twoDaysAgo = new Date(Date.now() - 48 * 60 * 60 * 1000);
    await utimes(join(tmp, 'old.partial'), twoDaysAgo, twoDaysAgo);
    // A new process (a restart) sweeps tmp/ at its first delivery to the mailbox.
    await mailboxes().store('alice', 'alice', Buffer.from('Subject: b\r\n\r\nhi\r\n'));
    expect(await readdir(tmp)).toEqual(['young.partial']);
  });

  it('records the envelope address as Delivered-To by default, counted in the size', async () => {
    const boxes = new Mailboxes({ root: join(dir, 'mail') });
    const stored = await boxes.store('bob@example.org', 'bob', Buffer.from('Subject: x\r\n\r\nhi\r\n'));
    const body = await boxes.retr('bob', 1);
    expect(body.toString()).toBe('Delivered-To: bob@example.org\r\nSubject: x\r\n\r\nhi\r\n');
    expect(stored.size).toBe(body.length);
    await expect(boxes.store('a\r\nX-Evil: 1', 'bob', Buffer.from('x'))).rejects.toThrow('must not contain NUL, CR or LF');
  });

  it('lists in delivery order with CRLF sizes, and numbers by the listing until the next one', async () => {
    const boxes = mailboxes();
    for (const text of ['one\n', 'two\r\n\r\n', 'three\nthree\n']) await boxes.store('', 'carol', Buffer.from(text));
    expect(await boxes.list('carol')).toEqual([
      { number: 1, size: 5, uid: expect.any(String) },
      { number: 2, size: 7, uid: expect.any(String) },
      { number: 3, size: 14, uid: expect.any(String) },
    ]);
    const uids = (await boxes.list('carol')).map((m) => m.uid);
    expect(new Set(uids).size).toBe(3);

    await boxes.dele('carol', 2);
    // Numbers of the listing stay: 3 is still 3, 2 is gone.
    expect((await boxes.retr('carol', 3)).toString()).toBe('three\r\nthree\r\n');
    await expect(boxes.retr('carol', 2)).rejects.toThrow('message 2 is deleted');
    await expect(boxes.dele('carol', 2)).rejects.toThrow('message 2 is deleted');
    // A message arriving now is not in the listing until the next one.
    await boxes.store('', 'carol', Buffer.from('four\n'));
    await expect(boxes.retr('carol', 4)).rejects.toThrow('no message 4 (the mailbox has 3)');
    const again = await boxes.list('carol');
    expect(again.map((m) => [m.number, m.size])).toEqual([
      [1, 5],
      [2, 14],
      [3, 6],
    ]);
    expect(again[1]!.uid).toBe(uids[2]);
    expect((await boxes.retr('carol', 3)).toString()).toBe('four\r\n');
  });

  it('errors on messages that do not exist, and lists an unknown mailbox as empty', async () => {
    const boxes = mailboxes();
    expect(await boxes.list('nobody')).toEqual([]);
    await expect(boxes.dele('nobody', 1)).rejects.toThrow(MailboxError);
    await boxes.store('', 'dan', Buffer.from('x\n'));
    await boxes.list('dan');
    for (const n of [0, -1, 2, 1.5, Number.NaN]) await expect(boxes.dele('dan', n)).rejects.toThrow(/no message/);
  });

  it('refuses bad names, NUL bytes and oversized messages, and stores nothing then', async () => {
    const boxes = mailboxes({ maxMessageBytes: 100 });
    for (const name of ['../etc', '..', 'a/b', '.hidden', '', 'x\0y', '/abs']) {
      await expect(boxes.store('', name, Buffer.from('x\n'))).rejects.toThrow(/user name/);
      await expect(boxes.list(name)).rejects.toThrow(MailboxError);
      await expect(boxes.retr(name, 1)).rejects.toThrow(MailboxError);
    }
    await expect(boxes.store('', 'erin', Buffer.from('Subject: a\n\nb\0c\n'))).rejects.toThrow(
      'NUL byte (at offset 13); nothing was stored',
    );
    await expect(boxes.store('', 'erin', Buffer.alloc(101, 'a'))).rejects.toThrow('larger than the limit of 100 octets');
    // Bare LFs count: 50 lines of "x\n" are 150 octets once CRLF.
    await expect(boxes.store('', 'erin', Buffer.from('x\n'.repeat(50)))).rejects.toThrow('larger than the limit');
    expect(await boxes.list('erin')).toEqual([]);
    await expect(readdir(join(dir, 'mail'))).rejects.toThrow();
  });

  it('refuses recipients the user check does not know', async () => {
    const boxes = mailboxes({ knows: async (u) => u === 'fay' });
    await boxes.store('', 'Fay', Buffer.from('x\n'));
    await expect(boxes.store('', 'gus', Buffer.from('x\n'))).rejects.toThrow('no mailbox for "gus"');
  });

  it('reads messages that moved to cur/ with flags, keeping their uid, and stats files without S=', async () => {
    const boxes = mailboxes();
    await boxes.store('', 'hal', Buffer.from('first\n'));
    const [before] = await boxes.list('hal');
    const home = join(dir, 'mail', 'hal');
    const [file] = await readdir(join(home, 'new'));
    const { rename } = await import('node:fs/promises');
    await rename(join(home, 'new', file!), join(home, 'cur', `${file}:2,S`));
    await writeFile(join(home, 'cur', '9999999999999.foreign'), 'abc\r\n');
    const after = await boxes.list('hal');
    expect(after).toEqual([before, { number: 2, size: 5, uid: '9999999999999.foreign' }]);
    expect((await boxes.retr('hal', 1)).toString()).toBe('first\r\n');
  });

  it('keeps each delivery whole when many arrive at once', async () => {
    const boxes = mailboxes();
    const bodies = Array.from({ length: 50 }, (_, i) => `Subject: ${i}\n\n${'x'.repeat(i * 10)}\n`);
    await Promise.all(bodies.map((b) => boxes.store('', 'ivy', Buffer.from(b))));
    const list = await boxes.list('ivy');
    expect(list).toHaveLength(50);
    const got = await Promise.all(list.map((m) => boxes.retr('ivy', m.number)));
    expect(got.map((b) => b.toString()).sort()).toEqual(bodies.map((b) => b.replaceAll('\n', '\r\n')).sort());
    for (const [i, m] of list.entries()) expect(m.size).toBe(got[i]!.length);
  });

  it('gives one POP3 lock per user at a time', () => {
    const boxes = mailboxes();
    const release = boxes.lock('Jo');
    expect(release).toBeTypeOf('function');
    expect(boxes.lock('jo')).toBeUndefined();
    release!();
    release!();
    const again = boxes.lock('jo');
    expect(again).toBeTypeOf('function');
    again!();
  });
});

describe('mailbox IPC handlers', () => {
  it('answer store, list, mailinfo, retr and dele in the seed’s shapes', async () => {
    const h = mailboxes().handlers();
    const body = Buffer.from('Subject: ipc\n\nhello\n');
    expect(await h.store!({ name: 'store', params: ['kim@example.org', 'kim', String(body.length)], body })).toEqual({ ok: true });
    const crlf = Buffer.from('Subject: ipc\r\n\r\nhello\r\n');
    expect(await h.list!({ name: 'list', params: ['kim'] })).toEqual({ ok: true, value: '1', lines: [`mailinfo: 1 ; ${crlf.length}`] });
    expect(await h.mailinfo!({ name: 'mailinfo', params: ['kim', '1'] })).toEqual({ ok: true, value: `1 ; ${crlf.length}` });
    expect(await h.retr!({ name: 'retr', params: ['kim', '1'] })).toEqual({ ok: true, value: String(crlf.length), body: crlf });
    expect(await h.retr!({ name: 'retr', params: ['kim', '2'] })).toEqual({ ok: false, error: 'no message 2 (the mailbox has 1)' });
    expect(await h.dele!({ name: 'dele', params: ['kim', '1'] })).toEqual({ ok: true });
    expect(await h.dele!({ name: 'dele', params: ['kim', '1'] })).toEqual({ ok: false, error: 'message 1 is deleted' });
    expect(await h.list!({ name: 'list', params: ['kim'] })).toEqual({ ok: true, value: '0', lines: [] });
  });

  it('refuse wrong parameters and lengths with clear errors', async () => {
    const h = mailboxes().handlers();
    expect(await h.store!({ name: 'store', params: ['a', 'kim'], body: Buffer.from('x') })).toMatchObject({
      ok: false,
      error: 'store takes three parameters: to ; recipient ; length',
    });
    expect(await h.store!({ name: 'store', params: ['a', 'kim', '5'], body: Buffer.from('x') })).toEqual({
      ok: false,
      error: 'store announced 5 bytes but 1 followed',
    });
    expect(await h.store!({ name: 'store', params: ['a', 'kim', 'five'], body: Buffer.from('x') })).toMatchObject({ ok: false });
    expect(await h.store!({ name: 'store', params: ['a', '../kim', '1'], body: Buffer.from('x') })).toMatchObject({
      ok: false,
      error: expect.stringContaining('not a valid user name'),
    });
    expect(await h.store!({ name: 'store', params: ['a', 'kim', '3'], body: Buffer.from('a\0b') })).toMatchObject({
      ok: false,
      error: expect.stringContaining('NUL byte'),
    });
    expect(await h.retr!({ name: 'retr', params: ['kim', 'x'] })).toEqual({
      ok: false,
      error: 'the message number must be a whole number, not "x"',
    });
    expect(await h.list!({ name: 'list', params: [] })).toMatchObject({ ok: false });
    expect(await h.dele!({ name: 'dele', params: ['kim'] })).toMatchObject({ ok: false });
  });
});
