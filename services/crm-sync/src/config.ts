import { defineConfig, env, loggingFields, natsAuthRule, natsFields, phoneHashKeyRule, type ConfigOf } from '@cti/config';
import { opsFields, retentionFields, retentionRule } from '@cti/runtime';
import { phoneFields, suitecrmFields, suitecrmRules } from '@cti/suitecrm';

const indexFields = {
  indexSyncIntervalSeconds: env.integer({ minimum: 5 })('CRM_INDEX_SYNC_INTERVAL_SECONDS', {
    description: 'seconds between incremental syncs of the phone index (records changed since the last sync, by date_modified)',
    default: 60,
  }),
  indexFullSyncIntervalHours: env.number({ minimum: 0.01 })('CRM_INDEX_FULL_SYNC_INTERVAL_HOURS', {
    description: 'hours between full syncs of the phone index, which also drop records deleted in SuiteCRM',
    default: 24,
  }),
  indexPageSize: env.integer({ minimum: 10, maximum: 1000 })('CRM_INDEX_PAGE_SIZE', {
    description: 'records per SuiteCRM request while syncing the phone index',
    default: 200,
  }),
};

const lookupFields = {
  lookupCacheTtlSeconds: env.integer({ minimum: 0 })('CRM_LOOKUP_CACHE_TTL_SECONDS', {
    description: 'seconds a live lookup result (a match or no match) is reused; an index change drops it earlier',
    default: 300,
  }),
  lookupCacheMaxEntries: env.integer({ minimum: 1 })('CRM_LOOKUP_CACHE_MAX_ENTRIES', {
    description: 'live lookup results kept at most; the oldest is dropped first',
    default: 10_000,
  }),
  liveLookupTimeoutMs: env.integer({ minimum: 50 })('CRM_LIVE_LOOKUP_TIMEOUT_MS', {
    description: 'time a live SuiteCRM query may take before the lookup returns "unavailable", in ms',
    default: 2000,
  }),
  ringingMaxAgeSeconds: env.integer({ minimum: 1 })('CRM_RINGING_MAX_AGE_SECONDS', {
    description: 'age in seconds after which a call.ringing event is not looked up, because its screen pop would come too late',
    default: 60,
  }),
};

const callFields = {
  extensionUsers: env.list()('CRM_EXTENSION_USERS', {
    description: 'extension=SuiteCRM user id pairs, comma-separated (101=<uuid>,102=<uuid>); extensions not listed are looked up among active Users by phone_work',
    optional: true,
  }),
  userCacheSeconds: env.integer({ minimum: 0 })('CRM_USER_CACHE_SECONDS', {
    description: 'seconds an extension-to-user result from SuiteCRM is reused',
    default: 600,
  }),
  logInternalCalls: env.boolean()('CRM_LOG_INTERNAL_CALLS', {
    description: 'also log calls between two extensions as Calls records',
    default: false,
  }),
  callConcurrency: env.integer({ minimum: 1, maximum: 64 })('CRM_CALL_CONCURRENCY', {
    description: 'calls (call.completed messages) logged at once per replica',
    default: 4,
  }),
  maxDeliveries: env.integer({ minimum: 1 })('CRM_MAX_DELIVERIES', {
    description: 'deliveries of a message before it goes to the dead-letter stream; with the default backoff, 20 deliveries cover about 75 minutes of CRM outage',
    default: 20,
  }),
  retryBackoffMs: env.list()('CRM_RETRY_BACKOFF_MS', {
    description: 'comma-separated delays before each redelivery after a failure, in ms; the last one repeats',
    default: ['1000', '5000', '15000', '60000', '300000'],
  }),
  ackWaitMs: env.integer({ minimum: 1000 })('CRM_ACK_WAIT_MS', {
    description: 'time NATS waits for a handler before it redelivers the message, in ms',
    default: 60_000,
  }),
  callLogRetentionDays: env.integer({ minimum: 1 })('CRM_CALL_LOG_RETENTION_DAYS', {
    description: 'days the record id of a logged PBX call is kept for matching AI conversations to it',
    default: 7,
  }),
};

const aiFields = {
  aiCallIdVariables: env.list()('CRM_AI_CALL_ID_VARIABLES', {
    description: 'dynamic variables of an AI conversation that may carry the Asterisk Linkedid, tried in order (the SIP header the trunk sends, e.g. X-CALL-ID, arrives as system__call_sid)',
    default: ['pbx_linkedid', 'system__call_sid'],
  }),
  aiMatchWindowSeconds: env.integer({ minimum: 1 })('CRM_AI_MATCH_WINDOW_SECONDS', {
    description: 'an AI conversation without a call id matches a PBX call with the same external number that overlaps it, give or take this many seconds',
    default: 120,
  }),
  aiCorrelationGraceSeconds: env.integer({ minimum: 0 })('CRM_AI_CORRELATION_GRACE_SECONDS', {
    description: 'seconds after its end an AI phone conversation waits for its PBX call to be logged before it gets a Calls record of its own',
    default: 180,
  }),
  aiNoteMaxBytes: env.integer({ minimum: 1000, maximum: 65_000 })('CRM_AI_NOTE_MAX_BYTES', {
    description: 'largest part of a transcript stored in one Note, in bytes; longer transcripts are split into linked Notes',
    default: 60_000,
  }),
  aiSummaryField: env.string()('CRM_AI_SUMMARY_FIELD', { description: 'custom Calls field for the AI summary, used when SuiteCRM has it', default: 'ai_summary_c' }),
  aiVerdictField: env.string()('CRM_AI_VERDICT_FIELD', { description: 'custom Calls field for the AI success verdict, used when SuiteCRM has it', default: 'ai_success_c' }),
  aiConversationField: env.string()('CRM_AI_CONVERSATION_FIELD', {
    description: 'custom Calls field for the ElevenLabs conversation id, used when SuiteCRM has it',
    default: 'ai_conversation_id_c',
  }),
  aiAssignedUserId: env.string()('CRM_AI_ASSIGNED_USER_ID', {
    description: 'SuiteCRM user that AI calls without a PBX call are assigned to',
    optional: true,
  }),
};

function extensionUsersRule(config: { extensionUsers: string[] | undefined }): string | undefined {
  const bad = (config.extensionUsers ?? []).find((pair) => !/^[A-Za-z0-9_-]+=[^=\s]+$/.test(pair));
  return bad === undefined ? undefined : `CRM_EXTENSION_USERS has an entry that is not extension=user-id: ${bad.slice(0, 40)}`;
}

function backoffRule(config: { retryBackoffMs: string[] }): string | undefined {
  const bad = config.retryBackoffMs.find((value) => !/^\d+$/.test(value));
  return bad === undefined ? undefined : `CRM_RETRY_BACKOFF_MS must list whole numbers of ms, got ${bad.slice(0, 20)}`;
}

export const CrmSyncConfig = defineConfig(
  'crm-sync',
  {
    ...natsFields,
    ...loggingFields,
    ...opsFields,
    ...retentionFields,
    ...suitecrmFields,
    ...phoneFields,
    ...indexFields,
    ...lookupFields,
    ...callFields,
    ...aiFields,
  },
  [natsAuthRule, phoneHashKeyRule, retentionRule, suitecrmRules, extensionUsersRule, backoffRule],
);

export type CrmSyncSettings = ConfigOf<typeof CrmSyncConfig.fields>;
