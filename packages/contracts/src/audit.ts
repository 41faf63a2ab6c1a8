import Type, { type Static } from 'typebox';

import { MessageId, Timestamp } from './common.js';
import { defineContract, SubjectToken } from './contract.js';

export const AuditActor = Type.Object({
  type: Type.Union([
    Type.Literal('agent'),
    Type.Literal('api_key'),
    Type.Literal('operator'),
    Type.Literal('service'),
    Type.Literal('remote'),
  ]),
  /** Agent id, API key id, operator login or service name. Never a secret. */
  id: Type.Optional(Type.String({ maxLength: 128 })),
  ip: Type.Optional(Type.String({ maxLength: 64 })),
});

export const AuditEvent = defineContract({
  name: 'audit',
  kind: 'event',
  schema: Type.Object({
    v: Type.Literal(1),
    id: MessageId,
    type: Type.Literal('audit'),
    occurredAt: Timestamp,
    service: SubjectToken('service that wrote the event'),
    /**
     * What happened, as `<area>_<verb>`: `auth_failed`, `token_minted`, `api_key_used`,
     * `api_request`, `screen_pop_sent`, `dlq_replayed`, `data_erased`, `config_loaded`, ...
     */
    action: SubjectToken('audit action'),
    outcome: Type.Union([Type.Literal('success'), Type.Literal('failure'), Type.Literal('denied')]),
    actor: AuditActor,
    /** The record or resource concerned, e.g. a CRM record or a stream. */
    target: Type.Optional(Type.Object({ type: Type.String({ maxLength: 64 }), id: Type.String({ maxLength: 256 }) })),
    /** Keyed hash of a phone number, never the number itself. */
    numberHash: Type.Optional(Type.String({ pattern: '^h:[0-9a-f]{16,64}$' })),
    reason: Type.Optional(Type.String({ maxLength: 256 })),
    details: Type.Optional(
      Type.Record(Type.String(), Type.Union([Type.String({ maxLength: 512 }), Type.Number(), Type.Boolean()])),
    ),
  }),
  tokens: ['service', 'action'] as const,
  stream: 'AUDIT',
  publishedBy: ['ami-bridge', 'crm-sync', 'webhook-ingress', 'push-gateway', 'cli'],
  consumedBy: ['cli'],
  description: 'Audit trail entry: who did what to which record, and the outcome. No secrets, no raw numbers.',
});

export type AuditEvent = Static<typeof AuditEvent.schema>;

export const AuditContracts = [AuditEvent] as const;
