/**
 * JetStream streams, KV buckets and object stores, with their default retention.
 *
 * The defaults are starting points for a contact centre of a few hundred agents, not measured
 * limits. Each one can be overridden from config (see `@cti/bus` `streamConfigFromEnv`).
 */
export const StreamNames = ['CALLS', 'CRM', 'AI', 'AUDIT', 'DLQ'] as const;
export type StreamName = (typeof StreamNames)[number];

export interface StreamSpec {
  name: StreamName;
  subjects: string[];
  description: string;
  /** Default maximum message age. */
  maxAgeSeconds: number;
  /** Default maximum stream size. */
  maxBytes: number;
  /** Largest single message the stream accepts. */
  maxMessageBytes: number;
  /** Window in which a repeated message id is stored only once. */
  duplicateWindowSeconds: number;
  /**
   * Republish every stored message under `<LIVE_SUBJECT_PREFIX>.<subject>` with its stream
   * sequence in the `Nats-Sequence` header. push-gateway subscribes to these copies with core
   * NATS, per extension, so each frame it sends carries the sequence a reconnecting client
   * resumes from, without a JetStream consumer per agent.
   */
  republishLive?: boolean;
}

/** Prefix of the live copies of stream messages (see `StreamSpec.republishLive`). */
export const LIVE_SUBJECT_PREFIX = 'live';

const DAY = 86_400;
const MIB = 1024 * 1024;

export const Streams: Record<StreamName, StreamSpec> = {
  CALLS: {
    name: 'CALLS',
    subjects: ['call.>', 'pbx.>'],
    description: 'Normalized call events from every PBX, and click-to-dial outcomes',
    maxAgeSeconds: 14 * DAY,
    maxBytes: 2048 * MIB,
    maxMessageBytes: 64 * 1024,
    // Two ami-bridge replicas on one PBX publish the same event ids; the window must cover the
    // time one replica can lag behind the other, including a resync after a reconnect.
    duplicateWindowSeconds: 10 * 60,
    republishLive: true,
  },
  CRM: {
    name: 'CRM',
    subjects: ['crm.>'],
    description: 'Caller identification, call records logged in the CRM and AI summaries attached to them',
    maxAgeSeconds: 14 * DAY,
    maxBytes: 1024 * MIB,
    maxMessageBytes: 256 * 1024,
    duplicateWindowSeconds: 10 * 60,
    republishLive: true,
  },
  AI: {
    name: 'AI',
    subjects: ['ai.>'],
    description: 'Verified ElevenLabs webhooks: transcripts, audio references, failed call set-ups',
    maxAgeSeconds: 14 * DAY,
    maxBytes: 2048 * MIB,
    maxMessageBytes: 1024 * 1024,
    // Must outlast the webhook timestamp window (30 minutes back, 5 forward by default), so a
    // replayed delivery inside that window is still recognised as a duplicate.
    duplicateWindowSeconds: 60 * 60,
  },
  AUDIT: {
    name: 'AUDIT',
    subjects: ['audit.>'],
    description: 'Audit trail: authentication, tokens, API keys, screen pops, replays, erasures',
    maxAgeSeconds: 365 * DAY,
    maxBytes: 4096 * MIB,
    maxMessageBytes: 16 * 1024,
    duplicateWindowSeconds: 2 * 60,
  },
  DLQ: {
    name: 'DLQ',
    subjects: ['dlq.>'],
    description: 'Dead letters: messages a consumer gave up on, with the last error and delivery count',
    maxAgeSeconds: 30 * DAY,
    maxBytes: 1024 * MIB,
    maxMessageBytes: 2 * 1024 * 1024,
    duplicateWindowSeconds: 2 * 60,
  },
};

export interface BucketSpec {
  name: string;
  kind: 'kv' | 'object';
  description: string;
  maxAgeSeconds: number;
  maxBytes: number;
}

export const Buckets = {
  CRM_PHONE_INDEX: {
    name: 'crm_phone_index',
    kind: 'kv',
    description: 'crm-sync phone index: normalized number to CRM records',
    // Entries are rewritten by every full sync, so no age limit: a stale entry is replaced, not aged out.
    maxAgeSeconds: 0,
    maxBytes: 512 * MIB,
  },
  CRM_CALL_LOG: {
    name: 'crm_call_log',
    kind: 'kv',
    description: 'crm-sync: the Calls record of each logged PBX call, by call, Linkedid and external number, for matching AI conversations',
    // Only recent calls need matching; crm-sync sets the key age from CRM_CALL_LOG_RETENTION_DAYS.
    maxAgeSeconds: 7 * DAY,
    maxBytes: 256 * MIB,
  },
  PBX_ORIGINATE_REQUESTS: {
    name: 'pbx_originate_requests',
    kind: 'kv',
    description: 'ami-bridge click-to-dial request ids and their replies, so a repeated request places no second call',
    // The default; ami-bridge sets the age from ORIGINATE_IDEMPOTENCY_SECONDS when it creates the bucket.
    maxAgeSeconds: DAY,
    maxBytes: 64 * MIB,
  },
  AI_AUDIO: {
    name: 'ai_audio',
    kind: 'object',
    description: 'Audio of AI conversations (MP3), referenced by ai.conversation.audio events',
    // No longer than the AI stream: erasure by number finds a recording through its conversation.
    maxAgeSeconds: 14 * DAY,
    maxBytes: 8192 * MIB,
  },
} as const satisfies Record<string, BucketSpec>;
