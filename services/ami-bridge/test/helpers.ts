import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { AmiFramer, AmiMessage } from '@cti/ami';
import type { CallEvent } from '@cti/contracts';

import { createTracker, DEFAULT_CALL_MODEL, type CallTracker } from '../src/index.js';

export const CAPTURES = join(import.meta.dirname, '../../../testdata/ami');

/** A channel as the snapshot headers of its events describe it. */
export interface Snapshot {
  channel: string;
  uniqueid: string;
  linkedid: string;
  state?: number;
  context?: string;
  exten?: string;
  number?: string;
  name?: string;
}

const STATE_NAMES: Record<number, string> = { 0: 'Down', 4: 'Ring', 5: 'Ringing', 6: 'Up', 7: 'Busy' };

/** The channel headers Asterisk 22 puts in every channel event, optionally with a prefix (Dest, Transferer, ...). */
export function snapshot(channel: Snapshot, prefix = ''): string[] {
  const state = channel.state ?? 6;
  return [
    `${prefix}Channel`, channel.channel,
    `${prefix}ChannelState`, String(state),
    `${prefix}ChannelStateDesc`, STATE_NAMES[state] ?? 'Unknown',
    `${prefix}CallerIDNum`, channel.number ?? '<unknown>',
    `${prefix}CallerIDName`, channel.name ?? '<unknown>',
    `${prefix}ConnectedLineNum`, '<unknown>',
    `${prefix}ConnectedLineName`, '<unknown>',
    `${prefix}Language`, 'en',
    `${prefix}AccountCode`, '',
    `${prefix}Context`, channel.context ?? 'from-internal',
    `${prefix}Exten`, channel.exten ?? 's',
    `${prefix}Priority`, '1',
    `${prefix}Uniqueid`, channel.uniqueid,
    `${prefix}Linkedid`, channel.linkedid,
  ];
}

/** An AMI event read at `seconds`. */
export function event(name: string, seconds: number, ...fields: string[][]): AmiMessage {
  return new AmiMessage(['Event', name, 'Privilege', 'call,all', ...fields.flat()], seconds * 1000);
}

/** Every message of a recorded `.ami` capture, read at time 0. */
export function captureMessages(name: string): AmiMessage[] {
  const messages: AmiMessage[] = [];
  const framer = new AmiFramer({ onMessage: (message) => messages.push(message) });
  framer.push(readFileSync(join(CAPTURES, `${name}.ami`)), 0);
  framer.end(0);
  return messages;
}

/** Every message of a `.jsonl` recording, with its recorded time. */
export function recordedMessages(name: string): AmiMessage[] {
  const messages: AmiMessage[] = [];
  const framer = new AmiFramer({ onMessage: (message) => messages.push(message) });
  for (const text of readFileSync(join(CAPTURES, `${name}.jsonl`), 'utf8').split('\n')) {
    if (text.trim() === '') {
      continue;
    }
    const line = JSON.parse(text) as { t_ms: number; dir: string; data: string };
    if (line.dir === 'in') {
      framer.push(Buffer.from(line.data, 'utf8'), line.t_ms);
    }
  }
  framer.end(0);
  return messages;
}

/** A tracker with the default (FreePBX) settings that collects what it emits. */
export function tracking(settings: Partial<typeof DEFAULT_CALL_MODEL> = {}): { tracker: CallTracker; events: CallEvent[] } {
  const events: CallEvent[] = [];
  const tracker = createTracker({ ...DEFAULT_CALL_MODEL, useTimestampHeader: false, ...settings }, (emitted) => events.push(emitted));
  return { tracker, events };
}

/** A copy of a message with some values replaced (by key) or keys renamed. */
export function rewrite(message: AmiMessage, replace: (key: string, value: string) => string): AmiMessage {
  const fields = message.fields.slice();
  for (let index = 0; index < fields.length; index += 2) {
    fields[index + 1] = replace(fields[index] as string, fields[index + 1] as string);
  }
  return new AmiMessage(fields, message.receivedAt, message.fallbackDecoded, message.truncated);
}
