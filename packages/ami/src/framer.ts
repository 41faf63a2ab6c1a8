import { isUtf8 } from 'node:buffer';

import { AmiError, AmiErrorCode } from './errors.js';
import { AmiMessage } from './message.js';

const LF = 0x0a;
const CR = 0x0d;

/** Default frame limit: far above any real AMI message, low enough that one bad frame cannot exhaust memory. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;

// A first line longer than this is not Asterisk's banner (`Asterisk Call Manager/11.0.0`).
const MAX_BANNER_BYTES = 256;

const BLANK_LF = Buffer.from('\n\n', 'latin1');
const BLANK_CRLF = Buffer.from('\n\r\n', 'latin1');
const FOLLOWS = Buffer.from('Response: Follows', 'latin1');
const END_COMMAND = '--END COMMAND--';
const END_COMMAND_BYTES = Buffer.from(END_COMMAND, 'latin1');
// Headers of the pre-Asterisk-14 Command response; every other line of it is raw CLI output.
const FOLLOWS_HEADERS = new Set(['Response', 'Privilege', 'ActionID', 'Message']);

export interface AmiFramerOptions {
  onMessage: (message: AmiMessage) => void;
  /** The `Asterisk Call Manager/x.y.z` line a server sends first. */
  onBanner?: (banner: string) => void;
  /** Frames skipped or cut short. The stream goes on with the next message either way. */
  onFault?: (error: AmiError) => void;
  /** Largest message accepted, in bytes; a larger one is skipped up to its blank line. */
  maxMessageBytes?: number;
  /** Whether the first line may be a banner (true for what a server sends, false for actions). */
  banner?: boolean;
}

export interface AmiFramerStats {
  messages: number;
  bytes: number;
  faults: number;
}

/**
 * Frames AMI messages from bytes, whatever the read boundaries. A message may arrive in many
 * reads, split inside a key, between the CR and LF of a terminator or inside a multi-byte UTF-8
 * character, and one read may carry many messages. A message ends at an empty line. Besides CRLF,
 * it accepts what Asterisk itself sometimes sends: bare LF line ends, `\r\n\n`, extra blank lines
 * between messages, and keys with empty values.
 *
 * Each value is decoded as UTF-8; a value that is not valid UTF-8 is decoded as Latin-1 and
 * flagged (`AmiMessage.fallbackDecoded`), so one badly encoded caller name costs nothing else.
 */
export class AmiFramer {
  readonly stats: AmiFramerStats = { messages: 0, bytes: 0, faults: 0 };
  readonly #options: AmiFramerOptions;
  readonly #maxBytes: number;
  #pending: Buffer | undefined;
  // Bytes at the start of #pending already searched for a terminator without success.
  #scanned = 0;
  #expectBanner: boolean;
  // Inside a frame that outgrew the limit: bytes are dropped until its blank line.
  #discarding = false;
  // Decoding the rest of an ended stream, whose truncation is already reported.
  #ending = false;
  readonly #builder = new MessageBuilder(this);

  constructor(options: AmiFramerOptions) {
    this.#options = options;
    this.#maxBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.#expectBanner = options.banner ?? true;
  }

