import type { RetentionOverrides } from '@cti/bus';
import { env } from '@cti/config';
import { Buckets, Streams } from '@cti/contracts';

const days = (seconds: number) => `${seconds / 86_400} days`;
const mib = (bytes: number) => `${bytes / 1024 / 1024} MiB`;

/**
 * Retention of every stream and bucket. Every service reads the same variables, but only the owner
 * of a stream applies them, so set them once for the whole deployment.
 */
export const retentionFields = {
  callsMaxAgeSeconds: env.integer({ minimum: 60 })('STREAM_CALLS_MAX_AGE_SECONDS', {
    description: `how long call events are kept, in seconds (default ${days(Streams.CALLS.maxAgeSeconds)})`,
    default: Streams.CALLS.maxAgeSeconds,
  }),
  callsMaxBytes: env.integer({ minimum: 1_048_576 })('STREAM_CALLS_MAX_BYTES', {
    description: `size limit of the call event stream, in bytes; the oldest go first (default ${mib(Streams.CALLS.maxBytes)})`,
    default: Streams.CALLS.maxBytes,
  }),
  crmMaxAgeSeconds: env.integer({ minimum: 60 })('STREAM_CRM_MAX_AGE_SECONDS', {
    description: `how long CRM events (caller identified, call logged, summaries) are kept, in seconds (default ${days(Streams.CRM.maxAgeSeconds)})`,
    default: Streams.CRM.maxAgeSeconds,
  }),
  crmMaxBytes: env.integer({ minimum: 1_048_576 })('STREAM_CRM_MAX_BYTES', {
    description: `size limit of the CRM event stream, in bytes (default ${mib(Streams.CRM.maxBytes)})`,
    default: Streams.CRM.maxBytes,
  }),
  aiMaxAgeSeconds: env.integer({ minimum: 3600 })('STREAM_AI_MAX_AGE_SECONDS', {
    description: `how long AI webhook events (transcripts) are kept, in seconds; at least the 1-hour duplicate window (default ${days(Streams.AI.maxAgeSeconds)})`,
    default: Streams.AI.maxAgeSeconds,
  }),
  aiMaxBytes: env.integer({ minimum: 1_048_576 })('STREAM_AI_MAX_BYTES', {
    description: `size limit of the AI event stream, in bytes (default ${mib(Streams.AI.maxBytes)})`,
    default: Streams.AI.maxBytes,
  }),
  auditMaxAgeSeconds: env.integer({ minimum: 86_400 })('STREAM_AUDIT_MAX_AGE_SECONDS', {
    description: `how long the audit trail is kept, in seconds (default ${days(Streams.AUDIT.maxAgeSeconds)})`,
    default: Streams.AUDIT.maxAgeSeconds,
  }),
  auditMaxBytes: env.integer({ minimum: 1_048_576 })('STREAM_AUDIT_MAX_BYTES', {
    description: `size limit of the audit stream, in bytes (default ${mib(Streams.AUDIT.maxBytes)})`,
    default: Streams.AUDIT.maxBytes,
  }),
  dlqMaxAgeSeconds: env.integer({ minimum: 3600 })('STREAM_DLQ_MAX_AGE_SECONDS', {
    description: `how long dead letters are kept, in seconds (default ${days(Streams.DLQ.maxAgeSeconds)})`,
    default: Streams.DLQ.maxAgeSeconds,
  }),
  dlqMaxBytes: env.integer({ minimum: 1_048_576 })('STREAM_DLQ_MAX_BYTES', {
    description: `size limit of the dead-letter stream, in bytes (default ${mib(Streams.DLQ.maxBytes)})`,
    default: Streams.DLQ.maxBytes,
  }),
  phoneIndexMaxBytes: env.integer({ minimum: 1_048_576 })('KV_CRM_PHONE_INDEX_MAX_BYTES', {
    description: `size limit of crm-sync's phone index, in bytes (default ${mib(Buckets.CRM_PHONE_INDEX.maxBytes)})`,
    default: Buckets.CRM_PHONE_INDEX.maxBytes,
  }),
  aiAudioMaxAgeSeconds: env.integer({ minimum: 3600 })('OBJECT_AI_AUDIO_MAX_AGE_SECONDS', {
    description: `how long AI conversation audio is kept, in seconds (default ${days(Buckets.AI_AUDIO.maxAgeSeconds)})`,
    default: Buckets.AI_AUDIO.maxAgeSeconds,
  }),
  aiAudioMaxBytes: env.integer({ minimum: 1_048_576 })('OBJECT_AI_AUDIO_MAX_BYTES', {
    description: `size limit of the AI audio object store, in bytes (default ${mib(Buckets.AI_AUDIO.maxBytes)})`,
    default: Buckets.AI_AUDIO.maxBytes,
  }),
  jetstreamReplicas: env.integer({ minimum: 1, maximum: 5 })('JETSTREAM_REPLICAS', {
    description: 'replicas of each stream and bucket: 1 on a single NATS server, 3 on a three-node JetStream cluster',
    default: 1,
  }),
};

export interface RetentionSettings {
  callsMaxAgeSeconds: number;
  callsMaxBytes: number;
  crmMaxAgeSeconds: number;
  crmMaxBytes: number;
  aiMaxAgeSeconds: number;
  aiMaxBytes: number;
  auditMaxAgeSeconds: number;
  auditMaxBytes: number;
  dlqMaxAgeSeconds: number;
  dlqMaxBytes: number;
  phoneIndexMaxBytes: number;
  aiAudioMaxAgeSeconds: number;
  aiAudioMaxBytes: number;
  jetstreamReplicas: number;
}

/** Turns the retention settings into the overrides `ensureStreams` and the bucket helpers take. */
export function retentionOverrides(settings: RetentionSettings): RetentionOverrides {
  return {
    CALLS: { maxAgeSeconds: settings.callsMaxAgeSeconds, maxBytes: settings.callsMaxBytes },
    CRM: { maxAgeSeconds: settings.crmMaxAgeSeconds, maxBytes: settings.crmMaxBytes },
    AI: { maxAgeSeconds: settings.aiMaxAgeSeconds, maxBytes: settings.aiMaxBytes },
    AUDIT: { maxAgeSeconds: settings.auditMaxAgeSeconds, maxBytes: settings.auditMaxBytes },
    DLQ: { maxAgeSeconds: settings.dlqMaxAgeSeconds, maxBytes: settings.dlqMaxBytes },
    CRM_PHONE_INDEX: { maxBytes: settings.phoneIndexMaxBytes },
    AI_AUDIO: { maxAgeSeconds: settings.aiAudioMaxAgeSeconds, maxBytes: settings.aiAudioMaxBytes },
  };
}
