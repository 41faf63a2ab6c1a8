import {
  CallAnswered,
  CallEnded,
  CallerIdentified,
  CallHeld,
  CallMissed,
  CallResumed,
  CallRinging,
  CallSummary,
  CallTransferred,
  OriginateResult,
  type MessageContract,
} from '@cti/contracts';

import { CURSOR_STREAMS, type AgentEvent, type CursorStream, type EventFrame } from './protocol.js';

/**
 * An event frame ready to send: decoded and checked once, serialised once, then written to every
 * socket of every agent that holds the extension.
 */
export interface OutboundFrame {
  stream: CursorStream;
  seq: number;
  event: AgentEvent;
  /** `{"type":"event",...}` as UTF-8, shared by every socket it goes to. */
  payload: Buffer;
  /** Time JetStream stored the message, in milliseconds. */
  storedAt?: number;
}

const AgentContracts: readonly MessageContract[] = [
  CallRinging,
  CallAnswered,
  CallHeld,
  CallResumed,
  CallTransferred,
  CallEnded,
  CallMissed,
  CallerIdentified,
  CallSummary,
  OriginateResult,
];
const contractByType = new Map<string, MessageContract>(AgentContracts.map((contract) => [contract.name, contract]));

export type DecodeFailure = 'undecodable' | 'invalid' | 'mismatched_subject' | 'unknown_stream';

const decoder = new TextDecoder();

export function isCursorStream(value: string | undefined): value is CursorStream {
  return (CURSOR_STREAMS as readonly (string | undefined)[]).includes(value);
}

/**
 * Turns one stored message into an event frame. The event must match its contract, and its PBX
 * and extension must be the last two tokens of the subject it was stored under: routing follows
 * the subject, so a mismatch would show one agent's call to another.
 */
export function decodeStoredEvent(
  stream: string | undefined,
  seq: number,
  subject: string,
  data: Uint8Array,
): { frame: OutboundFrame } | { failure: DecodeFailure } {
  if (!isCursorStream(stream) || !Number.isSafeInteger(seq) || seq < 1) {
    return { failure: 'unknown_stream' };
  }
  const text = decoder.decode(data);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { failure: 'undecodable' };
  }
  const type = typeof value === 'object' && value !== null ? (value as { type?: unknown }).type : undefined;
  const contract = typeof type === 'string' ? contractByType.get(type) : undefined;
  if (contract === undefined || !contract.check(value)) {
    return { failure: 'invalid' };
  }
  const event = value as AgentEvent;
  const tokens = subject.split('.');
  if (tokens[tokens.length - 2] !== event.pbx || tokens[tokens.length - 1] !== event.extension) {
    return { failure: 'mismatched_subject' };
  }
  // The stored text is valid JSON already; splicing it in saves a second stringify per event.
  const payload = Buffer.from(`{"type":"event","stream":"${stream}","seq":${seq},"event":${text}}`, 'utf8');
  return { frame: { stream, seq, event, payload } };
}

export function toEventFrame(frame: OutboundFrame): EventFrame {
  return { type: 'event', stream: frame.stream, seq: frame.seq, event: frame.event };
}

export function frameKey(frame: Pick<OutboundFrame, 'stream' | 'seq'>): string {
  return `${frame.stream}:${frame.seq}`;
}
