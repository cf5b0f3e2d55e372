/** The IPC wire format: the seed's notation (`name: p1 ; p2`, `ok: …`, `error: …`) as lines, with raw bytes of announced length. */

/*
 * API
 *
 *   encodeParam(s) / decodeParam(s)      the escaping of one parameter (%25 %3B %0D %0A, %20 %09 at the ends)
 *   encodeField(s) / decodeField(s)      the same for a reply's value or error message, where `;` stays as is
 *   formatLine(name, params) → string    `name: p1 ; p2` (no LF); for `list`'s `mailinfo` lines too
 *   parseLine(text) → { name, params }   throws IpcProtocolError on a malformed line
 *   encodeRequest(request) → Buffer[]    a request's line, and its raw body (`store`)
 *   encodeReply(reply, shape) → Buffer[] a reply in the shape its request calls for
 *   new RequestParser(limits?, shapes?)  server side: bytes in → requests (and errors) out, in order
 *   new ReplyParser(limits?)             client side: bytes in → replies out, given the shape of each
 *
 * Which messages carry raw bytes is not in the line itself, so both sides share SHAPES: `store`'s
 * third parameter announces a body; `retr` is answered `ok: SIZE` and SIZE bytes; `list` is
 * answered `ok: N`, N lines and a closing `ok`. docs/mail-ipc.md is the manual of the format.
 */
import type { IpcReply, IpcRequest } from '../protocol.js';

/** How a message departs from one line out and one line back. */
export interface MessageShape {
  /** The index of the parameter that announces the length of a raw body following the request line. */
  readonly body?: number;
  /** `raw`: answered `ok: SIZE` then SIZE bytes. `lines`: answered `ok: N`, N lines, then `ok`. */
  readonly reply?: 'raw' | 'lines';
}

export type ReplyShape = 'plain' | 'raw' | 'lines';

/** The seed's raw operations. Servers that add one declare it here, so clients and servers frame it alike. */
export const SHAPES: Readonly<Record<string, MessageShape>> = {
  store: { body: 2 },
  retr: { reply: 'raw' },
  list: { reply: 'lines' },
};

export interface IpcLimits {
  /** The longest line in bytes, without its LF. Longer lines are refused, and the connection goes on. */
  readonly maxLineBytes: number;
  /** The largest raw body, either way. A larger `store` is refused after its bytes are skipped. */
  readonly maxRawBytes: number;
  /** The most lines in a `list`-shaped reply. */
  readonly maxReplyLines: number;
}

export const DEFAULT_LIMITS: IpcLimits = {
  // Parameters are names, paths and passwords: 64 KiB is far beyond any of them, and bounds what a peer can make us buffer.
  maxLineBytes: 64 * 1024,
  // Above any SIZE a mail server would announce (Postfix's default is 10 MB, Gmail's 25 MB).
  maxRawBytes: 100 * 1024 * 1024,
  maxReplyLines: 10_000_000,
};

/** The peer broke the format. Fatal ones leave the byte stream out of step, and the connection must end. */
export class IpcProtocolError extends Error {
  readonly fatal: boolean;
  constructor(message: string, fatal = false) {
    super(message);
    this.name = 'IpcProtocolError';
    this.fatal = fatal;
  }
}

const NAME = /^[A-Za-z][A-Za-z0-9_.-]*$/;
const DECIMAL = /^[0-9]{1,15}$/;
const LF = 0x0a;
const CR = 0x0d;
const EDGE_BLANKS = /^[ \t]+|[ \t]+$/g;

const ESCAPES: Record<string, string> = { '%': '%25', ';': '%3B', '\r': '%0D', '\n': '%0A', ' ': '%20', '\t': '%09' };

function escapeEdges(escaped: string): string {
  // Blanks around a parameter are layout (`a ; b`), so those that belong to the value are escaped.
  return escaped
    .replace(/^[ \t]+/, (m) => [...m].map((c) => ESCAPES[c]).join(''))
    .replace(/[ \t]+$/, (m) => [...m].map((c) => ESCAPES[c]).join(''));
}

/** One parameter as written on a line: `%`, `;`, CR and LF percent-encoded, and blanks at either end. */
export function encodeParam(value: string): string {
  return escapeEdges(value.replace(/[%;\r\n]/g, (c) => ESCAPES[c] ?? c));
}

/** A reply's value or error message: the rest of its line, so `;` needs no escape. */
export function encodeField(value: string): string {
  return escapeEdges(value.replace(/[%\r\n]/g, (c) => ESCAPES[c] ?? c));
}

const isHex = (b: number | undefined): boolean =>
  b !== undefined && ((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66));

