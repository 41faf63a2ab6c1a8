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
  CRM_SYNC_CALLS: {
    durable: 'crm-sync-calls',
    stream: 'CALLS',
    filterSubject: 'call.>',
    service: 'crm-sync',
    description: 'Call events for the screen-pop lookup, missed-call detection and the Calls record',
  },
  CRM_SYNC_AI: {
    durable: 'crm-sync-ai',
    stream: 'AI',
    filterSubject: 'ai.>',
    service: 'crm-sync',
    description: 'AI transcripts, audio references and failed AI calls, attached to the CRM',
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
