import Type, { type Static } from 'typebox';

import { MessageId, PhoneNumber, Timestamp } from './common.js';
import { defineContract, SubjectToken } from './contract.js';

export const CrmModule = Type.Union([Type.Literal('Contacts'), Type.Literal('Accounts'), Type.Literal('Leads')]);
export type CrmModule = Static<typeof CrmModule>;

/** One CRM record whose phone field matched the caller's number. */
export const CallerMatch = Type.Object({
  module: CrmModule,
  id: Type.String({ minLength: 1, maxLength: 64 }),
  name: Type.String({ maxLength: 256 }),
  /** CRM field that matched, e.g. `phone_mobile`. */
  field: Type.String({ maxLength: 64 }),
  accountId: Type.Optional(Type.String({ maxLength: 64 })),
  accountName: Type.Optional(Type.String({ maxLength: 256 })),
  /** Link that opens the record in the SuiteCRM web UI. */
  url: Type.String({ maxLength: 2048 }),
});
export type CallerMatch = Static<typeof CallerMatch>;

/** Where a lookup answer came from: the local phone index, the result cache, or a live CRM query. */
export const LookupSource = Type.Union([Type.Literal('index'), Type.Literal('cache'), Type.Literal('live')]);

export const CallerIdentified = defineContract({
  name: 'crm.caller.identified',
  kind: 'event',
  schema: Type.Object({
    v: Type.Literal(1),
    id: MessageId,
    type: Type.Literal('crm.caller.identified'),
    callId: Type.String({ minLength: 1, maxLength: 64 }),
    pbx: SubjectToken('PBX id'),
    extension: SubjectToken('agent extension being rung'),
    /** The caller's number in E.164 when it could be normalised, otherwise as received. */
    number: PhoneNumber,
    /** Ranked best first; empty when the caller is unknown to the CRM. */
    matches: Type.Array(CallerMatch, { maxItems: 50 }),
    source: LookupSource,
    lookupMs: Type.Number({ minimum: 0 }),
    occurredAt: Timestamp,
    /** `occurredAt` of the call.ringing it answers, so the screen pop's delay can be measured end to end. */
    ringingAt: Type.Optional(Timestamp),
  }),
  tokens: ['pbx', 'extension'] as const,
  stream: 'CRM',
  publishedBy: ['crm-sync'],
  consumedBy: ['push-gateway'],
  description: 'Screen-pop enrichment: who the CRM says is calling an agent.',
});

export const CallLogged = defineContract({
  name: 'crm.call.logged',
  kind: 'event',
  schema: Type.Object({
    v: Type.Literal(1),
    id: MessageId,
    type: Type.Literal('crm.call.logged'),
    callId: Type.String({ minLength: 1, maxLength: 64 }),
    pbx: SubjectToken('PBX id'),
    /** Id of the Calls record in SuiteCRM. */
    recordId: Type.String({ minLength: 1, maxLength: 64 }),
    status: Type.Union([Type.Literal('Held'), Type.Literal('Not Held')]),
    parent: Type.Optional(Type.Object({ module: CrmModule, id: Type.String({ maxLength: 64 }) })),
    assignedUserId: Type.Optional(Type.String({ maxLength: 64 })),
    occurredAt: Timestamp,
  }),
  tokens: ['pbx'] as const,
  stream: 'CRM',
  publishedBy: ['crm-sync'],
  consumedBy: [],
  description: 'A call was logged as one Calls record in the CRM.',
});

export const CallSummary = defineContract({
  name: 'crm.call.summary',
  kind: 'event',
  schema: Type.Object({
    v: Type.Literal(1),
    id: MessageId,
    type: Type.Literal('crm.call.summary'),
    callId: Type.String({ minLength: 1, maxLength: 64 }),
    pbx: SubjectToken('PBX id'),
    extension: SubjectToken('agent extension that took the call'),
    conversationId: Type.String({ maxLength: 128 }),
    title: Type.Optional(Type.String({ maxLength: 256 })),
    summary: Type.String({ maxLength: 16_384 }),
    successful: Type.Union([Type.Literal('success'), Type.Literal('failure'), Type.Literal('unknown')]),
    recordId: Type.Optional(Type.String({ maxLength: 64 })),
    occurredAt: Timestamp,
  }),
  tokens: ['pbx', 'extension'] as const,
  stream: 'CRM',
  publishedBy: ['crm-sync'],
  consumedBy: ['push-gateway'],
  description: 'The AI summary of a call, once it is attached to the CRM record, for the agent who took it.',
});

