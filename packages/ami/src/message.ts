import { AmiError, AmiErrorCode } from './errors.js';

/** One `[key, value]` header of an AMI message. */
export type AmiPair = readonly [key: string, value: string];

// Needles `\n<key>:` for `get` on unsplit messages, by key. Callers pass a few fixed names, so
// the cache stays small; it is bounded all the same.
const NEEDLES = new Map<string, string>();
const MAX_NEEDLES = 1024;

function needle(key: string): string {
  let found = NEEDLES.get(key);
  if (found === undefined) {
    found = `\n${key}:`;
    if (NEEDLES.size < MAX_NEEDLES) {
      NEEDLES.set(key, found);
    }
  }
  return found;
}

/** Splits a well-formed body (every line `key: value`) into keys and values. */
function splitBody(text: string): string[] {
  const fields: string[] = [];
  let start = 0;
  for (;;) {
    const newline = text.indexOf('\n', start);
    const lineEnd = newline === -1 ? text.length : newline;
    const end = lineEnd > start && text.charCodeAt(lineEnd - 1) === 0x0d ? lineEnd - 1 : lineEnd;
    const colon = text.indexOf(':', start);
    const valueStart = text.charCodeAt(colon + 1) === 0x20 ? colon + 2 : colon + 1;
    fields.push(text.slice(start, colon), valueStart >= end ? '' : text.slice(valueStart, end));
    if (newline === -1) {
      return fields;
    }
    start = newline + 1;
  }
}

/**
 * One AMI message (event, response or list item) as it came off the wire: every header in wire
 * order, repeated keys and `ChanVariable(...)` keys included. Keys are compared exactly as Asterisk
 * writes them; `getIgnoreCase` is there for actions written by other clients.
 *
 * A well-formed message from the framer keeps its body text and splits it only when asked for
 * all its fields: most events a bridge reads are looked at for two or three headers, or only
 * for their name.
 */
export class AmiMessage {
  /** When the message was read, in milliseconds (epoch time on a socket, `t_ms` in a recording). */
  readonly receivedAt: number;
  /** Pair indexes of values that were not valid UTF-8 and were decoded as Latin-1 instead. */
  readonly fallbackDecoded: readonly number[] | undefined;
  /** True when the message ended without its blank line because the next one started. */
  readonly truncated: boolean;
  #fields: string[] | undefined;
  // The body, lines separated by LF (a CR before one is not part of the value). It is set for
  // messages whose every line is `key: value`, until all the fields are requested.
  readonly #body: string | undefined;
  // The ActionID when the framer noted it while reading (null: the message has none), so the
  // client need not scan every event for one.
  #actionId: string | null | undefined;

  constructor(fields: string[], receivedAt: number, fallbackDecoded?: readonly number[], truncated = false, actionId?: string | null, body?: string) {
    this.#fields = body === undefined ? fields : undefined;
    this.#body = body;
    this.receivedAt = receivedAt;
    this.fallbackDecoded = fallbackDecoded;
    this.truncated = truncated;
    this.#actionId = actionId;
  }

  /** @internal A message from a body whose every line is `key: value` (the framer checked). */
  static fromBody(body: string, receivedAt: number): AmiMessage {
    return new AmiMessage([], receivedAt, undefined, false, undefined, body);
  }

  /** Keys and values in wire order, flattened: key0, value0, key1, value1, ... */
  get fields(): string[] {
    this.#fields ??= splitBody(this.#body as string);
    return this.#fields;
  }

  /** Returns the first value of `key`, or undefined. */
  get(key: string): string | undefined {
    const fields = this.#fields;
    if (fields === undefined) {
      return this.#find(this.#body as string, key);
    }
    for (let index = 0; index < fields.length; index += 2) {
      if (fields[index] === key) {
        return fields[index + 1];
      }
    }
    return undefined;
  }