  /** Feeds the bytes of one read. Messages they complete are delivered before this returns. */
  push(chunk: Uint8Array, receivedAt: number): void {
    this.stats.bytes += chunk.length;
    let data = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    let searchFrom = 0;
    if (this.#pending !== undefined) {
      data = Buffer.concat([this.#pending, data]);
      searchFrom = this.#scanned;
      this.#pending = undefined;
      this.#scanned = 0;
    }
    let position = 0;

    if (this.#discarding) {
      const end = findTerminator(data, 0);
      if (end === undefined) {
        // Keep the last two bytes: a terminator may straddle this read and the next.
        this.#pending = data.subarray(Math.max(0, data.length - 2));
        return;
      }
      this.#discarding = false;
      position = end.next;
    }

    if (this.#expectBanner) {
      const newline = data.indexOf(LF, position);
      if (newline === -1 && data.length - position <= MAX_BANNER_BYTES) {
        this.#pending = data.subarray(position);
        return;
      }
      this.#expectBanner = false;
      if (newline !== -1) {
        const line = data.toString('latin1', position, newline > position && data[newline - 1] === CR ? newline - 1 : newline);
        if (!line.includes(':')) {
          this.#options.onBanner?.(line);
          position = newline + 1;
        }
      }
    }

    this.#frame(data, position, searchFrom, receivedAt);
  }

  /**
   * Ends the stream. A message still missing its blank line is delivered flagged as truncated,
   * so a reader of a file still gets it. The bridge skips truncated messages.
   */
  end(receivedAt: number): void {
    const rest = this.#pending;
    this.#pending = undefined;
    this.#scanned = 0;
    if (rest === undefined || this.#discarding) {
      this.#discarding = false;
      return;
    }
    let start = 0;
    while (start < rest.length && (rest[start] === LF || rest[start] === CR)) {
      start += 1;
    }
    let end = rest.length;
    while (end > start && (rest[end - 1] === LF || rest[end - 1] === CR)) {
      end -= 1;
    }
    if (end > start) {
      this.#fault(AmiErrorCode.FRAME_TRUNCATED, 'the stream ended inside an AMI message', end - start);
      this.#ending = true;
      try {
        this.#decode(rest, start, end, receivedAt, true);
      } finally {
        this.#ending = false;
      }
    }
  }

  #frame(data: Buffer, start: number, searchFrom: number, receivedAt: number): void {
    const length = data.length;
    const search = new TerminatorSearch(data);
    let position = start;
    let from = Math.max(searchFrom, position);
    // Messages end at ASCII bytes, so when the read is valid UTF-8 up to its last ASCII byte, so
    // is every message in it: one check for the read instead of one per message. Up to three
    // bytes at the end may be the start of a character that the next read completes.
    let validUntil = length;
    while (validUntil > position && length - validUntil < 3 && (data[validUntil - 1] as number) >= 0x80) {
      validUntil -= 1;
    }
    if (!isUtf8(data.subarray(position, validUntil))) {
      validUntil = -1;
    }

    for (;;) {
      // Blank lines between messages carry nothing.
      while (position < length) {
        const byte = data[position];
        if (byte === LF) {
          position += 1;
        } else if (byte === CR && position + 1 < length && data[position + 1] === LF) {
          position += 2;
        } else {
          break;
        }
      }
      if (position >= length || (position === length - 1 && data[position] === CR)) {
        if (position < length) {
          this.#pending = data.subarray(position);
        }
        return;
      }
      from = Math.max(from, position);

      let end = search.find(from);
      // An old-style Command response may contain blank lines: it ends at --END COMMAND--.
      while (end !== undefined && data[position] === FOLLOWS[0] && startsWith(data, position, FOLLOWS) && !containsEndCommand(data, position, end.bodyEnd)) {
        end = search.find(end.next - 1);
      }

      if (end === undefined) {
        const size = length - position;
        if (size > this.#maxBytes) {
          this.#fault(AmiErrorCode.FRAME_TOO_LARGE, `AMI message exceeds ${this.#maxBytes} bytes; skipped up to its end`, size);
          this.#discarding = true;
          this.#pending = data.subarray(Math.max(position, length - 2));
          return;
        }
        this.#pending = data.subarray(position);
        this.#scanned = Math.max(0, size - 2);
        return;
      }

      if (end.bodyEnd - position > this.#maxBytes) {
        this.#fault(AmiErrorCode.FRAME_TOO_LARGE, `AMI message exceeds ${this.#maxBytes} bytes; skipped`, end.bodyEnd - position);
      } else {
        this.#decode(data, position, end.bodyEnd, receivedAt, false, end.bodyEnd <= validUntil);
      }
      position = end.next;
      from = position;
    }
  }

  #decode(data: Buffer, start: number, end: number, receivedAt: number, truncated: boolean, knownUtf8 = false): void {
    const builder = this.#builder;
    builder.begin(receivedAt);
    if (knownUtf8 || isUtf8(data.subarray(start, end))) {
      const text = data.toString('utf8', start, end);
      if (!truncated && isWellFormed(text)) {
        this.deliver(AmiMessage.fromBody(text, receivedAt));
        return;
      }
      let lineStart = 0;
      for (;;) {
        const newline = text.indexOf('\n', lineStart);
        const lineEnd = newline === -1 ? text.length : newline;
        const stop = lineEnd > lineStart && text.charCodeAt(lineEnd - 1) === CR ? lineEnd - 1 : lineEnd;
        builder.lineAt(text, lineStart, stop, false);
        if (newline === -1) {
          break;
        }
        lineStart = newline + 1;
      }
    } else {
      let lineStart = start;
      for (;;) {
        const newline = data.indexOf(LF, lineStart);
        const lineEnd = newline === -1 || newline > end ? end : newline;
        const stop = lineEnd > lineStart && data[lineEnd - 1] === CR ? lineEnd - 1 : lineEnd;
        decodeLineBytes(builder, data, lineStart, stop);
        if (lineEnd === end) {
          break;
        }
        lineStart = lineEnd + 1;
      }
    }
    builder.finish(truncated);
  }

