import type { ServiceName } from './services.js';
import type { Buckets, StreamName } from './streams.js';

/**
 * Access declarations: the durable JetStream consumers of each service and the KV buckets and
 * object stores it uses. The NATS permissions in `deploy/nats/` are generated from these and the
 * message contracts, so the server denies a service a consumer or bucket not listed here.
 */
export interface DurableConsumerSpec {
  /** Durable name, shared by every replica of the service so they split the work. */
  durable: string;
  stream: StreamName;
  /** The one subject filter of the consumer (nats-server 2.9 takes a single filter). */
  filterSubject: string;
  service: ServiceName;
  description: string;
}

export const Consumers = {
  CRM_SYNC_RINGING: {
    durable: 'crm-sync-ringing',
    stream: 'CALLS',
    filterSubject: 'call.ringing.*.*',
    service: 'crm-sync',
    description: 'Ringing agent legs, for the screen-pop lookup',
  },
  CRM_SYNC_CALLS: {
    durable: 'crm-sync-calls',
    stream: 'CALLS',
    filterSubject: 'call.completed.*',
    service: 'crm-sync',
    description: 'Finished calls, logged once each as a Calls record; missed calls notify their agents',
  },
  CRM_SYNC_AI: {
    durable: 'crm-sync-ai',
    stream: 'AI',
    filterSubject: 'ai.conversation.completed',
    service: 'crm-sync',
    description: 'AI transcripts and summaries, attached to the Calls record of their PBX call',
  },
  CRM_SYNC_AI_FAILED: {
    durable: 'crm-sync-ai-failed',
    stream: 'AI',
    filterSubject: 'ai.call.failed',
    service: 'crm-sync',
    description: 'Outbound AI calls that could not be set up, logged as Not Held calls',
  },
} as const satisfies Record<string, DurableConsumerSpec>;

/**
 * The service that creates each stream and applies its retention settings. Other services only
 * create AUDIT and DLQ when they are missing, so two services with different settings never
 * rewrite each other's limits. AUDIT and DLQ belong to the setup job, `cti streams apply`.
 */
export const StreamOwners: Record<StreamName, ServiceName> = {
  CALLS: 'ami-bridge',
  CRM: 'crm-sync',
  AI: 'webhook-ingress',
  AUDIT: 'cli',
  DLQ: 'cli',
};

/** Streams a service owns, to pass to `connectBus`. */
export function streamsOwnedBy(service: ServiceName): StreamName[] {
  return (Object.keys(StreamOwners) as StreamName[]).filter((stream) => StreamOwners[stream] === service);
}

export type BucketKey = keyof typeof Buckets;

export interface BucketAccessSpec {
  /** Services that create the bucket, apply its retention and write to it. */
  writers: readonly ServiceName[];
  /** Services that only read from it. */
  readers: readonly ServiceName[];
}

export const BucketAccess: Record<BucketKey, BucketAccessSpec> = {
  CRM_PHONE_INDEX: { writers: ['crm-sync'], readers: [] },
  CRM_CALL_LOG: { writers: ['crm-sync'], readers: [] },
  PBX_ORIGINATE_REQUESTS: { writers: ['ami-bridge'], readers: [] },
  AI_AUDIO: { writers: ['webhook-ingress'], readers: ['crm-sync'] },
};

/** Durable consumers a service owns. */
export function consumersOf(service: ServiceName): DurableConsumerSpec[] {
  return Object.values(Consumers).filter((consumer) => consumer.service === service);
}

/**
 * Inbox prefix of a service's connection. Replies, publish acknowledgements and pull-consumer
 * deliveries all arrive on inboxes, so each service subscribes only under its own prefix: a
 * service allowed `_INBOX.>` could read the JetStream deliveries of every other service.
 */
export function inboxPrefix(service: ServiceName): string {
  return `_INBOX.${service}`;
}