export const CallerLookupRequest = defineContract({
  name: 'crm.lookup',
  kind: 'request',
  schema: Type.Object({
    v: Type.Literal(1),
    number: Type.String({ minLength: 1, maxLength: 64 }),
    /** Who asks, for the audit trail: a service name or an agent id. */
    requestedBy: Type.String({ minLength: 1, maxLength: 128 }),
  }),
  tokens: [] as const,
  subjectPrefix: 'rpc.crm.lookup',
  stream: null,
  publishedBy: ['webhook-ingress'],
  consumedBy: ['crm-sync'],
  description: 'Who is calling? Request/reply, answered from the phone index or a live CRM query.',
});

export const CallerLookupReply = defineContract({
  name: 'crm.lookup.reply',
  kind: 'reply',
  schema: Type.Object({
    v: Type.Literal(1),
    status: Type.Union([Type.Literal('ok'), Type.Literal('invalid_number'), Type.Literal('unavailable')]),
    number: PhoneNumber,
    matches: Type.Array(CallerMatch, { maxItems: 50 }),
    source: Type.Optional(LookupSource),
    /** Last call summary for the best match, when the CRM has one. */
    lastCallSummary: Type.Optional(Type.String({ maxLength: 4096 })),
    error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String({ maxLength: 512 }) })),
  }),
  tokens: [] as const,
  subjectPrefix: 'rpc.crm.lookup',
  stream: null,
  publishedBy: ['crm-sync'],
  consumedBy: ['webhook-ingress'],
  description: 'Answer to a caller lookup. No match is status ok with an empty list.',
});

export const CrmEraseRequest = defineContract({
  name: 'crm.erase',
  kind: 'request',
  schema: Type.Object({
    v: Type.Literal(1),
    /** The number being erased, in E.164. */
    number: Type.String({ minLength: 1, maxLength: 64 }),
    /** Who runs the erasure, for the audit trail: an operator login. */
    requestedBy: Type.String({ minLength: 1, maxLength: 128 }),
  }),
  tokens: [] as const,
  subjectPrefix: 'rpc.crm.erase',
  stream: null,
  publishedBy: ['cli'],
  consumedBy: ['crm-sync'],
  description:
    'Erasure by number (`cti erase`): every crm-sync replica drops the number from its in-memory lookup cache. Served without a queue group, so each replica answers.',
});

export const CrmEraseReply = defineContract({
  name: 'crm.erase.reply',
  kind: 'reply',
  schema: Type.Object({
    v: Type.Literal(1),
    /** The replica that answers (host, process id and a random suffix). */
    instance: Type.String({ maxLength: 256 }),
    /** Cached lookup results for the number it dropped. */
    cacheEntries: Type.Integer({ minimum: 0 }),
    /** Records its phone index still links to the number: 0 once the erased index entries reached it. */
    indexRecords: Type.Integer({ minimum: 0 }),
  }),
  tokens: [] as const,
  subjectPrefix: 'rpc.crm.erase',
  stream: null,
  publishedBy: ['crm-sync'],
  consumedBy: ['cli'],
  description: 'What one crm-sync replica dropped for an erased number.',
});

export type CallerIdentified = Static<typeof CallerIdentified.schema>;
export type CallLogged = Static<typeof CallLogged.schema>;
export type CallSummary = Static<typeof CallSummary.schema>;
export type CallerLookupRequest = Static<typeof CallerLookupRequest.schema>;
export type CallerLookupReply = Static<typeof CallerLookupReply.schema>;
export type CrmEraseRequest = Static<typeof CrmEraseRequest.schema>;
export type CrmEraseReply = Static<typeof CrmEraseReply.schema>;

export const CrmContracts = [CallerIdentified, CallLogged, CallSummary, CallerLookupRequest, CallerLookupReply, CrmEraseRequest, CrmEraseReply] as const;
