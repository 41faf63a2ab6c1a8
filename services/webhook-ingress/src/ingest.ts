import { createHash } from 'node:crypto';

import { BusErrorCode, type Publisher, type PublishResult } from '@cti/bus';
import {
  AiCallFailed,
  AiConversationAudio,
  AiConversationCompleted,
  AiWebhookUnknown,
  ContractErrorCode,
  type MessageContract,
} from '@cti/contracts';
import { CtiError } from '@cti/errors';
import type { Logger } from '@cti/logging';
import type { Static, TSchema } from 'typebox';

import type { AudioStore } from './audio-store.js';
import { WebhookError, WebhookErrorCode } from './errors.js';
import type { IngressMetrics } from './metrics.js';
import { audioEvent, deliveryId, eventTimeOf, normalizeCallFailure, normalizeTranscription, unknownEvent, type EventStamp } from './normalize.js';
import { primaryIssue, Validators, type PayloadValidator } from './payloads.js';

export interface IngestDependencies {
  publisher: Publisher;
  audioStore: AudioStore;
  /** False while NATS is unreachable: the delivery is then refused at once with 503. */
  isBusConnected: () => boolean;
  logger: Logger;
  metrics: IngressMetrics;
  /** Retry-After of a 503. */
  retryAfterSeconds: number;
  /** Largest serialized event the AI stream and the NATS connection accept. */
  maxEventBytes: number;
  now: () => number;
}

/** A verified delivery that is now durably stored, or was stored before. */
export interface IngestResult {
  outcome: 'stored' | 'duplicate';
  webhookType: string;
  /** Name of the published message, e.g. `ai.conversation.completed`. */
  message: string;
  conversationId: string | undefined;
  /** Stream sequence of the stored message (of the first copy, for a duplicate). */
  sequence: number;
}

const KNOWN_TYPES = new Set(['post_call_transcription', 'post_call_audio', 'call_initiation_failure']);

// Largest body an unknown webhook may have: the contract's limit on `ai.webhook.unknown` `body`.
const UNKNOWN_BODY_MAX = 900_000;

/**
 * Stores one verified post-call delivery: parses and validates it, normalizes it into its AI
 * event and publishes that with a message id made of type and conversation id, so JetStream
 * stores a repeated delivery once. Resolves only after the JetStream ack. Throws WebhookError:
 * 400 for a body that is not JSON or fails its schema, 413 for an event the stream cannot hold,
 * 503 (with Retry-After) when NATS or the object store does not respond.
 */
export async function ingestDelivery(rawBody: Buffer, deps: IngestDependencies): Promise<IngestResult> {
  const text = rawBody.toString('utf8');
  const body = parseJson(text);
  const envelope = validate(Validators.envelope, body, 'webhook');
  const webhookType = envelope.type;

  switch (webhookType) {
    case 'post_call_transcription':
      return ingestTranscription(body, deps);
    case 'post_call_audio':
      return ingestAudio(body, deps);
    case 'call_initiation_failure':
      return ingestCallFailure(body, deps);
    default:
      return ingestUnknown(webhookType, body, text, deps);
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new WebhookError(WebhookErrorCode.BODY_NOT_JSON, 'request body is not valid JSON', { cause: error });
  }
}

function validate<T>(validator: PayloadValidator<T>, value: unknown, what: string): T {
  if (validator.check(value)) {
    return value;
  }
  const issue = primaryIssue(validator.issues(value));
  throw new WebhookError(WebhookErrorCode.PAYLOAD_INVALID, `invalid ${what} payload: ${issue.path || '(root)'} ${issue.message}`, {
    path: issue.path,
  });
}

function stampOf(type: string, conversationId: string, eventTimestamp: number | string, deps: IngestDependencies): EventStamp {
  const eventAt = eventTimeOf(eventTimestamp);
  if (eventAt === undefined) {
    throw new WebhookError(WebhookErrorCode.PAYLOAD_INVALID, `invalid ${type} payload: /event_timestamp is not a unix timestamp`, {
      path: '/event_timestamp',
    });
  }
  return { id: deliveryId(type, conversationId), eventAt, receivedAt: new Date(deps.now()).toISOString() };
}

function ensureConnected(deps: IngestDependencies): void {
  if (!deps.isBusConnected()) {
    throw unavailable(deps, undefined);
  }
}

function unavailable(deps: IngestDependencies, cause: unknown): WebhookError {
  return new WebhookError(WebhookErrorCode.UNAVAILABLE, 'the event store is unavailable, retry later', {
    retryAfterSeconds: deps.retryAfterSeconds,
    ...(cause === undefined ? {} : { cause }),
  });
}

async function store<S extends TSchema>(
  contract: MessageContract<S>,
  message: Static<S>,
  webhookType: string,
  deps: IngestDependencies,
): Promise<PublishResult> {
  let result: PublishResult;
  try {
    result = await deps.publisher.publish(contract, message, { maxBytes: deps.maxEventBytes });
  } catch (error) {
    if (CtiError.is(error, ContractErrorCode.MESSAGE_INVALID)) {
      // The payload passed its schema, so a contract failure is a normalization bug.
      throw new WebhookError(WebhookErrorCode.INTERNAL, 'the delivery could not be converted into an event', { cause: error });
    }
    if (CtiError.is(error, BusErrorCode.MESSAGE_TOO_LARGE)) {
      const size = Number(error.details['size']);
      throw new WebhookError(WebhookErrorCode.EVENT_TOO_LARGE, `the ${webhookType} event is ${size} bytes, more than the ${deps.maxEventBytes} the event stream accepts`, {
        details: { size, limit: deps.maxEventBytes },
      });
    }
    throw unavailable(deps, error);
  }
  const label = KNOWN_TYPES.has(webhookType) ? webhookType : 'unknown';
  deps.metrics.deliveries.inc({ type: label, result: result.duplicate ? 'duplicate' : 'stored' });
  return result;
}

