import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';

import { AmiFramer, type AmiMessage } from '@cti/ami';
import { CtiError, defineErrorCodes } from '@cti/errors';

export const CaptureErrorCode = defineErrorCodes('CAPTURE', {
  UNREADABLE: 'CTI_ERR_CAPTURE_UNREADABLE',
  INVALID: 'CTI_ERR_CAPTURE_INVALID',
});

/** One message of a capture, with the time it was read (ms since connect; 0 throughout an `.ami`). */
export interface CapturedMessage {
  message: AmiMessage;
  atMs: number;
}

/**
 * A recorded AMI session: what Asterisk sent, and for a `.jsonl` recording, what the recorder
 * sent (its actions) with the times of both.
 */
export interface Capture {
  name: string;
  banner: string | undefined;
  /** Every message Asterisk sent, in order: responses, list items and events. */
  messages: CapturedMessage[];
  /** Actions the recorder sent (`.jsonl` only), e.g. the recorded Originate. */
  actions: CapturedMessage[];
  /** True for a `.jsonl` recording, whose times are real. */
  timed: boolean;
  /** Whether Asterisk closed the socket at the end (`eof` line). */
  endedByPeer: boolean;
}

interface JsonlLine {
  t_ms: number;
  dir: 'in' | 'out';
  data: string;
  eof?: boolean;
}

function frameAll(chunks: { bytes: Buffer; atMs: number }[], banner: boolean): { messages: CapturedMessage[]; banner: string | undefined } {
  const messages: CapturedMessage[] = [];
  let bannerLine: string | undefined;
  const framer = new AmiFramer({
    banner,
    onMessage: (message) => messages.push({ message, atMs: message.receivedAt }),
    onBanner: (line) => {
      bannerLine = line;
    },
  });
  for (const chunk of chunks) {
    framer.push(chunk.bytes, chunk.atMs);
  }
  framer.end(chunks.at(-1)?.atMs ?? 0);
  return { messages, banner: bannerLine };
}

/** Parses a capture from its bytes: `.ami` (raw bytes from Asterisk) or `.jsonl` (timed reads and writes). */
export function parseCapture(name: string, kind: 'ami' | 'jsonl', bytes: Buffer): Capture {
  if (kind === 'ami') {
    const { messages, banner } = frameAll([{ bytes, atMs: 0 }], true);
    return { name, banner, messages, actions: [], timed: false, endedByPeer: true };
  }

  const incoming: { bytes: Buffer; atMs: number }[] = [];
  const outgoing: { bytes: Buffer; atMs: number }[] = [];
  let endedByPeer = false;
  const lines = bytes.toString('utf8').split('\n');
  for (const [index, text] of lines.entries()) {
    if (text.trim() === '') {
      continue;
    }
    let line: JsonlLine;
    try {
      line = JSON.parse(text) as JsonlLine;
    } catch (error) {
      throw new CtiError(CaptureErrorCode.INVALID, `${name} line ${index + 1} is not valid JSON`, { cause: error });
    }
    if (typeof line.t_ms !== 'number' || (line.dir !== 'in' && line.dir !== 'out') || typeof line.data !== 'string') {
      throw new CtiError(CaptureErrorCode.INVALID, `${name} line ${index + 1} needs t_ms (number), dir (in or out) and data (string)`);
    }
    if (line.eof === true) {
      endedByPeer = line.dir === 'in';
      continue;
    }
    (line.dir === 'in' ? incoming : outgoing).push({ bytes: Buffer.from(line.data, 'utf8'), atMs: line.t_ms });
  }
  const { messages, banner } = frameAll(incoming, true);
  const actions = frameAll(outgoing, false).messages;
  return { name, banner, messages, actions, timed: true, endedByPeer };
}

/** Reads a capture file; the kind comes from its extension. */
export function loadCapture(path: string): Capture {
  const extension = extname(path);
  if (extension !== '.ami' && extension !== '.jsonl') {
    throw new CtiError(CaptureErrorCode.INVALID, `capture ${path} must be an .ami or a .jsonl file`);
  }
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new CtiError(CaptureErrorCode.UNREADABLE, `cannot read capture ${path}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`, {
      cause: error,
    });
  }
  return parseCapture(basename(path, extension), extension === '.ami' ? 'ami' : 'jsonl', bytes);
}

/**
 * The events Asterisk sent on its own: not responses, and not list items or OriginateResponse
 * events, which answer an action (they carry its ActionID).
 */
export function unsolicitedEvents(capture: Capture): CapturedMessage[] {
  return capture.messages.filter(({ message }) => message.event !== undefined && message.actionId === undefined);
}

/** Returns the events that followed an Originate: the call's events and its OriginateResponse. */
export function originateEvents(capture: Capture): CapturedMessage[] {
  return capture.messages.filter(
    ({ message }) => message.event !== undefined && (message.actionId === undefined || message.event === 'OriginateResponse'),
  );
}