  #find(text: string, key: string): string | undefined {
    let lineStart: number;
    if (text.startsWith(key) && text.charCodeAt(key.length) === 0x3a) {
      lineStart = 0;
    } else {
      const found = text.indexOf(needle(key));
      if (found === -1) {
        return undefined;
      }
      lineStart = found + 1;
    }
    const colon = lineStart + key.length;
    const valueStart = text.charCodeAt(colon + 1) === 0x20 ? colon + 2 : colon + 1;
    let lineEnd = text.indexOf('\n', colon);
    if (lineEnd === -1) {
      lineEnd = text.length;
    }
    const end = lineEnd > colon && text.charCodeAt(lineEnd - 1) === 0x0d ? lineEnd - 1 : lineEnd;
    return valueStart >= end ? '' : text.slice(valueStart, end);
  }

  /** Returns every value of `key`, in wire order (e.g. each `Output` line of a Command). */
  getAll(key: string): string[] {
    const values: string[] = [];
    const fields = this.fields;
    for (let index = 0; index < fields.length; index += 2) {
      if (fields[index] === key) {
        values.push(fields[index + 1] as string);
      }
    }
    return values;
  }

  /** Returns the first value whose key matches case-insensitively, as Asterisk reads action headers. */
  getIgnoreCase(key: string): string | undefined {
    const wanted = key.toLowerCase();
    const fields = this.fields;
    for (let index = 0; index < fields.length; index += 2) {
      if ((fields[index] as string).toLowerCase() === wanted) {
        return fields[index + 1];
      }
    }
    return undefined;
  }

  /** True when the first value of `key` was not valid UTF-8 and was decoded as Latin-1. */
  isFallbackDecoded(key: string): boolean {
    if (this.fallbackDecoded === undefined) {
      return false;
    }
    const fields = this.fields;
    for (let index = 0; index < fields.length; index += 2) {
      if (fields[index] === key) {
        return this.fallbackDecoded.includes(index / 2);
      }
    }
    return false;
  }

  /** The `Event` header, for events and list items. */
  get event(): string | undefined {
    const fields = this.#fields;
    if (fields === undefined) {
      return this.#find(this.#body as string, 'Event');
    }
    return fields[0] === 'Event' ? fields[1] : this.get('Event');
  }

  /** The `Response` header of an action response (undefined for events, even OriginateResponse). */
  get response(): string | undefined {
    if (this.event !== undefined) {
      return undefined;
    }
    return this.get('Response');
  }

  get actionId(): string | undefined {
    this.#actionId ??= this.get('ActionID') ?? null;
    return this.#actionId ?? undefined;
  }

  get size(): number {
    return this.fields.length / 2;
  }

  /** Returns the headers as `[key, value]` pairs in wire order. */
  pairs(): [string, string][] {
    const pairs: [string, string][] = [];
    const fields = this.fields;
    for (let index = 0; index < fields.length; index += 2) {
      pairs.push([fields[index] as string, fields[index + 1] as string]);
    }
    return pairs;
  }
}

// A header name Asterisk would accept: letters, digits and the punctuation its own headers use
// (`Cause-txt`, `ChanVariable(FOO)`, `Variable`).
const HEADER_NAME = /^[A-Za-z0-9_\-()./:]+$/;

/**
 * Serializes an action. Rejects a CR or LF in any name or value: one would let a value such as a
 * dialled number smuggle a second action onto the connection.
 */
export function formatAction(pairs: readonly AmiPair[]): string {
  let text = '';
  for (const [key, value] of pairs) {
    if (!HEADER_NAME.test(key)) {
      throw new AmiError(AmiErrorCode.ACTION_INVALID, `invalid AMI header name ${JSON.stringify(key.slice(0, 40))}`, {
        details: { header: key.slice(0, 40) },
      });
    }
    if (value.includes('\r') || value.includes('\n')) {
      throw new AmiError(AmiErrorCode.ACTION_INVALID, `AMI header ${key} contains a line break`, { details: { header: key } });
    }
    text += `${key}: ${value}\r\n`;
  }
  return `${text}\r\n`;
}

/** Serializes a message the way Asterisk writes one (used by the replay server). */
export function formatMessage(fields: readonly string[]): string {
  let text = '';
  for (let index = 0; index < fields.length; index += 2) {
    text += `${fields[index] as string}: ${fields[index + 1] as string}\r\n`;
  }
  return `${text}\r\n`;
}