function resultOf(webhookType: string, message: string, conversationId: string | undefined, published: PublishResult): IngestResult {
  return { outcome: published.duplicate ? 'duplicate' : 'stored', webhookType, message, conversationId, sequence: published.sequence };
}

async function ingestTranscription(body: unknown, deps: IngestDependencies): Promise<IngestResult> {
  const payload = validate(Validators.postCallTranscription, body, 'post_call_transcription');
  const stamp = stampOf(payload.type, payload.data.conversation_id, payload.event_timestamp, deps);
  const event = normalizeTranscription(payload, stamp);
  ensureConnected(deps);
  const published = await store(AiConversationCompleted, event, payload.type, deps);
  return resultOf(payload.type, AiConversationCompleted.name, event.conversationId, published);
}

async function ingestCallFailure(body: unknown, deps: IngestDependencies): Promise<IngestResult> {
  const payload = validate(Validators.callInitiationFailure, body, 'call_initiation_failure');
  const stamp = stampOf(payload.type, payload.data.conversation_id, payload.event_timestamp, deps);
  const event = normalizeCallFailure(payload, stamp);
  ensureConnected(deps);
  const published = await store(AiCallFailed, event, payload.type, deps);
  return resultOf(payload.type, AiCallFailed.name, event.conversationId, published);
}

const BASE64_PATTERN = /^[A-Za-z0-9+/_-]*={0,2}$/;

function decodeAudio(text: string): Buffer {
  // Base64 broken into lines (MIME style) is still base64; strip the line breaks first.
  const compact = /\s/.test(text) ? text.replace(/\s+/g, '') : text;
  const audio = BASE64_PATTERN.test(compact) && compact.length % 4 !== 1 ? Buffer.from(compact, 'base64') : Buffer.alloc(0);
  if (audio.length === 0) {
    throw new WebhookError(WebhookErrorCode.PAYLOAD_INVALID, 'invalid post_call_audio payload: /data/full_audio is not base64 audio', {
      path: '/data/full_audio',
    });
  }
  return audio;
}

/**
 * Stores the audio in the object store, then publishes the reference. If the publish fails the
 * response is 503 and the object stays; the retry finds it by name and content and publishes
 * again, so a delivery is never half accepted.
 *
 * NOTE: an object written for a delivery that turns out to be a duplicate is kept. Objects are
 * named by content, so when two copies of one delivery race, both write the same object and the
 * stored event refers to it: removing it would lose accepted audio. Only a duplicate with other
 * content leaves an object no event refers to, until the bucket's retention ages it out.
 */
async function ingestAudio(body: unknown, deps: IngestDependencies): Promise<IngestResult> {
  const payload = validate(Validators.postCallAudio, body, 'post_call_audio');
  const stamp = stampOf(payload.type, payload.data.conversation_id, payload.event_timestamp, deps);
  const audio = decodeAudio(payload.data.full_audio);
  ensureConnected(deps);

  let saved: Awaited<ReturnType<AudioStore['save']>>;
  try {
    saved = await deps.audioStore.save(payload.data.conversation_id, audio);
  } catch (error) {
    throw unavailable(deps, error);
  }
  if (saved.created) {
    deps.metrics.audioBytes.inc(audio.length);
  }

  const conversation = { conversationId: payload.data.conversation_id, agentId: payload.data.agent_id };
  const published = await store(AiConversationAudio, audioEvent(conversation, saved.object, stamp), payload.type, deps);
  if (published.duplicate && saved.created) {
    deps.logger.info({ conversationId: conversation.conversationId, object: saved.object.name }, 'audio of a duplicate delivery kept until retention');
  }
  return resultOf(payload.type, AiConversationAudio.name, conversation.conversationId, published);
}

/**
 * Stores a verified webhook of a type this version does not process, body and all. It is
 * deduplicated by type and conversation id when it has one, otherwise by a hash of its body.
 */
async function ingestUnknown(webhookType: string, body: unknown, text: string, deps: IngestDependencies): Promise<IngestResult> {
  const data = (body as { data?: unknown }).data;
  const candidate = typeof data === 'object' && data !== null ? (data as { conversation_id?: unknown }).conversation_id : undefined;
  const conversationId = typeof candidate === 'string' && candidate !== '' && candidate.length <= 128 ? candidate : undefined;
  const key = conversationId ?? `body-sha256.${createHash('sha256').update(text).digest('hex')}`;

  if (text.length > UNKNOWN_BODY_MAX) {
    throw new WebhookError(WebhookErrorCode.EVENT_TOO_LARGE, `the ${webhookType} webhook body is longer than the ${UNKNOWN_BODY_MAX} characters kept for unknown types`, {
      details: { size: text.length, limit: UNKNOWN_BODY_MAX },
    });
  }
  ensureConnected(deps);
  const event = unknownEvent(webhookType, text, { id: deliveryId(webhookType, key), receivedAt: new Date(deps.now()).toISOString() });
  const published = await store(AiWebhookUnknown, event, webhookType, deps);
  if (!published.duplicate) {
    deps.logger.warn({ webhookType, conversationId, sequence: published.sequence }, 'webhook of unknown type stored');
  }
  return resultOf(webhookType, AiWebhookUnknown.name, conversationId, published);
}