/** Undoes any `%XX` (so `%41` is `A`); a `%` not followed by two hex digits stands for itself, which keeps typed lines forgiving. */
export function decodeParam(text: string): string {
  if (!text.includes('%')) return text;
  const bytes = Buffer.from(text, 'utf8');
  const out = Buffer.allocUnsafe(bytes.length);
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number;
    if (b === 0x25 && isHex(bytes[i + 1]) && isHex(bytes[i + 2])) {
      out[n++] = Number.parseInt(String.fromCharCode(bytes[i + 1] as number, bytes[i + 2] as number), 16);
      i += 2;
    } else {
      out[n++] = b;
    }
  }
  return out.subarray(0, n).toString('utf8');
}

export const decodeField = decodeParam;

/** `name: p1 ; p2`, or `name` alone. No LF: the caller frames it. */
export function formatLine(name: string, params: readonly string[] = []): string {
  if (!NAME.test(name)) throw new TypeError(`invalid message name "${name}"`);
  return params.length === 0 ? name : `${name}: ${params.map(encodeParam).join(' ; ')}`;
}

/** Quotes a bad line in an error message, cut short so that a hostile one is not echoed whole. */
export function quote(text: string, max = 60): string {
  const shown = text.length > max ? `${text.slice(0, max)}…` : text;
  return JSON.stringify(shown);
}

/** Splits one line (without its line end). Blanks around the name and each parameter are dropped; `name:` has no parameters. */
export function parseLine(text: string): { name: string; params: string[] } {
  const colon = text.indexOf(':');
  const name = (colon < 0 ? text : text.slice(0, colon)).replace(EDGE_BLANKS, '');
  if (!NAME.test(name)) throw new IpcProtocolError(`malformed line ${quote(text)}: expected "name: param ; param"`);
  const rest = colon < 0 ? '' : text.slice(colon + 1);
  if (rest.replace(EDGE_BLANKS, '') === '') return { name: name.toLowerCase(), params: [] };
  return { name: name.toLowerCase(), params: rest.split(';').map((p) => decodeParam(p.replace(EDGE_BLANKS, ''))) };
}

/** A request's line, and its raw body when it has one. The caller checks that the body's length is the announced one. */
export function encodeRequest(request: IpcRequest): Buffer[] {
  const line = Buffer.from(`${formatLine(request.name, request.params)}\n`, 'utf8');
  return request.body ? [line, request.body] : [line];
}

function replyLine(head: 'ok' | 'error', value: string | undefined): Buffer {
  return Buffer.from(value === undefined || value === '' ? `${head}\n` : `${head}: ${encodeField(value)}\n`, 'utf8');
}

/**
 * A reply, framed as its request's shape calls for: a `raw` reply always carries `ok: SIZE` and
 * SIZE bytes (none when the handler gave no body), a `lines` reply `ok: N`, the lines and `ok`;
 * SIZE and N are counted here, and the handler's value is not used for them.
 * Lines and bodies given for a plain request are not sent: the client would not know to read them.
 */
export function encodeReply(reply: IpcReply, shape: ReplyShape = 'plain'): Buffer[] {
  if (!reply.ok) return [replyLine('error', reply.error)];
  if (shape === 'raw') {
    const body = reply.body ?? Buffer.alloc(0);
    return [replyLine('ok', String(body.length)), body];
  }
  if (shape === 'lines') {
    const lines = reply.lines ?? [];
    // A line is the handler's own `formatLine`; a stray CR or LF in it must not break the framing.
    const text = lines.map((l) => `${l.replace(/[\r\n]/g, (c) => ESCAPES[c] ?? c)}\n`).join('');
    // The count is what the client reads by, so it is always the number of lines sent, whatever the handler's value.
    return [replyLine('ok', String(lines.length)), Buffer.from(`${text}ok\n`, 'utf8')];
  }
  return [replyLine('ok', reply.value)];
}

export function replyShapeOf(name: string, shapes: Readonly<Record<string, MessageShape>> = SHAPES): ReplyShape {
  return shapes[name]?.reply ?? 'plain';
}

/** What the request parser yields, in the order of the bytes. */
export type ParsedRequest =
  | { readonly kind: 'request'; readonly request: IpcRequest }
  | { readonly kind: 'error'; readonly error: IpcProtocolError };

type RequestState =
  | { readonly mode: 'line' }
  | { readonly mode: 'discard-line' }
  | { readonly mode: 'body'; readonly name: string; readonly params: string[]; remaining: number; readonly parts: Buffer[] }
  | { readonly mode: 'skip'; remaining: number }
  | { readonly mode: 'dead' };

/** Collects the bytes of a line across chunks. */
class LineBuffer {
  #parts: Buffer[] = [];
  #length = 0;

  get length(): number {
    return this.#length;
  }

