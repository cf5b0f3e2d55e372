// `porter calendar handle --dry-run` as a user runs it: the built binary as a child process, the
// example config, an invitation on stdin; stdout holds only the mail that would be sent.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { porter } from '../../helpers/cli.js';
import { monday, unique } from './mail-host.js';

const EXAMPLE = fileURLToPath(new URL('../../../examples/calendar.yaml', import.meta.url));

/** Runs the binary with `input` on stdin until it exits. */
async function dryRun(args: readonly string[], input: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const run = porter(['calendar', 'handle', '--dry-run', '--config', EXAMPLE, ...args], { input });
  const code = await run.exited;
  return { code, stdout: run.stdout, stderr: run.stderr };
}

/** An invitation as a calendar client mails it: multipart/alternative with a text/calendar REQUEST part. */
function invitation(o: { uid: string; to: string; summary: string; day: string; hour: number }): string {
  const day = o.day.replaceAll('-', '');
  const hh = String(o.hour).padStart(2, '0');
  const calendar = [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//porter test//EN',
    'METHOD:REQUEST',
    'BEGIN:VEVENT',
    `UID:${o.uid}`,
    'DTSTAMP:20260101T000000Z',
    `DTSTART;TZID=Europe/Amsterdam:${day}T${hh}0000`,
    `DTEND;TZID=Europe/Amsterdam:${day}T${hh}3000`,
    `SUMMARY:${o.summary}`,
    'ORGANIZER;CN=Org:mailto:org@example.org',
    `ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;CUTYPE=ROOM:mailto:${o.to}`,
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n');
  return [
    'From: Org <org@example.org>',
    `To: ${o.to}`,
    `Subject: ${o.summary}`,
    `Message-ID: <${o.uid}>`,
    'MIME-Version: 1.0',
    'Content-Type: multipart/alternative; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'You are invited.',
    '--b1',
    'Content-Type: text/calendar; method=REQUEST; charset=utf-8',
    '',
    calendar,
    '--b1--',
    '',
  ].join('\r\n');
}

describe('porter calendar handle --dry-run (the binary)', () => {
  // A Tuesday some weeks ahead, at an hour nobody books in a fresh example store.
  const day = new Date(Date.parse(`${monday(6)}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
  const store = fileURLToPath(new URL('../../../data/calendar.db', import.meta.url));

  it('prints the reply the agent named by --agent would send, on stdout only, and creates no store', async () => {
    const storeBefore = existsSync(store);
    const uid = unique('cli-blue');
    const { code, stdout, stderr } = await dryRun(
      ['--agent', 'blue'],
      invitation({ uid, to: 'blue@example.org', summary: 'Dry run', day, hour: 7 }),
    );
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(
      /^From: Blue room <blue@example\.org>\nTo: org@example\.org\nSubject: Accepted: Dry run\nContent-Type: text\/calendar; method=REPLY; charset=utf-8\n\n/,
    );
    expect(stdout).toContain('METHOD:REPLY');
    expect(stdout).toContain(`UID:${uid}`);
    expect(stdout).toMatch(/ATTENDEE;[^\n]*PARTSTAT=ACCEPTED[^\n]*(\n [^\n]*)*blue@example\.org/);
    expect(stdout).not.toMatch(/"level"|INFO/);
    expect(existsSync(store)).toBe(storeBefore);
  }, 60_000);

  it('finds the agent from To:, and prints its German answer with the free/busy it bundles', async () => {
    const uid = unique('cli-hall');
    const { code, stdout, stderr } = await dryRun([], invitation({ uid, to: 'hall@example.org', summary: 'Versammlung', day, hour: 7 }));
    expect(code, stderr).toBe(0);
    expect(stdout).toContain('Subject: Angenommen: Versammlung');
    expect(stdout.replace(/\n /g, '')).toContain('COMMENT:Main hall ist gebucht.');
    expect(stdout).toMatch(
      /--- attached freebusy\.ifb \(text\/calendar; method=PUBLISH; charset=utf-8\)\nBEGIN:VCALENDAR[\s\S]*METHOD:PUBLISH[\s\S]*BEGIN:VFREEBUSY/,
    );
  }, 60_000);

  it('says what is wrong with an unknown agent, and exits 2', async () => {
    const { code, stdout, stderr } = await dryRun(
      ['--agent', 'attic'],
      invitation({ uid: unique('cli-x'), to: 'blue@example.org', summary: 'x', day, hour: 7 }),
    );
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/no agent "attic" \(agents: carol, dave, blue, green, hall, van1, van2, vans\)/);
  }, 60_000);
});
