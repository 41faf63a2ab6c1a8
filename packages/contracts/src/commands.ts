import Type, { type Static } from 'typebox';

import { MessageId, Timestamp } from './common.js';
import { defineContract, SubjectToken } from './contract.js';

/** Why a click-to-dial request failed, for the agent's screen and for metrics. */
export const OriginateFailure = Type.Union([
  Type.Literal('ami_down'),
  Type.Literal('permission_denied'),
  Type.Literal('invalid_number'),
  Type.Literal('invalid_extension'),
  Type.Literal('phone_rejected'),
  Type.Literal('timeout'),
]);
export type OriginateFailure = Static<typeof OriginateFailure>;

export const OriginateRequest = defineContract({
  name: 'pbx.originate',
  kind: 'request',
  schema: Type.Object({
    v: Type.Literal(1),
    /** Idempotency key: a repeated request with the same id places one call, not two. */
    requestId: Type.String({ minLength: 8, maxLength: 128, pattern: '^[A-Za-z0-9_.:-]+$' }),
    pbx: SubjectToken('PBX that owns the extension'),
    extension: SubjectToken("the agent's extension; its phone rings first"),
    /** Number to dial once the agent answers. */
    to: Type.String({ minLength: 1, maxLength: 64 }),
    /** Agent id from the token, for the audit trail. */
    agentId: Type.String({ minLength: 1, maxLength: 128 }),
  }),
  tokens: ['pbx'] as const,
  subjectPrefix: 'rpc.pbx.originate',
  stream: null,
  publishedBy: ['push-gateway'],
  consumedBy: ['ami-bridge'],
  description: 'Click-to-dial: ring the agent phone, then dial the number. Request/reply.',
});

export const OriginateReply = defineContract({
  name: 'pbx.originate.reply',
  kind: 'reply',
  schema: Type.Object({
    v: Type.Literal(1),
    requestId: Type.String({ maxLength: 128 }),
    status: Type.Union([Type.Literal('accepted'), Type.Literal('failed')]),
    reason: Type.Optional(OriginateFailure),
    message: Type.Optional(Type.String({ maxLength: 512 })),
    /** True when this request id was seen before and this is the stored answer. */
    duplicate: Type.Optional(Type.Boolean()),
  }),
  tokens: [] as const,
  subjectPrefix: 'rpc.pbx.originate',
  stream: null,
  publishedBy: ['ami-bridge'],
  consumedBy: ['push-gateway'],
  description: 'Answer to a click-to-dial request: accepted (queued by Asterisk) or failed with a reason.',
});

export const OriginateResult = defineContract({
  name: 'pbx.originate.result',
  kind: 'event',
  schema: Type.Object({
    v: Type.Literal(1),
    id: MessageId,
    type: Type.Literal('pbx.originate.result'),
    requestId: Type.String({ maxLength: 128 }),
    pbx: SubjectToken('PBX id'),
    extension: SubjectToken('agent extension'),
    status: Type.Union([Type.Literal('answered'), Type.Literal('failed')]),
    reason: Type.Optional(OriginateFailure),
    /** Linkedid of the call it created, when Asterisk reported one. */
    callId: Type.Optional(Type.String({ maxLength: 64 })),
    occurredAt: Timestamp,
  }),
  tokens: ['pbx', 'extension'] as const,
  stream: 'CALLS',
  publishedBy: ['ami-bridge'],
  consumedBy: ['push-gateway'],
  description: "Outcome of an accepted click-to-dial once Asterisk reports it (the agent's phone answered or not).",
});

export type OriginateRequest = Static<typeof OriginateRequest.schema>;
export type OriginateReply = Static<typeof OriginateReply.schema>;
export type OriginateResult = Static<typeof OriginateResult.schema>;

export const CommandContracts = [OriginateRequest, OriginateReply, OriginateResult] as const;