  add(part: Buffer): void {
    if (part.length === 0) return;
    this.#parts.push(part);
    this.#length += part.length;
  }

  /** The whole line with `last` appended, without its CR; empties the buffer. */
  take(last: Buffer): Buffer {
    this.add(last);
    let line = this.#parts.length === 1 ? (this.#parts[0] as Buffer) : Buffer.concat(this.#parts, this.#length);
    this.clear();
    if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
    return line;
  }

  clear(): void {
    this.#parts = [];
    this.#length = 0;
  }
}

/**
 * The server's side: requests out of a byte stream, however it is cut. Errors come out in place,
 * between the requests around them, so that replies stay in order; after a fatal one (a body
 * whose length cannot be read) the parser yields nothing more.
 */
export class RequestParser {
  readonly #limits: IpcLimits;
  readonly #shapes: Readonly<Record<string, MessageShape>>;
  readonly #line = new LineBuffer();
  #state: RequestState = { mode: 'line' };

  constructor(limits: Partial<IpcLimits> = {}, shapes: Readonly<Record<string, MessageShape>> = SHAPES) {
    this.#limits = { ...DEFAULT_LIMITS, ...limits };
    this.#shapes = shapes;
  }

  get dead(): boolean {
    return this.#state.mode === 'dead';
  }

