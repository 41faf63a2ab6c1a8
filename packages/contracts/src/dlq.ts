import Type, { type Static } from 'typebox';

import { MessageId, Timestamp } from './common.js';
import { defineContract, SubjectToken } from './contract.js';

export const DeadLetter = defineContract({
  name: 'dlq',
  kind: 'event',
  schema: Type.Object({
    v: Type.Literal(1),
    /** `<stream>:<stream sequence>` of the original, so a dead letter is stored once. */
    id: MessageId,
    type: Type.Literal('dlq'),
    stream: SubjectToken('stream of the original message'),
    consumer: SubjectToken('durable consumer that gave up'),
    subject: Type.String({ maxLength: 512 }),
    streamSequence: Type.Integer({ minimum: 1 }),
    deliveries: Type.Integer({ minimum: 1 }),
    error: Type.Object({
      code: Type.Optional(Type.String({ maxLength: 128 })),
      message: Type.String({ maxLength: 2048 }),
    }),
    failedAt: Timestamp,
    /** Original message id (`Nats-Msg-Id`), used again on replay so the replay is idempotent. */
    messageId: Type.Optional(Type.String({ maxLength: 128 })),
    /** Original payload, base64. */
    data: Type.String(),
  }),
  tokens: ['stream', 'consumer'] as const,
  stream: 'DLQ',
  publishedBy: ['ami-bridge', 'crm-sync', 'webhook-ingress', 'push-gateway'],
  consumedBy: ['cli'],
  description: 'A message a consumer gave up on, with the last error and the delivery count.',
});

export type DeadLetter = Static<typeof DeadLetter.schema>;

export const DeadLetterContracts = [DeadLetter] as const;
