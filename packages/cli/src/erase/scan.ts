import { DeliverPolicy, JetStreamApiCodes, JetStreamApiError, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { MsgHdrs } from '@nats-io/nats-core';

/** One stored message as a scan sees it. */
export interface ScannedMessage {
  seq: number;
  subject: string;
  data: Uint8Array;
  headers: MsgHdrs | undefined;
}

const BATCH = 512;

export function isStreamNotFound(error: unknown): boolean {
  return error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound;
}

/**
 * Reads every message a stream holds right now, oldest first, through an ordered consumer, and
 * hands each to `visit`. Messages stored after the scan started are not visited. Returns how many
 * were read; a stream that does not exist reads as empty.
 */
export async function scanStream(
  js: JetStreamClient,
  jsm: JetStreamManager,
  stream: string,
  visit: (message: ScannedMessage) => void,
): Promise<number> {
  let lastSeq: number;
  try {
    const info = await jsm.streams.info(stream);
    if (info.state.messages === 0) {
      return 0;
    }
    lastSeq = info.state.last_seq;
  } catch (error) {
    if (isStreamNotFound(error)) {
      return 0;
    }
    throw error;
  }

  const consumer = await js.consumers.get(stream, { deliver_policy: DeliverPolicy.All });
  const messages = await consumer.consume({ max_messages: BATCH });
  let scanned = 0;
  try {
    for await (const message of messages) {
      if (message.seq > lastSeq) {
        break;
      }
      visit({ seq: message.seq, subject: message.subject, data: message.data, headers: message.headers });
      scanned += 1;
      if (message.seq >= lastSeq || message.info.pending === 0) {
        break;
      }
    }
  } finally {
    messages.stop();
  }
  return scanned;
}
