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
  callLogMaxBytes: env.integer({ minimum: 1_048_576 })('KV_CRM_CALL_LOG_MAX_BYTES', {
    description: `size limit of crm-sync's call log, in bytes; its age limit is CRM_CALL_LOG_RETENTION_DAYS (default ${mib(Buckets.CRM_CALL_LOG.maxBytes)})`,
    default: Buckets.CRM_CALL_LOG.maxBytes,
  }),
  originateRequestsMaxBytes: env.integer({ minimum: 1_048_576 })('KV_PBX_ORIGINATE_REQUESTS_MAX_BYTES', {
    description: `size limit of ami-bridge's click-to-dial request ids, in bytes; their age limit is ORIGINATE_IDEMPOTENCY_SECONDS (default ${mib(Buckets.PBX_ORIGINATE_REQUESTS.maxBytes)})`,
    default: Buckets.PBX_ORIGINATE_REQUESTS.maxBytes,
  }),
  aiAudioMaxAgeSeconds: env.integer({ minimum: 3600 })('OBJECT_AI_AUDIO_MAX_AGE_SECONDS', {
    description: `how long AI conversation audio is kept, in seconds; at most STREAM_AI_MAX_AGE_SECONDS (default ${days(Buckets.AI_AUDIO.maxAgeSeconds)})`,
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
  callLogMaxBytes: number;
  originateRequestsMaxBytes: number;
  aiAudioMaxAgeSeconds: number;
  aiAudioMaxBytes: number;
  jetstreamReplicas: number;
}

/**
 * Rule of every config with the retention settings: conversation audio may not outlive the AI
 * events. `cti erase` finds a caller's recordings through the conversations in the AI stream, so a
 * recording whose conversation has aged out could no longer be found by number.
 */
export function retentionRule(config: Pick<RetentionSettings, 'aiAudioMaxAgeSeconds' | 'aiMaxAgeSeconds'>): string | undefined {
  if (config.aiAudioMaxAgeSeconds > config.aiMaxAgeSeconds) {
    return `OBJECT_AI_AUDIO_MAX_AGE_SECONDS (${config.aiAudioMaxAgeSeconds} s) is longer than STREAM_AI_MAX_AGE_SECONDS (${config.aiMaxAgeSeconds} s): keep audio no longer than the AI events, or cti erase cannot find older recordings by number`;
  }
  return undefined;
}

/**
 * Turns the retention settings into the overrides `ensureStreams` and the bucket helpers take.
 * The call log and the click-to-dial ids get only a size: their age belongs to the service that
 * writes them (CRM_CALL_LOG_RETENTION_DAYS, ORIGINATE_IDEMPOTENCY_SECONDS).
 */
export function retentionOverrides(settings: RetentionSettings): RetentionOverrides {
  return {
    CALLS: { maxAgeSeconds: settings.callsMaxAgeSeconds, maxBytes: settings.callsMaxBytes },
    CRM: { maxAgeSeconds: settings.crmMaxAgeSeconds, maxBytes: settings.crmMaxBytes },
    AI: { maxAgeSeconds: settings.aiMaxAgeSeconds, maxBytes: settings.aiMaxBytes },
    AUDIT: { maxAgeSeconds: settings.auditMaxAgeSeconds, maxBytes: settings.auditMaxBytes },
    DLQ: { maxAgeSeconds: settings.dlqMaxAgeSeconds, maxBytes: settings.dlqMaxBytes },
    CRM_PHONE_INDEX: { maxBytes: settings.phoneIndexMaxBytes },
    CRM_CALL_LOG: { maxBytes: settings.callLogMaxBytes },
    PBX_ORIGINATE_REQUESTS: { maxBytes: settings.originateRequestsMaxBytes },
    AI_AUDIO: { maxAgeSeconds: settings.aiAudioMaxAgeSeconds, maxBytes: settings.aiAudioMaxBytes },
  };
}
