/**
 * The body of `POST /push`, tkbd's input from the login log and the PC scanner, checked and
 * turned into PC updates. A body with any problem is refused whole, with the place of each
 * problem, so a feed never half-applies.
 *
 * Body: `{"datasource": "scan", "data": {"HG137PC01": {"status": "free", "session": "linux"}}}`.
 * `datasource` (optional, default `unknown`) is recorded as the source of every update.
 *
 * Mapping per PC, as tkbd's cnczPush does it:
 * * `event`: `logon` → used, `logoff` → free. An event wins over `status`.
 * * `status`: `offline` → `o`, `free` → free, `used` → used, `unknown` → `x`.
 * * `session`: `windows` → `w…`, `linux` → `l…`. Free and used without a session are Windows
 *   (`wf`, `wu`), as tkbd assumes. `unknown` with a session is "booted, use unknown" (`wx`,
 *   `lx`); without one it stays `x`. An offline PC runs nothing, so `offline` ignores any
 *   session (tkbd would have produced the invalid state `wo`).
 * * An entry needs an `event` or a `status`; other keys are ignored.
 * PC names are lower-cased; names the layout ignores are dropped; names that match no room
 * rule are problems.
 *
 * API: `parsePushBody(body, layout) → PcUpdate[]` (throws `PushBodyError`),
 * `pcStateOf(entry) → PcState` (throws `PushBodyError` with places relative to the entry).
 */
import type { PcState } from './protocol.js';
import { IGNORED, normalizePcName, type RoomLayout } from './rules.js';
import type { PcUpdate } from './state.js';

export interface PushProblem {
  /** Where in the body: `data.hg137pc01.status`, or `data["pc 1"]` for names that need quoting. */
  readonly place: string;
  readonly message: string;
}

/** A refused body. `message` lists the problems as `place: message`, ready for a 400 answer. */
export class PushBodyError extends Error {
  readonly problems: readonly PushProblem[];

  constructor(problems: readonly PushProblem[]) {
    super(describe(problems));
    this.name = 'PushBodyError';
    this.problems = problems;
  }
}

/** So one broken feed does not produce an answer the size of its body. */
const MAX_LISTED_PROBLEMS = 20;

const EVENTS: Readonly<Record<string, 'f' | 'u'>> = { logon: 'u', logoff: 'f' };
const STATUSES: Readonly<Record<string, 'o' | 'f' | 'u' | 'x'>> = { offline: 'o', free: 'f', used: 'u', unknown: 'x' };
const SESSIONS: Readonly<Record<string, 'w' | 'l'>> = { windows: 'w', linux: 'l' };

/** Checks a push body and returns its updates (ignored PCs left out); throws `PushBodyError`. */
export function parsePushBody(body: unknown, layout: RoomLayout): PcUpdate[] {
  const problems: PushProblem[] = [];
  if (!isPlainObject(body)) throw new PushBodyError([{ place: 'body', message: `expected an object, got ${typeName(body)}` }]);
  let source = 'unknown';
  if (body.datasource !== undefined) {
    if (typeof body.datasource === 'string' && body.datasource !== '') source = body.datasource;
    else problems.push({ place: 'datasource', message: `expected a non-empty string, got ${typeName(body.datasource)}` });
  }
  const data = body.data;
  if (!isPlainObject(data)) {
    problems.push({ place: 'data', message: `expected an object of PCs, got ${typeName(data)}` });
    throw new PushBodyError(problems);
  }
  const updates: PcUpdate[] = [];
  const seen = new Map<string, string>();
  for (const [key, entry] of Object.entries(data)) {
    const place = `data${propertyPlace(key)}`;
    const pc = normalizePcName(key);
    if (pc === '') {
      problems.push({ place, message: 'a PC name cannot be empty' });
      continue;
    }
    const earlier = seen.get(pc);
    if (earlier !== undefined) {
      problems.push({ place, message: `same PC as "${earlier}" (PC names are lower-cased)` });
      continue;
    }
    seen.set(pc, key);
    const state = stateAt(entry, place, problems);
    const room = layout.place(pc);
    if (room === undefined) problems.push({ place, message: `no room rule matches PC "${pc}"` });
    if (state === undefined || room === undefined || room === IGNORED) continue;
    updates.push({ pc, state, source });
  }
  if (problems.length > 0) throw new PushBodyError(problems);
  return updates;
}

/** The state of one PC entry (`{event?, status?, session?}`); throws `PushBodyError`. */
export function pcStateOf(entry: unknown): PcState {
  const problems: PushProblem[] = [];
  const state = stateAt(entry, '', problems);
  if (state === undefined) throw new PushBodyError(problems);
  return state;
}

function stateAt(entry: unknown, place: string, problems: PushProblem[]): PcState | undefined {
  const at = (key: string) => (place ? `${place}.${key}` : key);
  if (!isPlainObject(entry)) {
    problems.push({ place: place || 'entry', message: `expected an object with an event or a status, got ${typeName(entry)}` });
    return undefined;
  }
  const before = problems.length;
  const event = lookup(entry, 'event', EVENTS, at('event'), problems);
  const status = lookup(entry, 'status', STATUSES, at('status'), problems);
  const session = lookup(entry, 'session', SESSIONS, at('session'), problems);
  if (problems.length > before) return undefined;
  const use = event ?? status;
  if (use === undefined) {
    problems.push({ place: place || 'entry', message: 'needs an "event" (logon, logoff) or a "status" (offline, free, used, unknown)' });
    return undefined;
  }
  switch (use) {
    case 'o':
      return 'o';
    case 'x':
      return session === undefined ? 'x' : session === 'w' ? 'wx' : 'lx';
    case 'f':
      return session === 'l' ? 'lf' : 'wf';
    case 'u':
      return session === 'l' ? 'lu' : 'wu';
  }
}

function lookup<T>(
  entry: Record<string, unknown>,
  key: string,
  table: Readonly<Record<string, T>>,
  place: string,
  problems: PushProblem[],
): T | undefined {
  const value = entry[key];
  if (value === undefined) return undefined;
  const names = Object.keys(table).join(', ');
  if (typeof value !== 'string') {
    problems.push({ place, message: `expected a string (${names}), got ${typeName(value)}` });
    return undefined;
  }
  if (!Object.hasOwn(table, value)) {
    problems.push({ place, message: `unknown ${key} ${JSON.stringify(value)} (expected ${names})` });
    return undefined;
  }
  return table[value];
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'object') return 'an object';
  return `the ${typeof value} ${String(value)}`;
}

function propertyPlace(key: string): string {
  return /^[A-Za-z_][\w-]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

function describe(problems: readonly PushProblem[]): string {
  const listed = problems.slice(0, MAX_LISTED_PROBLEMS).map((p) => `${p.place}: ${p.message}`);
  if (problems.length > MAX_LISTED_PROBLEMS) listed.push(`… and ${problems.length - MAX_LISTED_PROBLEMS} more`);
  return listed.join('; ');
}
