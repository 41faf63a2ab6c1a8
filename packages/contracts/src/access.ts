import { assertSubjectToken } from './contract.js';
import type { ServiceName } from './services.js';
import { LIVE_SUBJECT_PREFIX, type Buckets, type StreamName } from './streams.js';

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
  /**
   * Services that list or watch its keys. Those need to create push consumers on the bucket's
   * stream, and a push consumer may deliver to any subject it names, so only they get that right.
   */
  watchers?: readonly ServiceName[];
}

export const BucketAccess: Record<BucketKey, BucketAccessSpec> = {
  CRM_PHONE_INDEX: { writers: ['crm-sync'], readers: [], watchers: ['crm-sync'] },
  CRM_CALL_LOG: { writers: ['crm-sync'], readers: [], watchers: ['crm-sync'] },
  PBX_ORIGINATE_REQUESTS: { writers: ['ami-bridge'], readers: [] },
  // Only webhook-ingress touches the audio: crm-sync attaches transcripts, not recordings, and
  // `cti erase` removes objects as the cli user.
  AI_AUDIO: { writers: ['webhook-ingress'], readers: [] },
};

/** Subject tokens that a stream reader fills in for each agent extension. */
export interface ExtensionTokens {
  pbx: string;
  extension: string;
}

/**
 * A service that reads a stream per agent extension, without a durable consumer: it subscribes to
 * the live copies of the extension's subjects (see `StreamSpec.republishLive`), reads stored
 * messages on them by subject and sequence (STREAM.MSG.GET) and the stream's state (STREAM.INFO).
 */
export interface StreamReaderSpec {
  service: ServiceName;
  stream: StreamName;
  /** Subjects of one extension, with `{pbx}` and `{extension}` filled in per agent. */
  extensionSubjects: readonly string[];
  /**
   * Filters of the short-lived consumers the service creates, named by the service, without
   * acknowledgements and deleted after use; `{pbx}` and `{extension}` as above.
   */
  ephemeralFilters: readonly string[];
  description: string;
}

export const StreamReaders = {
  PUSH_GATEWAY_CALLS: {
    service: 'push-gateway',
    stream: 'CALLS',
    extensionSubjects: ['call.*.{pbx}.{extension}', 'pbx.originate.result.{pbx}.{extension}'],
    ephemeralFilters: ['call.missed.{pbx}.{extension}'],
    description: "An agent's call events and click-to-dial outcomes: live, replayed after a reconnect, and the missed calls of a snapshot",
  },
  PUSH_GATEWAY_CRM: {
    service: 'push-gateway',
    stream: 'CRM',
    extensionSubjects: ['crm.*.*.{pbx}.{extension}'],
    ephemeralFilters: [],
    description: "An agent's screen pops and AI summaries: live, replayed after a reconnect, and the caller of a snapshot's call",
  },
} as const satisfies Record<string, StreamReaderSpec>;

/** Stream reads a service makes per agent extension. */
export function readersOf(service: ServiceName): StreamReaderSpec[] {
  return Object.values(StreamReaders).filter((reader) => reader.service === service);
}

/** Fills `{pbx}` and `{extension}` of a reader's subject; throws on a token that could escape it. */
export function extensionSubject(pattern: string, tokens: ExtensionTokens): string {
  return pattern
    .replaceAll('{pbx}', assertSubjectToken('pbx', tokens.pbx))
    .replaceAll('{extension}', assertSubjectToken('extension', tokens.extension));
}

/** Replaces every `{token}` placeholder with `*`: the filter that covers all agents. */
export function anyExtension(pattern: string): string {
  return pattern.replace(/\{[a-z]+\}/g, '*');
}

/** Subject of the live copy of a stream subject (or filter). */
export function liveSubject(subject: string): string {
  return `${LIVE_SUBJECT_PREFIX}.${subject}`;
}

/**
 * Streams a service reads but does not own: those of its durable consumers and stream reads. They
 * must exist before it starts, created by their owners or the setup job (`cti streams apply`).
 */
export function streamsReadBy(service: ServiceName): StreamName[] {
  const owned = streamsOwnedBy(service);
  const read = [...consumersOf(service), ...readersOf(service)].map((entry) => entry.stream);
  return [...new Set(read)].filter((stream) => !owned.includes(stream));
}

/**
 * True when every subject that `subject` (possibly with wildcards) matches is also matched by
 * `filter`, under NATS wildcard rules: `*` is one token, a trailing `>` one or more.
 */
export function filterCovers(filter: string, subject: string): boolean {
  const wanted = filter.split('.');
  const have = subject.split('.');
  for (const [index, token] of wanted.entries()) {
    if (token === '>') {
      return have.length > index;
    }
    const other = have[index];
    if (other === undefined || other === '>' || (token !== '*' && token !== other)) {
      return false;
    }
  }
  return wanted.length === have.length;
}

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