  /** @internal Delivers one finished message. */
  deliver(message: AmiMessage): void {
    this.stats.messages += 1;
    if (message.truncated && !this.#ending) {
      this.#fault(AmiErrorCode.FRAME_TRUNCATED, 'AMI message cut short by the start of the next one', message.size);
    }
    this.#options.onMessage(message);
  }

  #fault(code: AmiErrorCode, text: string, size: number): void {
    this.stats.faults += 1;
    this.#options.onFault?.(new AmiError(code, text, { details: { size } }));
  }
}

/** End of a message: its body runs up to `bodyEnd`, and the next message starts at `next`. */
interface Terminator {
  bodyEnd: number;
  next: number;
}

/**
 * Finds empty lines in one buffer. Both searches remember their last hit, and a search that
 * found nothing is not repeated, so framing a read of many messages stays linear even when one
 * of the two forms never occurs (CRLF streams have no `\n\n`).
 */
class TerminatorSearch {
  readonly #data: Buffer;
  #bare = -2;
  #crlf = -2;

  constructor(data: Buffer) {
    this.#data = data;
  }

  /** Finds the first empty line at or after `from`: `\n\n` or `\n\r\n`, whichever comes first. */
  find(from: number): Terminator | undefined {
    if (this.#bare !== -1 && this.#bare < from) {
      this.#bare = this.#data.indexOf(BLANK_LF, from);
    }
    if (this.#crlf !== -1 && this.#crlf < from) {
      this.#crlf = this.#data.indexOf(BLANK_CRLF, from);
    }
    return terminatorAt(this.#data, this.#bare, this.#crlf);
  }
}

/** Finds the first empty line at or after `from`: `\n\n` or `\n\r\n`, whichever comes first. */
function findTerminator(data: Buffer, from: number): Terminator | undefined {
  return terminatorAt(data, data.indexOf(BLANK_LF, from), data.indexOf(BLANK_CRLF, from));
}

function terminatorAt(data: Buffer, bare: number, crlf: number): Terminator | undefined {
  let newline: number;
  let next: number;
  if (bare !== -1 && (crlf === -1 || bare < crlf)) {
    newline = bare;
    next = bare + 2;
  } else if (crlf !== -1) {
    newline = crlf;
    next = crlf + 3;
  } else {
    return undefined;
  }
  const bodyEnd = newline > 0 && data[newline - 1] === CR ? newline - 1 : newline;
  return { bodyEnd, next };
}

function startsWith(data: Buffer, position: number, prefix: Buffer): boolean {
  return data.length - position >= prefix.length && data.compare(prefix, 0, prefix.length, position, position + prefix.length) === 0;
}

function containsEndCommand(data: Buffer, start: number, end: number): boolean {
  const found = data.indexOf(END_COMMAND_BYTES, start);
  return found !== -1 && found < end;
}

// A body of nothing but `key: value` lines, keys of printable ASCII. Such a message needs none
// of the repairs of MessageBuilder, so it is delivered as its text and split on demand.
const WELL_FORMED = /^(?:[!-9;-~]+:[^\n]*\n)*[!-9;-~]+:[^\n]*$/;

function isWellFormed(text: string): boolean {
  return (
    WELL_FORMED.test(text) &&
    // An `Event:` further down, or a `Response:` outside an event, starts another message.
    !text.includes('\nEvent:') &&
    (text.startsWith('Event:') || !text.includes('\nResponse:')) &&
    // The old Command response keeps raw output lines.
    !(text.startsWith('Response:') && /^Response: ?Follows\r?(?:\n|$)/.test(text))
  );
}

// Key characters Asterisk never sends: control bytes, space, and anything outside ASCII. A key
// holding one is the tail of garbage glued in front of a real header.
function isGarbageKey(key: string): boolean {
  for (let index = 0; index < key.length; index += 1) {
    const code = key.charCodeAt(index);
    if (code <= 0x20 || code >= 0x7f) {
      return true;
    }
  }
  return false;
}

function decodeLineBytes(builder: MessageBuilder, data: Buffer, start: number, end: number): void {
  const line = data.subarray(start, end);
  if (isUtf8(line)) {
    builder.line(line.toString('utf8'), false);
    return;
  }
  if (builder.rawLines) {
    builder.line(line.toString('latin1'), true);
    return;
  }
  const colon = line.indexOf(0x3a);
  if (colon <= 0) {
    builder.line(line.toString('latin1'), true);
    return;
  }
  // The key is ASCII in every real message; only the value needs the fallback.
  const valueStart = line[colon + 1] === 0x20 ? colon + 2 : colon + 1;
  const value = line.subarray(valueStart);
  const utf8 = isUtf8(value);
  builder.pair(line.toString('latin1', 0, colon), utf8 ? value.toString('utf8') : value.toString('latin1'), !utf8);
}

/** Builds messages line by line, and starts a new one where a truncated message ran into the next. */
class MessageBuilder {
  readonly #framer: AmiFramer;
  #receivedAt = 0;
  #fields: string[] = [];
  #fallback: number[] | undefined;
  #hasEvent = false;
  #actionId: string | null = null;
  // Inside the raw output of an old-style (`Response: Follows`) Command response.
  #commandOutput = false;

