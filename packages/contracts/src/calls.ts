import Type, { type Static, type TProperties } from 'typebox';

import { MessageId, Party, Timestamp } from './common.js';
import { defineContract, SubjectToken } from './contract.js';
import type { ServiceName } from './services.js';

export const Direction = Type.Union([Type.Literal('inbound'), Type.Literal('outbound'), Type.Literal('internal')]);
export type Direction = Static<typeof Direction>;

/**
 * Final outcome of an agent leg (`call.ended`) or of a whole call (`call.completed`).
 * - `answered_elsewhere`: another agent of the ring group or queue took the call.
 * - `abandoned`: the caller hung up while waiting in a queue or ringing.
 * - `missed`: the agent was rung and did not answer, and nobody else did either.
 */
export const Disposition = Type.Union([
  Type.Literal('answered'),
  Type.Literal('answered_elsewhere'),
  Type.Literal('missed'),
  Type.Literal('busy'),
  Type.Literal('abandoned'),
  Type.Literal('voicemail'),
  Type.Literal('failed'),
]);
export type Disposition = Static<typeof Disposition>;

export const HangupBy = Type.Union([Type.Literal('caller'), Type.Literal('agent'), Type.Literal('system')]);
export type HangupBy = Static<typeof HangupBy>;

export const QueueInfo = Type.Object({
  name: Type.String({ maxLength: 128 }),
  /** Seconds the caller waited in the queue before an agent answered or the caller left. */
  holdSeconds: Type.Optional(Type.Number({ minimum: 0 })),
});

const PbxId = SubjectToken('PBX id (PBX_ID of the ami-bridge that saw the call)');
const Extension = SubjectToken('agent extension, e.g. 101');

// Fields every call event carries.
const callFields = {
  v: Type.Literal(1),
  id: MessageId,
  callId: Type.String({ minLength: 1, maxLength: 64, description: 'Asterisk Linkedid of the call' }),
  pbx: PbxId,
  direction: Direction,
  caller: Party,
  callee: Party,
  occurredAt: Timestamp,
  /** Dialled number (DID) of an inbound call. */
  did: Type.Optional(Type.String({ maxLength: 64 })),
  queue: Type.Optional(QueueInfo),
  /** Request id of the click-to-dial request that placed the call. */
  originateRequestId: Type.Optional(Type.String({ maxLength: 128 })),
  /** True when the event was derived from a resync after the AMI connection was lost. */
  resynced: Type.Optional(Type.Boolean()),
};

// Fields of an event about one agent's leg of a call.
const legFields = {
  ...callFields,
  extension: Extension,
  /** Asterisk channel of the agent's phone, e.g. `PJSIP/101-0000000b`. */
  channel: Type.Optional(Type.String({ maxLength: 256 })),
};

const outcomeFields = {
  disposition: Disposition,
  ringSeconds: Type.Number({ minimum: 0 }),
  talkSeconds: Type.Number({ minimum: 0 }),
  holdSeconds: Type.Optional(Type.Number({ minimum: 0 })),
  hangupBy: HangupBy,
  /** Q.850 cause code of the hangup, e.g. 16 for normal clearing. */
  hangupCause: Type.Integer({ minimum: 0 }),
  hangupCauseText: Type.Optional(Type.String({ maxLength: 128 })),
};

function legContract<T extends string, E extends TProperties = Record<never, never>>(
  type: T,
  description: string,
  extra?: E,
  consumedBy: readonly ServiceName[] = ['push-gateway'],
) {
  return defineContract({
    name: type,
    kind: 'event',
    schema: Type.Object({ ...legFields, type: Type.Literal(type), ...(extra as E) }),
    tokens: ['pbx', 'extension'] as const,
    stream: 'CALLS',
    publishedBy: ['ami-bridge'],
    consumedBy,
    description,
  });
}

// crm-sync reads the ringing legs for the screen pop, and of the rest only `call.completed`.
export const CallRinging = legContract('call.ringing', 'An agent phone starts ringing for a call.', {}, ['push-gateway', 'crm-sync']);
export const CallAnswered = legContract('call.answered', 'An agent answered.', {
  ringSeconds: Type.Number({ minimum: 0 }),
});
export const CallHeld = legContract('call.held', 'An agent put the call on hold.');
export const CallResumed = legContract('call.resumed', 'An agent took the call off hold.');
export const CallTransferred = legContract('call.transferred', 'An agent transferred the call; their leg ends next.', {
  transferType: Type.Union([Type.Literal('blind'), Type.Literal('attended')]),
  target: Type.Object({
    extension: Type.Optional(Extension),
    number: Type.Optional(Type.String({ maxLength: 64 })),
    context: Type.Optional(Type.String({ maxLength: 128 })),
  }),
});
export const CallEnded = legContract('call.ended', "An agent's leg of the call ended, with its outcome.", outcomeFields);

/** One agent leg as summarised in `call.completed`. */
export const AgentLeg = Type.Object({
  extension: Extension,
  disposition: Disposition,
  ringSeconds: Type.Number({ minimum: 0 }),
  talkSeconds: Type.Number({ minimum: 0 }),
});

export const CallCompleted = defineContract({
  name: 'call.completed',
  kind: 'event',
  schema: Type.Object({
    ...callFields,
    type: Type.Literal('call.completed'),
    ...outcomeFields,
    startedAt: Timestamp,
    endedAt: Timestamp,
    /** Agent who talked last, if any agent answered. */
    extension: Type.Optional(Extension),
    agents: Type.Array(AgentLeg, { maxItems: 256 }),
  }),
  tokens: ['pbx'] as const,
  stream: 'CALLS',
  publishedBy: ['ami-bridge'],
  consumedBy: ['crm-sync'],
  description: 'A call is over: its final outcome, once per call (Linkedid).',
});

export const CallMissed = defineContract({
  name: 'call.missed',
  kind: 'event',
  schema: Type.Object({
    ...legFields,
    type: Type.Literal('call.missed'),
    disposition: Disposition,
    /** Calls record in the CRM, when it was logged before this notification went out. */
    crmRecordId: Type.Optional(Type.String({ maxLength: 64 })),
  }),
  tokens: ['pbx', 'extension'] as const,
  stream: 'CALLS',
  publishedBy: ['crm-sync'],
  consumedBy: ['push-gateway'],
  description: 'A call rang this agent and nobody answered it (missed, abandoned or busy).',
});

export type CallRinging = Static<typeof CallRinging.schema>;
export type CallAnswered = Static<typeof CallAnswered.schema>;
export type CallHeld = Static<typeof CallHeld.schema>;
export type CallResumed = Static<typeof CallResumed.schema>;
export type CallTransferred = Static<typeof CallTransferred.schema>;
export type CallEnded = Static<typeof CallEnded.schema>;
export type CallCompleted = Static<typeof CallCompleted.schema>;
export type CallMissed = Static<typeof CallMissed.schema>;

/** Every per-leg event an agent console shows, as one discriminated union on `type`. */
export type CallLegEvent = CallRinging | CallAnswered | CallHeld | CallResumed | CallTransferred | CallEnded;
export type CallEvent = CallLegEvent | CallCompleted;

export const CallLegContracts = [CallRinging, CallAnswered, CallHeld, CallResumed, CallTransferred, CallEnded] as const;
export const CallContracts = [...CallLegContracts, CallCompleted, CallMissed] as const;