  push(chunk: Buffer): ParsedRequest[] {
    const out: ParsedRequest[] = [];
    let offset = 0;
    while (offset < chunk.length) {
      const state = this.#state;
      if (state.mode === 'dead') break;
      if (state.mode === 'body' || state.mode === 'skip') {
        const take = Math.min(state.remaining, chunk.length - offset);
        if (state.mode === 'body') state.parts.push(chunk.subarray(offset, offset + take));
        state.remaining -= take;
        offset += take;
        if (state.remaining === 0) {
          if (state.mode === 'body') {
            out.push({ kind: 'request', request: { name: state.name, params: state.params, body: Buffer.concat(state.parts) } });
          }
          this.#state = { mode: 'line' };
        }
        continue;
      }
      const lf = chunk.indexOf(LF, offset);
      const end = lf < 0 ? chunk.length : lf;
      if (state.mode === 'discard-line') {
        if (lf >= 0) this.#state = { mode: 'line' };
        offset = end + 1;
        continue;
      }
      // One byte over the limit is allowed until the LF is seen: it may be the CR of a CRLF.
      if (this.#line.length + (end - offset) > this.#limits.maxLineBytes + 1) {
        this.#line.clear();
        this.#state = lf < 0 ? { mode: 'discard-line' } : { mode: 'line' };
        out.push({ kind: 'error', error: this.#tooLong() });
        offset = end + 1;
        continue;
      }
      if (lf < 0) {
        this.#line.add(chunk.subarray(offset));
        break;
      }
      const line = this.#line.take(chunk.subarray(offset, lf));
      offset = lf + 1;
      if (line.length > this.#limits.maxLineBytes) {
        out.push({ kind: 'error', error: this.#tooLong() });
        continue;
      }
      const text = line.toString('utf8');
      const item = this.#parse(text);
      if (item) out.push(item);
    }
    return out;
  }

  #tooLong(): IpcProtocolError {
    return new IpcProtocolError(`line longer than ${this.#limits.maxLineBytes} bytes`);
  }

  #parse(text: string): ParsedRequest | undefined {
    if (text.replace(EDGE_BLANKS, '') === '') return undefined;
    let parsed: { name: string; params: string[] };
    try {
      parsed = parseLine(text);
    } catch (error) {
      return { kind: 'error', error: error as IpcProtocolError };
    }
    const index = this.#shapes[parsed.name]?.body;
    const announced = index === undefined ? undefined : parsed.params[index];
    // Without its length parameter the request has no body; the handler refuses the missing parameter.
    if (announced === undefined) return { kind: 'request', request: parsed };
    if (!DECIMAL.test(announced)) {
      this.#state = { mode: 'dead' };
      return {
        kind: 'error',
        error: new IpcProtocolError(`"${parsed.name}": length ${quote(announced)} is not a number of bytes; closing`, true),
      };
    }
    const length = Number(announced);
    if (length > this.#limits.maxRawBytes) {
      // The peer sends the bytes anyway: skip them, so that the next request is read in step.
      if (length > 0) this.#state = { mode: 'skip', remaining: length };
      return {
        kind: 'error',
        error: new IpcProtocolError(`"${parsed.name}": ${length} bytes exceed the limit of ${this.#limits.maxRawBytes}`),
      };
    }
    if (length === 0) return { kind: 'request', request: { ...parsed, body: Buffer.alloc(0) } };
    this.#state = { mode: 'body', name: parsed.name, params: parsed.params, remaining: length, parts: [] };
    return undefined;
  }
}

type ReplyState =
  | { readonly mode: 'head' }
  | { readonly mode: 'lines'; readonly value: string; remaining: number; readonly lines: string[] }
  | { readonly mode: 'close'; readonly value: string; readonly lines: string[] }
  | { readonly mode: 'body'; readonly value: string; remaining: number; readonly parts: Buffer[] };

/**
 * The client's side: replies out of a byte stream, each read in the shape its request calls for
 * (`expect`, once per request sent, in order). Any departure from the format throws a fatal
 * IpcProtocolError: the replies that follow could not be matched to their requests.
 */
export class ReplyParser {
  readonly #limits: IpcLimits;
  readonly #line = new LineBuffer();
  readonly #expected: ReplyShape[] = [];
  #state: ReplyState = { mode: 'head' };

  constructor(limits: Partial<IpcLimits> = {}) {
    this.#limits = { ...DEFAULT_LIMITS, ...limits };
  }

  expect(shape: ReplyShape): void {
    this.#expected.push(shape);
  }

  push(chunk: Buffer): IpcReply[] {
    const out: IpcReply[] = [];
    let offset = 0;
    while (offset < chunk.length) {
      const state = this.#state;
      if (state.mode === 'body') {
        const take = Math.min(state.remaining, chunk.length - offset);
        state.parts.push(chunk.subarray(offset, offset + take));
        state.remaining -= take;
        offset += take;
        if (state.remaining === 0) this.#finish(out, { ok: true, value: state.value, body: Buffer.concat(state.parts) });
        continue;
      }
      const lf = chunk.indexOf(LF, offset);
      const end = lf < 0 ? chunk.length : lf;
      if (this.#line.length + (end - offset) > this.#limits.maxLineBytes + 1) {
        throw new IpcProtocolError(`reply line longer than ${this.#limits.maxLineBytes} bytes`, true);
      }
      if (lf < 0) {
        this.#line.add(chunk.subarray(offset));
        break;
      }
      const text = this.#line.take(chunk.subarray(offset, lf)).toString('utf8');
      offset = lf + 1;
      this.#onLine(text, out);
    }
    return out;
  }

  #finish(out: IpcReply[], reply: IpcReply): void {
    this.#expected.shift();
    this.#state = { mode: 'head' };
    out.push(reply);
  }

  #onLine(text: string, out: IpcReply[]): void {
    const state = this.#state;
    if (state.mode === 'lines') {
      state.lines.push(text);
      if (--state.remaining === 0) this.#state = { mode: 'close', value: state.value, lines: state.lines };
      return;
    }
    if (state.mode === 'close') {
      if (text.trim().toLowerCase().replace(/:$/, '') !== 'ok')
        throw new IpcProtocolError(`expected "ok" after the lines, got ${quote(text)}`, true);
      this.#finish(out, { ok: true, value: state.value, lines: state.lines });
      return;
    }
    if (text.trim() === '') return;
    const shape = this.#expected[0];
    if (shape === undefined) throw new IpcProtocolError(`unexpected ${quote(text)}: no request is waiting for a reply`, true);
    const colon = text.indexOf(':');
    const head = (colon < 0 ? text : text.slice(0, colon)).trim().toLowerCase();
    const raw = colon < 0 ? '' : text.slice(colon + 1).replace(EDGE_BLANKS, '');
    const value = raw === '' ? undefined : decodeField(raw);
    if (head === 'error') {
      this.#finish(out, { ok: false, error: value ?? '' });
      return;
    }
    if (head !== 'ok') throw new IpcProtocolError(`expected "ok" or "error", got ${quote(text)}`, true);
    if (shape === 'plain') {
      this.#finish(out, value === undefined ? { ok: true } : { ok: true, value });
      return;
    }
    if (value === undefined || !DECIMAL.test(value)) throw new IpcProtocolError(`expected "ok: NUMBER", got ${quote(text)}`, true);
    const count = Number(value);
    if (shape === 'raw') {
      if (count > this.#limits.maxRawBytes)
        throw new IpcProtocolError(`reply of ${count} bytes exceeds the limit of ${this.#limits.maxRawBytes}`, true);
      if (count === 0) {
        this.#finish(out, { ok: true, value, body: Buffer.alloc(0) });
        return;
      }
      this.#state = { mode: 'body', value, remaining: count, parts: [] };
      return;
    }
    if (count > this.#limits.maxReplyLines)
      throw new IpcProtocolError(`reply of ${count} lines exceeds the limit of ${this.#limits.maxReplyLines}`, true);
    this.#state = count === 0 ? { mode: 'close', value, lines: [] } : { mode: 'lines', value, remaining: count, lines: [] };
  }
}
