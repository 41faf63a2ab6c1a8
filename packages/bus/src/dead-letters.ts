import { DeadLetter, Streams } from '@cti/contracts';
import { headers as natsHeaders } from '@nats-io/nats-core';
import { JetStreamApiCodes, JetStreamApiError, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';

import { BusErrorCode, toBusError } from './errors.js';
import { REPLAY_CONSUMER_HEADER } from './consume.js';

export interface StoredDeadLetter {
  /** Sequence in the DLQ stream; the handle for replay. */
  sequence: number;
  entry: DeadLetter;
}

export interface DeadLetterFilter {
  stream?: string;
  consumer?: string;
  limit?: number;
  /** Called for an entry that is not a valid dead letter; it is skipped. */
  onUnreadable?: (sequence: number, error: unknown) => void;
}

const decoder = new TextDecoder();

/** Lists dead letters, oldest first. */
export async function listDeadLetters(jsm: JetStreamManager, filter: DeadLetterFilter = {}): Promise<StoredDeadLetter[]> {
  const info = await jsm.streams.info(Streams.DLQ.name);
  const result: StoredDeadLetter[] = [];
  const subject = `dlq.${filter.stream ?? '*'}.${filter.consumer ?? '*'}`;
  if (info.state.messages === 0) {
    return result;
  }
  for (let sequence = info.state.first_seq; sequence <= info.state.last_seq; sequence += 1) {
    if (filter.limit !== undefined && result.length >= filter.limit) {
      break;
    }
    // Replayed dead letters are deleted, so the sequence has gaps; a gap is not an error.
    const stored = await jsm.streams.getMessage(Streams.DLQ.name, { seq: sequence }).catch((error: unknown) => {
      if (isAlreadyDeleted(error)) {
        return null;
      }
      throw error;
    });
    if (stored === null || !subjectMatches(subject, stored.subject)) {
      continue;
    }
    try {
      result.push({ sequence, entry: DeadLetter.parse(JSON.parse(decoder.decode(stored.data))) });
    } catch (error) {
      // One entry written by another tool or version must not hide the others.
      filter.onUnreadable?.(sequence, error);
    }
  }
  return result;
}

function subjectMatches(filter: string, subject: string): boolean {
  const want = filter.split('.');
  const have = subject.split('.');
  return want.length === have.length && want.every((token, index) => token === '*' || token === have[index]);
}

export interface ReplayOptions {
  /** Runs after the message is back on its subject and before the dead letter is removed. */
  beforeRemove?: (result: ReplayResult) => Promise<void>;
}

export interface ReplayResult {
  sequence: number;
  subject: string;
  consumer: string;
  /** True when the stream already had this replay: running a replay twice sends it once. */
  duplicate: boolean;
}

/**
 * Sends a dead letter back to its original subject for the one consumer that gave up on it,
 * then removes it from the DLQ stream. The replay's message id is derived from the dead letter,
 * so a replay repeated after a crash is stored once; other consumers skip it by its header.
 */
export async function replayDeadLetter(
  js: JetStreamClient,
  jsm: JetStreamManager,
  stored: StoredDeadLetter,
  options: ReplayOptions = {},
): Promise<ReplayResult> {
  const { entry } = stored;
  const headers = natsHeaders();
  headers.set(REPLAY_CONSUMER_HEADER, entry.consumer);
  let result: ReplayResult;
  try {
    const ack = await js.publish(entry.subject, Buffer.from(entry.data, 'base64'), {
      msgID: `replay:${entry.id}`,
      headers,
      timeout: 5000,
    });
    result = { sequence: stored.sequence, subject: entry.subject, consumer: entry.consumer, duplicate: ack.duplicate };
  } catch (error) {
    throw toBusError(error, BusErrorCode.PUBLISH_FAILED, entry.subject);
  }
  // A failure here keeps the dead letter, so running the replay again repeats this step. The
  // second republish is then recognised as a duplicate inside the stream's duplicate window.
  await options.beforeRemove?.(result);
  // A replay repeated after a crash finds the dead letter already gone, which is fine.
  await jsm.streams.deleteMessage(Streams.DLQ.name, stored.sequence, false).catch((error: unknown) => {
    if (!isAlreadyDeleted(error)) {
      throw toBusError(error, BusErrorCode.PUBLISH_FAILED, Streams.DLQ.name);
    }
  });
  return result;
}

// nats-server 2.9 answers a delete of a missing message with 10043 (sequence not found); newer
// servers may answer 10037 (no message found).
const SEQUENCE_NOT_FOUND = 10043;

function isAlreadyDeleted(error: unknown): boolean {
  return error instanceof JetStreamApiError && (error.code === JetStreamApiCodes.NoMessageFound || error.code === SEQUENCE_NOT_FOUND);
}

/** Reads the payload of a dead letter as text, for `cti dlq list --show`. */
export function deadLetterPayload(entry: DeadLetter): string {
  return decoder.decode(Buffer.from(entry.data, 'base64'));
}
