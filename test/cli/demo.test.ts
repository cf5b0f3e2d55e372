// The mail of `npm start`'s demo (examples/demo.yaml) as a user tries it: the start lines name the
// demo users and the commands, swaks sends a mail in, curl reads it back over POP3. The demo's
// own ports are fixed; here the same config runs on free ports, in a temp folder, without the board.
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Document, parseDocument } from 'yaml';
import { porter, porterExit } from '../helpers/cli.js';
import { tempDir } from '../helpers/host.js';
import { freePort } from '../helpers/wait.js';
import { swaks } from '../peers/mail-tools.js';

const DEMO = fileURLToPath(new URL('../../examples/demo.yaml', import.meta.url));
const run = promisify(execFile);

let dir: string;
let remove: () => Promise<void>;
beforeEach(async () => {
  ({ dir, remove } = await tempDir());
});
afterEach(async () => {
  await remove();
});

/** examples/demo.yaml with its listeners on ports the kernel picks and its files in `dir`. */
async function demoCopy(edit?: (doc: Document) => void): Promise<string> {
  const doc = parseDocument(await readFile(DEMO, 'utf8'));
  doc.set('store', `sqlite:${join(dir, 'porter.db')}`);
  doc.setIn(['http', 'listen'], '127.0.0.1:0');
  doc.deleteIn(['hooks', 'board']);
  const mail = ['hooks', 'mail', 'config'];
  doc.setIn([...mail, 'spool'], join(dir, 'spool'));
  doc.setIn([...mail, 'mailboxes'], join(dir, 'mail'));
  doc.setIn([...mail, 'smtp', 'listeners', 0, 'address'], '127.0.0.1:0');
  doc.setIn([...mail, 'smtp', 'listeners', 1, 'address'], '127.0.0.1:0');
  doc.setIn([...mail, 'pop3'], '127.0.0.1:0');
  doc.setIn([...mail, 'outbound', 'smarthost', 'port'], await freePort());
  edit?.(doc);
  const file = join(dir, 'demo.yaml');
  await writeFile(file, doc.toString());
  return file;
}

/** The arguments of the start line `mail try: COMMAND …` that runs `command`. */
function tryLine(stdout: string, command: string, containing: string): string[] {
  const line = stdout.split('\n').find((l) => l.includes(`mail try: ${command} `) && l.includes(containing));
  if (!line) throw new Error(`no "mail try: ${command}" line with ${containing} in:\n${stdout}`);
  return line.slice(line.indexOf(`${command} `) + command.length + 1).split(' ');
}

describe("the demo's mail", () => {
  it('names its demo users and how to try them, and the commands it prints work', async () => {
    const file = await demoCopy();
    const first = porter(['run', file]);
    try {
      await first.waitFor('mail try: curl', 30_000);
      expect(first.stdout).toMatch(
        /mail demo users \(passwords from the config, for demos only\): alice@example\.org \(password alice-demo\)/,
      );
      const sent = await swaks([
        ...tryLine(first.stdout, 'swaks', '--to alice@example.org'),
        '--header',
        'Subject: tried from the start lines',
      ]);
      expect(sent.output).toMatch(/<- {2}250 .*queued/);
      const curl = tryLine(first.stdout, 'curl', 'pop3://');
      // Local delivery moves it from the queue into the mailbox a moment after the 250.
      let message = '';
      for (let i = 0; i < 50 && !message.includes('tried from the start lines'); i++) {
        await new Promise((r) => setTimeout(r, 100));
        message = await run('curl', ['-s', ...curl]).then(
          (r) => r.stdout,
          () => '',
        );
      }
      expect(message).toContain('Subject: tried from the start lines');
      expect(message).toContain('Delivered-To: alice@example.org');
      // Submission with the demo password, to another domain: accepted, then it waits for the smarthost.
      const out = await swaks(tryLine(first.stdout, 'swaks', '--auth-user'));
      expect(out.output).toMatch(/<- {2}235 /);
      expect(out.output).toMatch(/<- {2}250 .*queued/);
    } finally {
      first.child.kill('SIGTERM');
      expect(await first.exited).toBe(0);
    }

    // The next start finds the users there and leaves them (and a changed password) alone.
    expect((await porterExit(['user', '-c', file, 'passwd', 'bob@example.org', '--password', 'changed'])).code).toBe(0);
    const second = porter(['run', file]);
    try {
      await second.waitFor('mail try: curl', 30_000);
      const listed = await porterExit(['user', '-c', file, 'list']);
      type DemoConfig = { hooks: { mail: { config: { 'demo-users': Record<string, string> } } } };
      const demoUsers = Object.keys((parseDocument(await readFile(file, 'utf8')).toJS() as DemoConfig).hooks.mail.config['demo-users']);
      expect(demoUsers).toEqual(expect.arrayContaining(['alice@example.org', 'bob@example.org']));
      expect(listed.stdout.split('\n').map((l) => l.split('\t')[0])).toEqual([...demoUsers.sort(), '']);
      const server = tryLine(second.stdout, 'swaks', '--auth-user')[1]!;
      const bob = await swaks([
        '--server',
        server,
        '--auth-user',
        'bob@example.org',
        '--auth-password',
        'bob-demo',
        '--from',
        'bob@example.org',
        '--to',
        'someone@example.net',
      ]);
      expect(bob.output).toMatch(/<\*\* 535 /);
    } finally {
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    }
  }, 120_000); // two starts of the whole demo, each waited for up to 30 s: on a loaded machine 30 s for all is too short

  it('refuses demo users on a listener that is not on loopback', async () => {
    const file = await demoCopy((doc) => doc.setIn(['hooks', 'mail', 'config', 'pop3'], '0.0.0.0:0'));
    const result = await porterExit(['check', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/hooks\.mail\.config\.demo-users: .*loopback only, and 0\.0\.0\.0:0 is not a loopback address/);
  });
});