  constructor(framer: AmiFramer) {
    this.#framer = framer;
  }

  /** Starts the messages of one body, read at `receivedAt`. */
  begin(receivedAt: number): void {
    this.#receivedAt = receivedAt;
  }

  /** True inside an old-style Command response, where lines are raw CLI output. */
  get rawLines(): boolean {
    return this.#commandOutput || this.#isFollows();
  }

  /** Adds the line `text[start, end)`. */
  lineAt(text: string, start: number, end: number, fallback: boolean): void {
    if (this.#commandOutput) {
      this.#output(text.slice(start, end), fallback);
      return;
    }
    const found = text.indexOf(':', start);
    const colon = found < end ? found : -1;
    if (this.#isFollows() && !FOLLOWS_HEADERS.has(colon > start ? text.slice(start, colon) : '')) {
      this.#commandOutput = true;
      this.#output(text.slice(start, end), fallback);
      return;
    }
    if (colon <= start) {
      this.#malformed(text.slice(start, end), fallback);
      return;
    }
    const valueStart = text.charCodeAt(colon + 1) === 0x20 ? colon + 2 : colon + 1;
    const value = valueStart >= end ? '' : text.slice(valueStart, end);
    const key = text.slice(start, colon);
    if (isGarbageKey(key)) {
      this.#malformed(text.slice(start, end), fallback);
      return;
    }
    this.#pairKnown(key, value, fallback);
  }

  line(text: string, fallback: boolean): void {
    this.lineAt(text, 0, text.length, fallback);
  }

  pair(key: string, value: string, fallback: boolean): void {
    if (isGarbageKey(key)) {
      this.#malformed(`${key}: ${value}`, fallback);
      return;
    }
    this.#pairKnown(key, value, fallback);
  }

  #pairKnown(key: string, value: string, fallback: boolean): void {
    // Asterisk writes `Event:` or `Response:` as the first header of a message, so one further
    // down starts a new message: the current one lost its blank line. The exception is the
    // `Response:` header inside an event (OriginateResponse carries one).
    if (this.#fields.length > 0 && (key === 'Event' || (key === 'Response' && !this.#hasEvent))) {
      this.finish(true);
    }
    if (key === 'Event') {
      this.#hasEvent = true;
    } else if (key === 'ActionID' && this.#actionId === null) {
      this.#actionId = value;
    }
    this.#push(key, value, fallback);
  }

  finish(truncated: boolean): void {
    if (this.#fields.length > 0) {
      this.#framer.deliver(new AmiMessage(this.#fields, this.#receivedAt, this.#fallback, truncated, this.#actionId));
    }
    this.#fields = [];
    this.#fallback = undefined;
    this.#hasEvent = false;
    this.#actionId = null;
    this.#commandOutput = false;
  }

  #isFollows(): boolean {
    return this.#fields[1] === 'Follows' && this.#fields[0] === 'Response';
  }

  // A line that is not `key: value`. After garbage it may still hold the start of a real
  // message; otherwise it is kept under an empty key.
  #malformed(text: string, fallback: boolean): void {
    for (const start of ['Event: ', 'Response: ']) {
      const found = text.indexOf(start);
      if (found > 0) {
        this.#push('', text.slice(0, found), fallback);
        this.finish(true);
        this.line(text.slice(found), fallback);
        return;
      }
    }
    this.#push('', text, fallback);
  }

  #output(text: string, fallback: boolean): void {
    const end = text.indexOf(END_COMMAND);
    if (end !== -1) {
      if (end > 0) {
        this.#push('Output', text.slice(0, end), fallback);
      }
      return;
    }
    this.#push('Output', text, fallback);
  }

  #push(key: string, value: string, fallback: boolean): void {
    if (fallback) {
      (this.#fallback ??= []).push(this.#fields.length / 2);
    }
    this.#fields.push(key, value);
  }
}
