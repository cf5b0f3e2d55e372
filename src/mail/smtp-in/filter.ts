// The message bytes on their way to the spool: line ends made CRLF, NUL bytes, long lines and size checked as they stream.
import { Transform, type TransformCallback } from 'node:stream';

const CR = 0x0d;
const LF = 0x0a;
const CRLF = Buffer.from('\r\n');

/** Why a message is refused; once one is found nothing more is passed on, but the input is still read to its end. */
export type MessageProblem =
  | { readonly kind: 'nul' }
  | { readonly kind: 'line'; readonly limit: number }
  | { readonly kind: 'size'; readonly limit: number };

export interface MessageFilterOptions {
  readonly maxBytes: number;
  readonly maxLineLength: number;
}

/**
 * Takes the DATA stream (dot-unstuffed by the SMTP parser) and passes on the message with every
 * line ending in CRLF: a bare LF and a lone CR each become CRLF, so that every later reader (the
 * mailbox, POP3, an SMTP relay) sees the same lines (the ambiguity that SMTP smuggling uses).
 * A NUL byte, a line over the limit or a message over the size (counted after normalising)
 * stops the output and is reported in `problem`; the caller refuses the message then.
 */
export class MessageFilter extends Transform {
  problem: MessageProblem | undefined;
  /** Octets passed on so far. */
  bytes = 0;
  readonly #maxBytes: number;
  readonly #maxLine: number;
  #line = 0;
  /** The last chunk ended in CR, already passed on as CRLF: an LF opening the next chunk belongs to it. */
  #skipLf = false;

  constructor(options: MessageFilterOptions) {
    super();
    this.#maxBytes = options.maxBytes;
    this.#maxLine = options.maxLineLength;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    const out = this.problem || chunk.length === 0 ? undefined : this.#normalise(chunk);
    if (out === undefined) {
      done();
      return;
    }
    this.bytes += out.length;
    if (this.bytes > this.#maxBytes) this.problem = { kind: 'size', limit: this.#maxBytes };
    if (this.problem) done();
    else done(null, out);
  }

  /** The chunk with CRLF line ends; undefined (and `problem` set) when it is refused. */
  #normalise(chunk: Buffer): Buffer | undefined {
    if (chunk.indexOf(0) >= 0) {
      this.problem = { kind: 'nul' };
      return undefined;
    }
    const parts: Buffer[] = [];
    const n = chunk.length;
    let i = 0;
    if (this.#skipLf && chunk[0] === LF) i = 1;
    this.#skipLf = false;
    let nextCr = chunk.indexOf(CR, i);
    let nextLf = chunk.indexOf(LF, i);
    while (i < n) {
      if (nextCr >= 0 && nextCr < i) nextCr = chunk.indexOf(CR, i);
      if (nextLf >= 0 && nextLf < i) nextLf = chunk.indexOf(LF, i);
      const end = nextCr < 0 ? nextLf : nextLf < 0 ? nextCr : Math.min(nextCr, nextLf);
      if (end < 0) {
        this.#line += n - i;
        parts.push(chunk.subarray(i));
        break;
      }
      this.#line += end - i;
      if (this.#line > this.#maxLine) break;
      parts.push(chunk.subarray(i, end), CRLF);
      this.#line = 0;
      if (chunk[end] === LF) i = end + 1;
      else if (end + 1 < n) i = chunk[end + 1] === LF ? end + 2 : end + 1;
      else {
        this.#skipLf = true;
        i = n;
      }
    }
    if (this.#line > this.#maxLine) {
      this.problem = { kind: 'line', limit: this.#maxLine };
      return undefined;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  /** Marks the message as too big when the SMTP parser counted more than the limit itself. */
  sizeExceeded(): void {
    this.problem ??= { kind: 'size', limit: this.#maxBytes };
  }
}
