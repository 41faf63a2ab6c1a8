import { createHash } from 'node:crypto';

import type { AiCallFailed, AiConversationAudio, AiConversationCompleted, AiWebhookUnknown } from '@cti/contracts';

import type { CallInitiationFailurePayload, PostCallTranscriptionPayload } from './payloads.js';

/**
 * Dynamic variable that carries the Asterisk Linkedid through the AI conversation. The
 * conversation-init response sets it, and the post-call transcript returns it.
 */
export const PBX_LINKEDID_VARIABLE = 'pbx_linkedid';

/** Fields every normalized event shares. */
export interface EventStamp {
  /** Deterministic message id; the JetStream message id that deduplicates deliveries. */
  id: string;
  eventAt: string;
  receivedAt: string;
}

type Scalar = string | number | boolean | null;

const MESSAGE_ID_MAX = 128;
// Characters kept verbatim in a message id. The id travels in the Nats-Msg-Id header, where a CR
// or LF from a signed but unexpected `type` would break the header block, so any other character
// makes the id hashed.
const MESSAGE_ID_SAFE = /^[A-Za-z0-9._:-]+$/;

/**
 * Builds the message id of a delivery from its type and conversation id, the pair that
 * identifies a delivery and its retries in ElevenLabs' webhook documentation. Ids longer than
 * the contract allows, or with characters outside letters, digits and `._:-`, are hashed.
 */
export function deliveryId(type: string, key: string): string {
  const id = `elevenlabs.${type}.${key}`;
  if (id.length <= MESSAGE_ID_MAX && MESSAGE_ID_SAFE.test(id)) {
    return id;
  }
  return `elevenlabs.sha256.${createHash('sha256').update(`${type}\n${key}`).digest('hex')}`;
}

/**
 * Converts `event_timestamp` (unix seconds as a number or a numeric string, or an ISO 8601
 * string) to an ISO timestamp. Returns undefined for anything else.
 */
export function eventTimeOf(value: number | string): string | undefined {
  let milliseconds: number;
  if (typeof value === 'number') {
    milliseconds = value * 1000;
  } else if (/^\d+(\.\d+)?$/.test(value.trim())) {
    milliseconds = Number(value.trim()) * 1000;
  } else {
    milliseconds = Date.parse(value);
  }
  return isoTime(milliseconds);
}

function isoTime(milliseconds: number): string | undefined {
  // Date covers ±8.64e15 ms; anything outside it, or NaN, is not a time.
  if (!Number.isFinite(milliseconds) || milliseconds < 0 || milliseconds > 8.64e15) {
    return undefined;
  }
  return new Date(milliseconds).toISOString();
}

function truncate(value: string, maxCodePoints: number): string {
  if (value.length <= maxCodePoints) {
    return value;
  }
  return Array.from(value).slice(0, maxCodePoints).join('');
}

/** Returns a non-empty string of at most `maxLength` characters, or undefined. Numbers become text. */
function textOf(value: unknown, maxLength: number): string | undefined {
  const text = typeof value === 'string' ? value.trim() : typeof value === 'number' && Number.isFinite(value) ? String(value) : undefined;
  return text === undefined || text === '' || text.length > maxLength ? undefined : text;
}

function isScalar(value: unknown): value is Scalar {
  return value === null || typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
}

function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}

/**
 * Picks the customer's and the agent's number. `external_number` is the far end in both
 * directions: the caller of an inbound call, the callee of an outbound one. Without a
 * `phone_call` block, the system dynamic variables stand in: for an inbound call
 * `system__caller_id` is the customer, for an outbound call `system__called_number` is.
 */
function numbersOf(
  direction: 'inbound' | 'outbound' | undefined,
  phone: { external_number?: string | null; agent_number?: string | null } | undefined,
  variables: Record<string, unknown>,
): { externalNumber?: string; agentNumber?: string } {
  const callerId = textOf(variables['system__caller_id'], 64);
  const calledNumber = textOf(variables['system__called_number'], 64);
  let externalFallback: string | undefined;
  let agentFallback: string | undefined;
  if (direction === 'inbound') {
    externalFallback = callerId;
    agentFallback = calledNumber;
  } else if (direction === 'outbound') {
    externalFallback = calledNumber;
    agentFallback = callerId;
  }
  return {
    ...optional('externalNumber', textOf(phone?.external_number, 64) ?? externalFallback),
    ...optional('agentNumber', textOf(phone?.agent_number, 64) ?? agentFallback),
  };
}

function scalarRecord(source: Record<string, unknown>): Record<string, Scalar> {
  const result: Record<string, Scalar> = {};
  for (const [key, value] of Object.entries(source)) {
    if (isScalar(value)) {
      result[key] = value;
    }
  }
  return result;
}

function dataCollectionOf(results: Record<string, { value?: unknown }> | null | undefined): Record<string, Scalar> | undefined {
  if (results === undefined || results === null) {
    return undefined;
  }
  const collected: Record<string, Scalar> = {};
  for (const [id, result] of Object.entries(results)) {
    const value = result.value;
    if (value === undefined) {
      continue;
    }
    // Structured values (a data collection with an object schema) are kept as JSON text, so the
    // contract can stay scalar without dropping what the agent collected.
    collected[id] = isScalar(value) ? value : JSON.stringify(value);
  }
  return collected;
}

