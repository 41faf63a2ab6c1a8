import Type, { type Static } from 'typebox';

import { MessageId, PhoneNumber, Timestamp } from './common.js';
import { defineContract } from './contract.js';

/** One readable turn of an AI conversation. Tool-call entries, whose message is null, are dropped. */
export const TranscriptTurn = Type.Object({
  role: Type.Union([Type.Literal('agent'), Type.Literal('user')]),
  message: Type.String(),
  timeInCallSecs: Type.Number({ minimum: 0 }),
});

const aiFields = {
  v: Type.Literal(1),
  id: MessageId,
  /** ElevenLabs conversation id. */
  conversationId: Type.String({ minLength: 1, maxLength: 128 }),
  /** ElevenLabs agent id (the AI agent, not a contact-centre agent). */
  agentId: Type.String({ maxLength: 128 }),
  /** `event_timestamp` of the webhook envelope. */
  eventAt: Timestamp,
  receivedAt: Timestamp,
};

export const AiConversationCompleted = defineContract({
  name: 'ai.conversation.completed',
  kind: 'event',
  schema: Type.Object({
    ...aiFields,
    type: Type.Literal('ai.conversation.completed'),
    direction: Type.Optional(Type.Union([Type.Literal('inbound'), Type.Literal('outbound')])),
    /** The customer's number: the caller of an inbound call, the callee of an outbound one. */
    externalNumber: Type.Optional(PhoneNumber),
    agentNumber: Type.Optional(PhoneNumber),
    /** SIP call id or provider call id (`call_sid`) of the phone leg. */
    callSid: Type.Optional(Type.String({ maxLength: 256 })),
    /** Asterisk Linkedid, when the conversation-init answer set it as a dynamic variable. */
    pbxLinkedid: Type.Optional(Type.String({ maxLength: 64 })),
    startedAt: Type.Optional(Timestamp),
    durationSeconds: Type.Optional(Type.Number({ minimum: 0 })),
    title: Type.Optional(Type.String({ maxLength: 512 })),
    summary: Type.Optional(Type.String()),
    successful: Type.Union([Type.Literal('success'), Type.Literal('failure'), Type.Literal('unknown')]),
    /** How the phone leg ended as the provider reported it: `answered`, `voicemail`, `busy`, `no_answer`, `failed`. */
    callResult: Type.Optional(Type.String({ maxLength: 32 })),
    /** Values the agent's data collection extracted, by data collection id; scalar values only. */
    dataCollection: Type.Optional(
      Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()])),
    ),
    /** ElevenLabs holds audio of the conversation; an ai.conversation.audio event follows only when the agent sends audio. */
    hasAudio: Type.Optional(Type.Boolean()),
    transcript: Type.Array(TranscriptTurn),
    /** Dynamic variables of the conversation, scalar values only. */
    dynamicVariables: Type.Record(
      Type.String(),
      Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]),
    ),
  }),
  tokens: [] as const,
  stream: 'AI',
  publishedBy: ['webhook-ingress'],
  consumedBy: ['crm-sync'],
  description: 'post_call_transcription: what the AI heard and concluded, verified and normalized.',
});

export const AiConversationAudio = defineContract({
  name: 'ai.conversation.audio',
  kind: 'event',
  schema: Type.Object({
    ...aiFields,
    type: Type.Literal('ai.conversation.audio'),
    /** Where the MP3 is: an object in the JetStream object store. */
    object: Type.Object({
      bucket: Type.String({ maxLength: 64 }),
      name: Type.String({ maxLength: 256 }),
      size: Type.Integer({ minimum: 0 }),
      sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
      contentType: Type.Literal('audio/mpeg'),
    }),
  }),
  tokens: [] as const,
  stream: 'AI',
  publishedBy: ['webhook-ingress'],
  consumedBy: [],
  description: 'post_call_audio: the conversation audio was stored; the event carries only its reference.',
});

export const AiCallFailed = defineContract({
  name: 'ai.call.failed',
  kind: 'event',
  schema: Type.Object({
    ...aiFields,
    type: Type.Literal('ai.call.failed'),
    failureReason: Type.String({ maxLength: 64 }),
    fromNumber: Type.Optional(PhoneNumber),
    toNumber: Type.Optional(PhoneNumber),
    sipStatusCode: Type.Optional(Type.Integer()),
    providerType: Type.Optional(Type.String({ maxLength: 32 })),
    callSid: Type.Optional(Type.String({ maxLength: 256 })),
  }),
  tokens: [] as const,
  stream: 'AI',
  publishedBy: ['webhook-ingress'],
  consumedBy: ['crm-sync'],
  description: 'call_initiation_failure: an outbound AI call could not be set up (busy, no answer, error).',
});

export const AiWebhookUnknown = defineContract({
  name: 'ai.webhook.unknown',
  kind: 'event',
  schema: Type.Object({
    v: Type.Literal(1),
    id: MessageId,
    type: Type.Literal('ai.webhook.unknown'),
    /** The `type` field of the webhook body as received. */
    webhookType: Type.String({ maxLength: 128 }),
    receivedAt: Timestamp,
    /** The verified body, kept so a later version can process it. */
    body: Type.String({ maxLength: 900_000 }),
  }),
  tokens: [] as const,
  stream: 'AI',
  publishedBy: ['webhook-ingress'],
  consumedBy: [],
  description: 'A verified webhook of a type this version does not process, stored for later.',
});

export type AiConversationCompleted = Static<typeof AiConversationCompleted.schema>;
export type AiConversationAudio = Static<typeof AiConversationAudio.schema>;
export type AiCallFailed = Static<typeof AiCallFailed.schema>;
export type AiWebhookUnknown = Static<typeof AiWebhookUnknown.schema>;

export const AiContracts = [AiConversationCompleted, AiConversationAudio, AiCallFailed, AiWebhookUnknown] as const;
