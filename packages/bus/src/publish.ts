import type { MessageContract } from '@cti/contracts';
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/nats-core';
import type { Static, TSchema } from 'typebox';

import { BusError, BusErrorCode, toBusError } from './errors.js';
import type { BusMetrics } from './metrics.js';
import type { PubAckTracker } from './pub-ack.js';

export interface PublishResult {
  stream: string;
  sequence: number;
  /** True when JetStream already had this message id inside the stream's duplicate window. */
  duplicate: boolean;
}

export interface PublishOptions {
  /** Extra headers, e.g. the consumer a dead-letter replay is meant for. */
  headers?: Record<string, string>;
  /** Message id to use instead of the message's own `id`. */
  messageId?: string;
  /**
   * Largest encoded message, in bytes, to send. A larger one is rejected with a BusError
   * MESSAGE_TOO_LARGE (details `size` and `limit`) and nothing is sent.
   */
  maxBytes?: number;
}

export interface Publisher {
  /**
   * Checks the message against its contract, publishes it with its `id` as the JetStream message
   * id and resolves once the stream has stored it. Rejects with a ContractError naming the field,
   * a BusError MESSAGE_TOO_LARGE past `maxBytes`, or a BusError (timeout, no stream) when the
   * stream did not acknowledge it. Publishes requested in one turn of the event loop are sent
   * together in its check phase (see `PublishBatch`).
   */
  publish<S extends TSchema>(contract: MessageContract<S>, message: Static<S>, options?: PublishOptions): Promise<PublishResult>;
}

const encoder = new TextEncoder();

export function createPublisher(acks: PubAckTracker, options: { timeoutMs?: number; metrics?: BusMetrics } = {}): Publisher {
  const timeoutMs = options.timeoutMs ?? 5000;
  return {
    async publish(contract, message, publishOptions = {}) {
      const checked = contract.parse(message) as Static<typeof contract.schema> & { id?: string };
      const subject = contract.subjectOf(checked);
      const messageId = publishOptions.messageId ?? checked.id;
      const data = encoder.encode(JSON.stringify(checked));
      if (publishOptions.maxBytes !== undefined && data.length > publishOptions.maxBytes) {
        throw new BusError(BusErrorCode.MESSAGE_TOO_LARGE, `the ${contract.name} message is ${data.length} bytes, more than the ${publishOptions.maxBytes} bytes allowed`, {
          details: { subject, size: data.length, limit: publishOptions.maxBytes },
        });
      }

      let headers: MsgHdrs | undefined;
      if (publishOptions.headers !== undefined) {
        headers = natsHeaders();
        for (const [name, value] of Object.entries(publishOptions.headers)) {
          headers.set(name, value);
        }
      }

      try {
        const ack = await acks.publish(subject, data, {
          timeoutMs,
          ...(messageId === undefined ? {} : { messageId }),
          ...(headers === undefined ? {} : { headers }),
        });
        options.metrics?.published.inc({ message: contract.name, result: ack.duplicate ? 'duplicate' : 'stored' });
        return { stream: ack.stream, sequence: ack.seq, duplicate: ack.duplicate };
      } catch (error) {
        options.metrics?.published.inc({ message: contract.name, result: 'failed' });
        throw toBusError(error, BusErrorCode.PUBLISH_FAILED, subject);
      }
    },
  };
}
