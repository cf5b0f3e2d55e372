// Message bytes as mailboxes keep them: CRLF line ends, no NUL, a final CRLF; and POP3's dot-stuffing.

const CR = 0x0d;
const LF = 0x0a;
const NUL = 0x00;
const DOT = 0x2e;

export class MessageFormatError extends Error {}

/**
 * The message with every line end (CRLF, bare LF, bare CR) written as CRLF and a CRLF after the
 * last line, so that its size is what POP3 reports and sends. NUL bytes are refused: RFC 5322
 * forbids them and POP3 clients truncate at them.
 */
export function toCrlf(input: Buffer): Buffer {
  let extra = 0;
  for (let i = 0; i < input.length; i++) {
    const b = input[i]!;
    if (b === NUL) throw new MessageFormatError(`the message contains a NUL byte (at offset ${i}); nothing was stored`);
    if (b === LF && (i === 0 || input[i - 1] !== CR)) extra++;
    else if (b === CR && input[i + 1] !== LF) extra++;
  }
  const last = input[input.length - 1];
  const needsEnd = input.length > 0 && last !== LF && last !== CR;
  if (extra === 0 && !needsEnd) return input;
  const out = Buffer.allocUnsafe(input.length + extra + (needsEnd ? 2 : 0));
  let o = 0;
  for (let i = 0; i < input.length; i++) {
    const b = input[i]!;
    if (b === LF && (i === 0 || input[i - 1] !== CR)) {
      out[o++] = CR;
      out[o++] = LF;
    } else if (b === CR && input[i + 1] !== LF) {
      out[o++] = CR;
      out[o++] = LF;
    } else {
      out[o++] = b;
    }
  }
  if (needsEnd) {
    out[o++] = CR;
    out[o++] = LF;
  }
  return out;
}

/**
 * A CRLF message as a POP3 multi-line body (RFC 1939 §3): a dot doubled at the start of each
 * line, a CRLF added if the last line lacks one, and the terminating `.` line.
 */
export function dotStuff(message: Buffer): Buffer {
  let dots = message.length > 0 && message[0] === DOT ? 1 : 0;
  for (let i = message.indexOf('\n.'); i >= 0; i = message.indexOf('\n.', i + 2)) dots++;
  const endsWithLine = message.length === 0 || (message[message.length - 2] === CR && message[message.length - 1] === LF);
  const out = Buffer.allocUnsafe(message.length + dots + (endsWithLine ? 0 : 2) + 3);
  let o = 0;
  let start = 0;
  if (message.length > 0 && message[0] === DOT) out[o++] = DOT;
  for (let i = message.indexOf('\n.'); i >= 0; i = message.indexOf('\n.', i + 2)) {
    o += message.copy(out, o, start, i + 1);
    out[o++] = DOT;
    start = i + 1;
  }
  o += message.copy(out, o, start);
  if (!endsWithLine) {
    out[o++] = CR;
    out[o++] = LF;
  }
  out[o++] = DOT;
  out[o++] = CR;
  out[o++] = LF;
  return out;
}

/** The header and the first `lines` lines of the body (POP3's TOP), as CRLF bytes. */
export function head(message: Buffer, lines: number): Buffer {
  // An empty header: the body starts after the first line end.
  const emptyHeader = message[0] === CR && message[1] === LF;
  const blank = emptyHeader ? -2 : message.indexOf('\r\n\r\n');
  // A message without a body: all of it is header.
  if (blank < 0 && !emptyHeader) return message;
  let end = blank + 4;
  for (let n = 0; n < lines && end < message.length; n++) {
    const next = message.indexOf('\n', end);
    end = next < 0 ? message.length : next + 1;
  }
  return message.subarray(0, end);
}
