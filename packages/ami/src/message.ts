import { AmiError, AmiErrorCode } from './errors.js';

/** One `[key, value]` header of an AMI message. */
export type AmiPair = readonly [key: string, value: string];

/**
 * One AMI message (event, response or list item) as it came off the wire: every header in wire
 * order, repeated keys and `ChanVariable(...)` keys included. Keys are compared exactly as Asterisk
 * writes them; `getIgnoreCase` is there for actions written by other clients.
 */
export class AmiMessage {
  /** Keys and values in wire order, flattened: key0, value0, key1, value1, ... */
  readonly fields: string[];
  /** When the message was read, in milliseconds (epoch time on a socket, `t_ms` in a recording). */
  readonly receivedAt: number;
  /** Pair indexes of values that were not valid UTF-8 and were decoded as Latin-1 instead. */
  readonly fallbackDecoded: readonly number[] | undefined;
  /** True when the message ended without its blank line because the next one started. */
  readonly truncated: boolean;

  constructor(fields: string[], receivedAt: number, fallbackDecoded?: readonly number[], truncated = false) {
    this.fields = fields;
    this.receivedAt = receivedAt;
    this.fallbackDecoded = fallbackDecoded;
    this.truncated = truncated;
  }

  /** Returns the first value of `key`, or undefined. */
  get(key: string): string | undefined {
    const fields = this.fields;
    for (let index = 0; index < fields.length; index += 2) {
      if (fields[index] === key) {
        return fields[index + 1];
      }
    }
    return undefined;
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
    return this.fields[0] === 'Event' ? this.fields[1] : this.get('Event');
  }

  /** The `Response` header of an action response (undefined for events, even OriginateResponse). */
  get response(): string | undefined {
    if (this.event !== undefined) {
      return undefined;
    }
    return this.fields[0] === 'Response' ? this.fields[1] : this.get('Response');
  }

  get actionId(): string | undefined {
    return this.get('ActionID');
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
