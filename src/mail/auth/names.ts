// Mail user names: one spelling for the user table, mailbox folders, IPC and POP3 logins.

/**
 * A dot-atom of RFC 5322 narrowed to letters, digits and `_ + -` between single dots, so that a
 * name is also a safe folder name (no `/`, no `..`, no leading dot) on every file system.
 */
const LOCAL_PART = /^[a-z0-9_+-]+(\.[a-z0-9_+-]+)*$/;
/** A domain of LDH labels (RFC 1035), at least one dot, no trailing dot. */
const DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/;
const MAX_LOCAL = 64;

export class UserNameError extends Error {}

/**
 * The canonical form of a user name, or a `UserNameError` that says what is wrong. A name is a
 * local part (`alice`) or a full address (`alice@example.org`); both are lower-cased, since
 * mail systems treat local parts case-insensitively in practice and a mailbox must not split by
 * case.
 */
export function normaliseUserName(input: string): string {
  const name = input.trim().toLowerCase();
  if (name === '') throw new UserNameError('a user name must not be empty');
  const at = name.lastIndexOf('@');
  const local = at < 0 ? name : name.slice(0, at);
  const domain = at < 0 ? undefined : name.slice(at + 1);
  if (local.length === 0 || local.length > MAX_LOCAL || !LOCAL_PART.test(local)) {
    throw new UserNameError(
      `"${printable(input)}" is not a valid user name: use letters, digits, "_", "+", "-" and single dots inside, at most ${MAX_LOCAL} characters, optionally followed by @domain`,
    );
  }
  if (domain !== undefined && !DOMAIN.test(domain)) {
    throw new UserNameError(`"${printable(input)}" is not a valid user name: "${printable(domain)}" is not a domain name`);
  }
  return name;
}

/** Whether `input` is a valid user name (in any case). */
export function isUserName(input: string): boolean {
  try {
    normaliseUserName(input);
    return true;
  } catch {
    return false;
  }
}

/** Control characters shown escaped, so an error message cannot break a log or protocol line. */
export function printable(text: string, max = 80): string {
  const shown = text.length > max ? `${text.slice(0, max)}…` : text;
  return JSON.stringify(shown).slice(1, -1);
}
