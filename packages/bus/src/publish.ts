import type { MessageContract } from '@cti/contracts';
import { headers as natsHeaders } from '@nats-io/nats-core';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { Static, TSchema } from 'typebox';

import { BusErrorCode, toBusError } from './errors.js';
import type { BusMetrics } from './metrics.js';

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
}

export interface Publisher {
  /**
   * Checks the message against its contract, publishes it with its `id` as the JetStream message
   * id and resolves once the stream has stored it. Rejects with a ContractError naming the field,
   * or a BusError (timeout, no stream) when the stream did not acknowledge it.
   */
  publish<S extends TSchema>(contract: MessageContract<S>, message: Static<S>, options?: PublishOptions): Promise<PublishResult>;
}

const encoder = new TextEncoder();

export function createPublisher(js: JetStreamClient, options: { timeoutMs?: number; metrics?: BusMetrics } = {}): Publisher {
  const timeout = options.timeoutMs ?? 5000;
  return {
    async publish(contract, message, publishOptions = {}) {
      const checked = contract.parse(message) as Static<typeof contract.schema> & { id?: string };
      const subject = contract.subjectOf(checked);
      const messageId = publishOptions.messageId ?? checked.id;

      let headers;
      if (publishOptions.headers !== undefined) {
        headers = natsHeaders();
        for (const [name, value] of Object.entries(publishOptions.headers)) {
          headers.set(name, value);
        }
      }

      try {
        const ack = await js.publish(subject, encoder.encode(JSON.stringify(checked)), {
          timeout,
          ...(messageId === undefined ? {} : { msgID: messageId }),
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
