/**
 * The text/calendar parts of an iMIP mail (RFC 6047): the body itself, a part or an attachment,
 * inside multipart/alternative, multipart/mixed or a forwarded message, in any transfer encoding
 * and charset. Size, nesting depth and part count are bounded; beyond them the mail is refused.
 */
import { CalendarError, STATUS } from './errors.js';

export interface MimeLimits {
  readonly maxBytes?: number;
  readonly maxDepth?: number;
  readonly maxParts?: number;
}

export interface CalendarPart {
  method?: string;
  text: string;
}

interface ContentType {
  readonly type: string;
  readonly params: ReadonlyMap<string, string>;
}

const DEFAULTS = { maxBytes: 10 * 1024 * 1024, maxDepth: 8, maxParts: 100 };

/** The calendar parts of `raw`, in the order they appear; throws CalendarError (3.10) past the limits. */
export async function calendarParts(raw: Buffer | string, limits: MimeLimits = {}): Promise<CalendarPart[]> {
  const bounds = { ...DEFAULTS, ...limits };
  const buffer = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
  if (buffer.length > bounds.maxBytes) throw new CalendarError(STATUS.tooLarge, `mail of ${buffer.length} bytes, over ${bounds.maxBytes}`);
  const found: CalendarPart[] = [];
  const state = { parts: 0 };
  walk(buffer, 0, bounds, state, found);
  return found;
}

function walk(entity: Buffer, depth: number, bounds: typeof DEFAULTS, state: { parts: number }, found: CalendarPart[]): void {
  if (depth > bounds.maxDepth) throw new CalendarError(STATUS.tooLarge, `MIME nested deeper than ${bounds.maxDepth}`);
  state.parts += 1;
  if (state.parts > bounds.maxParts) throw new CalendarError(STATUS.tooLarge, `more than ${bounds.maxParts} MIME parts`);
  const { headers, body } = split(entity);
  const contentType = parseContentType(headers.get('content-type') ?? 'text/plain');
  const encoding = (headers.get('content-transfer-encoding') ?? '').trim().toLowerCase();
  if (contentType.type.startsWith('multipart/')) {
    const boundary = contentType.params.get('boundary');
    if (!boundary) return;
    for (const part of parts(body, boundary)) walk(part, depth + 1, bounds, state, found);
    return;
  }
  if (contentType.type === 'message/rfc822') {
    walk(decode(body, encoding), depth + 1, bounds, state, found);
    return;
  }
  const filename = parseDisposition(headers.get('content-disposition')) ?? contentType.params.get('name') ?? '';
  const calendar =
    contentType.type === 'text/calendar' ||
    contentType.type === 'application/ics' ||
    (contentType.type === 'application/octet-stream' && /\.ics$/i.test(filename));
  if (!calendar) return;
  const text = decodeText(decode(body, encoding), contentType.params.get('charset'));
  const method = contentType.params.get('method')?.toUpperCase();
  found.push(method ? { method, text } : { text });
}

function split(entity: Buffer): { headers: Map<string, string>; body: Buffer } {
  let end = entity.indexOf('\r\n\r\n');
  let skip = 4;
  const lf = entity.indexOf('\n\n');
  if (end < 0 || (lf >= 0 && lf < end)) {
    end = lf;
    skip = 2;
  }
  const head = end < 0 ? entity.toString('latin1') : entity.subarray(0, end).toString('latin1');
  const body = end < 0 ? Buffer.alloc(0) : entity.subarray(end + skip);
  const headers = new Map<string, string>();
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!headers.has(name)) headers.set(name, line.slice(colon + 1).trim());
  }
  return { headers, body };
}

/** `type/subtype; a=b; c="d"` with RFC 2231 continuations folded back together. */
function parseContentType(value: string): ContentType {
  const [type = '', ...rest] = splitParams(value);
  return { type: type.trim().toLowerCase(), params: params(rest) };
}

function parseDisposition(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const [, ...rest] = splitParams(value);
  return params(rest).get('filename');
}

function splitParams(value: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  for (const char of value) {
    if (char === '"') quoted = !quoted;
    if (char === ';' && !quoted) {
      out.push(current);
      current = '';
    } else current += char;
  }
  out.push(current);
  return out;
}

function params(list: readonly string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const item of list) {
    const eq = item.indexOf('=');
    if (eq <= 0) continue;
    let name = item.slice(0, eq).trim().toLowerCase();
    let value = item.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1).replace(/\\(.)/g, '$1');
    const continued = /^(.*)\*\d+\*?$/.exec(name);
    if (continued?.[1]) {
      name = continued[1];
      map.set(name, (map.get(name) ?? '') + value);
      continue;
    }
    if (name.endsWith('*')) {
      name = name.slice(0, -1);
      value = decodeURIComponent(value.replace(/^[^']*'[^']*'/, ''));
    }
    map.set(name, value);
  }
  return map;
}

function parts(body: Buffer, boundary: string): Buffer[] {
  const text = body.toString('latin1');
  const delimiter = `--${boundary}`;
  const out: Buffer[] = [];
  let index = text.startsWith(delimiter) ? 0 : text.indexOf(`\n${delimiter}`);
  while (index >= 0) {
    const lineStart = text[index] === '\n' ? index + 1 : index;
    const after = lineStart + delimiter.length;
    if (text.startsWith('--', after)) break;
    const contentStart = text.indexOf('\n', after);
    if (contentStart < 0) break;
    const next = text.indexOf(`\n${delimiter}`, contentStart);
    const contentEnd = next < 0 ? text.length : text[next - 1] === '\r' ? next - 1 : next;
    out.push(body.subarray(contentStart + 1, Math.max(contentStart + 1, contentEnd)));
    index = next;
  }
  return out;
}

function decode(body: Buffer, encoding: string): Buffer {
  if (encoding === 'base64') return Buffer.from(body.toString('latin1').replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
  if (encoding === 'quoted-printable') {
    const text = body.toString('latin1').replace(/=\r?\n/g, '');
    const bytes: number[] = [];
    for (let i = 0; i < text.length; i++) {
      const hex = text.slice(i + 1, i + 3);
      if (text[i] === '=' && /^[0-9A-Fa-f]{2}$/.test(hex)) {
        bytes.push(Number.parseInt(hex, 16));
        i += 2;
      } else bytes.push(text.charCodeAt(i) & 0xff);
    }
    return Buffer.from(bytes);
  }
  return body;
}

function decodeText(bytes: Buffer, charset: string | undefined): string {
  const label = (charset ?? 'utf-8').trim().toLowerCase();
  try {
    return new TextDecoder(label).decode(bytes);
  } catch {
    return new TextDecoder('utf-8').decode(bytes);
  }
}