const SUCCESS_VALUES = new Set(['success', 'failure', 'unknown']);

export function normalizeTranscription(payload: PostCallTranscriptionPayload, stamp: EventStamp): AiConversationCompleted {
  const { data } = payload;
  const phone = data.metadata?.phone_call ?? undefined;
  const variables = data.conversation_initiation_client_data?.dynamic_variables ?? {};
  const reportedDirection = phone?.direction;
  const direction = reportedDirection === 'inbound' || reportedDirection === 'outbound' ? reportedDirection : undefined;
  const analysis = data.analysis ?? undefined;
  const successful = analysis?.call_successful ?? 'unknown';
  const startedAt = data.metadata?.start_time_unix_secs;
  const title = textOf(analysis?.call_summary_title, Number.MAX_SAFE_INTEGER);
  const dataCollection = dataCollectionOf(analysis?.data_collection_results);

  const transcript: AiConversationCompleted['transcript'] = [];
  for (const entry of data.transcript) {
    if ((entry.role === 'agent' || entry.role === 'user') && typeof entry.message === 'string' && entry.message !== '') {
      transcript.push({ role: entry.role, message: entry.message, timeInCallSecs: entry.time_in_call_secs });
    }
  }

  return {
    v: 1,
    id: stamp.id,
    type: 'ai.conversation.completed',
    conversationId: data.conversation_id,
    agentId: data.agent_id,
    eventAt: stamp.eventAt,
    receivedAt: stamp.receivedAt,
    ...(direction === undefined ? {} : { direction }),
    ...numbersOf(direction, phone, variables),
    ...optional('callSid', textOf(phone?.call_sid, 256) ?? textOf(variables['system__call_sid'], 256)),
    ...optional('pbxLinkedid', textOf(variables[PBX_LINKEDID_VARIABLE], 64)),
    ...optional('startedAt', startedAt === undefined || startedAt === null ? undefined : isoTime(startedAt * 1000)),
    ...optional('durationSeconds', data.metadata?.call_duration_secs ?? undefined),
    ...optional('title', title === undefined ? undefined : truncate(title, 512)),
    ...optional('summary', textOf(analysis?.transcript_summary, Number.MAX_SAFE_INTEGER)),
    successful: SUCCESS_VALUES.has(successful) ? (successful as AiConversationCompleted['successful']) : 'unknown',
    ...optional('callResult', textOf(phone?.call_result, 32)),
    ...optional('dataCollection', dataCollection),
    ...optional('hasAudio', typeof data.has_audio === 'boolean' ? data.has_audio : undefined),
    transcript,
    dynamicVariables: scalarRecord(variables),
  };
}

/** Reads a SIP status code (100-699) from a number or a numeric string. */
function sipStatusOf(value: unknown): number | undefined {
  const number = typeof value === 'number' ? value : typeof value === 'string' && /^\d{3}$/.test(value.trim()) ? Number(value) : NaN;
  return Number.isInteger(number) && number >= 100 && number <= 699 ? number : undefined;
}

/**
 * Normalizes call_initiation_failure. For `metadata.type` `sip` the provider fields are
 * `from_number`, `to_number`, `sip_status_code` and `call_sid`; for `twilio` they are Twilio's
 * status callback fields `From`, `To`, `SipResponseCode` and `CallSid`.
 */
export function normalizeCallFailure(payload: CallInitiationFailurePayload, stamp: EventStamp): AiCallFailed {
  const { data } = payload;
  const providerType = textOf(data.metadata?.type, 32);
  const body = data.metadata?.body ?? {};
  const twilio = providerType === 'twilio';

  return {
    v: 1,
    id: stamp.id,
    type: 'ai.call.failed',
    conversationId: data.conversation_id,
    agentId: data.agent_id,
    eventAt: stamp.eventAt,
    receivedAt: stamp.receivedAt,
    failureReason: data.failure_reason,
    ...optional('fromNumber', textOf(twilio ? body['From'] : body['from_number'], 64)),
    ...optional('toNumber', textOf(twilio ? body['To'] : body['to_number'], 64)),
    ...optional('sipStatusCode', sipStatusOf(twilio ? body['SipResponseCode'] : body['sip_status_code'])),
    ...optional('providerType', providerType),
    ...optional('callSid', textOf(twilio ? body['CallSid'] : body['call_sid'], 256)),
  };
}

export function audioEvent(
  conversation: { conversationId: string; agentId: string },
  object: AiConversationAudio['object'],
  stamp: EventStamp,
): AiConversationAudio {
  return {
    v: 1,
    id: stamp.id,
    type: 'ai.conversation.audio',
    conversationId: conversation.conversationId,
    agentId: conversation.agentId,
    eventAt: stamp.eventAt,
    receivedAt: stamp.receivedAt,
    object,
  };
}

export function unknownEvent(webhookType: string, body: string, stamp: Omit<EventStamp, 'eventAt'>): AiWebhookUnknown {
  return { v: 1, id: stamp.id, type: 'ai.webhook.unknown', webhookType, receivedAt: stamp.receivedAt, body };
}
