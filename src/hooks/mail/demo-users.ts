/**
 * The mail hook's `demo-users`: mail users whose passwords are written in the config, added at
 * start when missing, so that a demo works from a fresh checkout with one command (`npm start`).
 * Unsafe anywhere else, since the passwords stand in the config in clear: the key is refused
 * unless every SMTP and POP3 listener of the hook is on a loopback address.
 */
import { z } from 'zod';
import type { Logger } from '../../core/log.js';
import { isUserName, MAX_PASSWORD_LENGTH, type MailUsers } from '../../mail/auth/index.js';
import { type BoundListener, isLoopbackHost, parseListenAddress } from '../../mail/smtp-in/index.js';

export const demoUsersSchema = z.record(
  z.string().refine(isUserName, 'not a valid mail user name'),
  z
    .string()
    .min(1, 'the password must not be empty')
    .max(MAX_PASSWORD_LENGTH)
    .regex(/^[^\0\r\n]*$/, 'the password must not contain NUL, CR or LF'),
);

export type DemoUsers = z.output<typeof demoUsersSchema>;

interface DemoUsersConfig {
  readonly 'demo-users'?: DemoUsers | undefined;
  readonly roles: readonly string[];
  readonly smtp?: { readonly listeners: readonly { readonly address: string }[] } | undefined;
  readonly pop3: readonly { readonly address: string }[];
}

/** The config checks of `demo-users`: only with the auth role, only on loopback listeners. */
export function checkDemoUsers(cfg: DemoUsersConfig, ctx: z.RefinementCtx): void {
  if (cfg['demo-users'] === undefined) return;
  const path = ['demo-users'];
  if (!cfg.roles.includes('auth')) ctx.addIssue({ code: 'custom', path, message: 'demo-users needs the auth role' });
  const addresses = [...(cfg.smtp?.listeners ?? []), ...cfg.pop3].map((l) => l.address);
  for (const address of addresses) {
    let host: string;
    try {
      host = parseListenAddress(address).host;
    } catch {
      continue; // the listener's own schema reports it
    }
    if (!isLoopbackHost(host)) {
      ctx.addIssue({
        code: 'custom',
        path,
        message: `passwords written in the config are for demos on loopback only, and ${address} is not a loopback address`,
      });
    }
  }
}

/** Adds each demo user that does not exist yet; one that exists keeps its password. */
export async function addDemoUsers(users: MailUsers, demo: DemoUsers, log: Logger): Promise<void> {
  for (const [name, password] of Object.entries(demo)) {
    if (await users.verify(name)) continue;
    await users.add(name, password);
    log.debug({ user: name }, 'a demo user, with the password written in the config');
  }
}

/** Start lines that show how to try the demo: who can log in, how to send a mail and read it. */
export function demoUserLines(
  demo: DemoUsers,
  smtp: readonly BoundListener[],
  pop3: readonly { readonly host: string; readonly port: number }[],
  hostPort: (host: string, port: number) => string,
): string[] {
  const users = Object.entries(demo);
  if (users.length === 0) return [];
  const lines = [
    `mail demo users (passwords from the config, for demos only): ${users.map(([u, p]) => `${u} (password ${p})`).join(', ')}`,
  ];
  const [to, toPassword] = users[0]!;
  const from = users[1]?.[0] ?? to;
  const inbound = smtp.find((l) => l.mode === 'smtp');
  if (inbound) lines.push(`mail try: swaks --server ${hostPort(inbound.host, inbound.port)} --from ${from} --to ${to}`);
  const submission = smtp.find((l) => l.mode === 'submission');
  if (submission && !submission.starttls) {
    lines.push(
      `mail try: swaks --server ${hostPort(submission.host, submission.port)} --auth-user ${to} --auth-password ${toPassword} --from ${to} --to someone@example.net`,
    );
  }
  if (pop3[0]) lines.push(`mail try: curl -u ${to}:${toPassword} pop3://${hostPort(pop3[0].host, pop3[0].port)}/1`);
  return lines;
}
