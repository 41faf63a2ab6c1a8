import {
  AllContracts,
  anyExtension,
  BucketAccess,
  Buckets,
  Consumers,
  consumersOf,
  inboxPrefix,
  liveSubject,
  readersOf,
  ServiceNames,
  StreamNames,
  streamsOwnedBy,
  streamsReadBy,
  type BucketKey,
  type MessageContract,
  type ServiceName,
} from '@cti/contracts';

/** One NATS user: a service's identity on the bus and the subjects it may use. */
export interface NatsUser {
  service: ServiceName;
  /** NATS user name, the same as the service name. */
  user: string;
  /** NATS configuration variable that contains the user's bcrypt password hash. */
  passwordVariable: string;
  publish: string[];
  /**
   * Subjects refused even where `publish` allows them: the durable consumers of other services,
   * which a wildcard over short-lived consumer names would otherwise reach.
   */
  publishDeny: string[];
  subscribe: string[];
  /** True for services that serve requests: they may publish once to each request's reply subject. */
  allowResponses: boolean;
}

/** The services that run as containers; the CLI is the operators' tool. */
export const DeployedServices = ['ami-bridge', 'crm-sync', 'webhook-ingress', 'push-gateway'] as const satisfies readonly ServiceName[];
export type DeployedService = (typeof DeployedServices)[number];

/** NATS account of the streams and of every user; JetStream is enabled for it alone. */
export const NATS_ACCOUNT = 'CTI';

export function passwordVariable(service: ServiceName): string {
  return `CTI_NATS_PASSWORD_${service.toUpperCase().replaceAll('-', '_')}`;
}

/**
 * Returns the subject of a contract with `{service}` replaced by the service itself, so a service
 * can write only its own audit trail, and every other placeholder by `*`.
 */
export function permissionSubject(contract: MessageContract, service: ServiceName): string {
  return contract.subjectPattern.replace(/\{([a-z]+)\}/g, (_match, token: string) => (token === 'service' ? service : '*'));
}

function isDeadLetter(contract: MessageContract): boolean {
  return contract.name === 'dlq';
}

/**
 * Stream management a service needs at start: its own streams are created and brought to the
 * configured limits; AUDIT and DLQ are only created when missing, never updated; the streams it
 * reads are looked up until they exist.
 */
export function streamManagementOf(service: ServiceName): string[] {
  const owned = streamsOwnedBy(service);
  const read = streamsReadBy(service);
  const subjects: string[] = [];
  for (const stream of StreamNames) {
    if (owned.includes(stream)) {
      // Create, not update: an update can change a stream's subjects and capture another service's
      // requests, or cut its limits. The setup job (`cti streams apply`) applies changed limits.
      subjects.push(`$JS.API.STREAM.INFO.${stream}`, `$JS.API.STREAM.CREATE.${stream}`);
    } else if (stream === 'AUDIT' || stream === 'DLQ') {
      subjects.push(`$JS.API.STREAM.INFO.${stream}`, `$JS.API.STREAM.CREATE.${stream}`);
    } else if (read.includes(stream)) {
      subjects.push(`$JS.API.STREAM.INFO.${stream}`);
    }
  }
  return subjects;
}

/**
 * Durable consumers: each is created (or updated) only with its declared filter, which nats-server
 * 2.9 and later read from the create subject, then pulled from and acknowledged.
 */
function durablePermissions(service: ServiceName): string[] {
  return consumersOf(service).flatMap(({ stream, durable, filterSubject }) => [
    `$JS.API.CONSUMER.CREATE.${stream}.${durable}.${filterSubject}`,
    `$JS.API.CONSUMER.INFO.${stream}.${durable}`,
    `$JS.API.CONSUMER.MSG.NEXT.${stream}.${durable}`,
    `$JS.ACK.${stream}.${durable}.>`,
  ]);
}

/**
 * Stream reads per agent extension: live copies, stored messages, and short-lived consumers. The
 * short-lived ones get names the service picks, so their API subjects take any name except the
 * durables of other services, which are denied: pulling from one would take its messages.
 */
function readerPermissions(service: ServiceName): { publish: string[]; publishDeny: string[]; subscribe: string[] } {
  const publish: string[] = [];
  const publishDeny: string[] = [];
  const subscribe: string[] = [];
  for (const reader of readersOf(service)) {
    const { stream } = reader;
    publish.push(`$JS.API.STREAM.INFO.${stream}`, `$JS.API.STREAM.MSG.GET.${stream}`);
    subscribe.push(...reader.extensionSubjects.map((subject) => liveSubject(anyExtension(subject))));
    if (reader.ephemeralFilters.length === 0) {
      continue;
    }
    publish.push(
      ...reader.ephemeralFilters.map((filter) => `$JS.API.CONSUMER.CREATE.${stream}.*.${anyExtension(filter)}`),
      `$JS.API.CONSUMER.MSG.NEXT.${stream}.*`,
      `$JS.API.CONSUMER.DELETE.${stream}.*`,
    );
    for (const consumer of Object.values(Consumers)) {
      if (consumer.stream === stream && consumer.service !== service) {
        publishDeny.push(
          `$JS.API.CONSUMER.CREATE.${stream}.${consumer.durable}.>`,
          `$JS.API.CONSUMER.MSG.NEXT.${stream}.${consumer.durable}`,
          `$JS.API.CONSUMER.DELETE.${stream}.${consumer.durable}`,
        );
      }
    }
  }
  return { publish, publishDeny, subscribe };
}

/** JetStream stream behind a bucket: `KV_<name>` for key-value buckets, `OBJ_<name>` for object stores. */
export function bucketStream(key: BucketKey): string {
  const bucket = Buckets[key];
  return bucket.kind === 'kv' ? `KV_${bucket.name}` : `OBJ_${bucket.name}`;
}

function bucketPermissions(service: ServiceName): string[] {
  const publish: string[] = [];
  for (const key of Object.keys(BucketAccess) as BucketKey[]) {
    const access = BucketAccess[key];
    const writes = access.writers.includes(service);
    const reads = writes || access.readers.includes(service);
    if (!reads) {
      continue;
    }
    const bucket = Buckets[key];
    const stream = bucketStream(key);
    // `Kvm`/`Objm` open a bucket through a JetStream manager that checks the account first.
    publish.push('$JS.API.INFO', `$JS.API.STREAM.INFO.${stream}`);
    // Reads: direct get by key (allow_direct streams) and message get.
    publish.push(`$JS.API.DIRECT.GET.${stream}`, `$JS.API.DIRECT.GET.${stream}.>`, `$JS.API.STREAM.MSG.GET.${stream}`);
    // Key listings and watches create ordered push consumers with generated names. A push
    // consumer delivers to whatever subject its creator names, past the creator's own publish
    // permissions (nats-server does not check them), so only declared watchers may create one.
    if (access.watchers?.includes(service) === true) {
      publish.push(
        `$JS.API.CONSUMER.CREATE.${stream}.>`,
        `$JS.API.CONSUMER.INFO.${stream}.>`,
        `$JS.API.CONSUMER.DELETE.${stream}.>`,
        `$JS.API.CONSUMER.MSG.NEXT.${stream}.>`,
      );
    }
    if (writes) {
      const prefix = bucket.kind === 'kv' ? `$KV.${bucket.name}` : `$O.${bucket.name}`;
      // Create, not update: an update could also change the stream's subjects; limits of an
      // existing bucket are applied by the setup job (`cti streams apply`).
      publish.push(`$JS.API.STREAM.CREATE.${stream}`, `${prefix}.>`);
      if (bucket.kind === 'object') {
        // Replacing or deleting an object purges its chunks by subject.
        publish.push(`$JS.API.STREAM.PURGE.${stream}`);
      }
    }
  }
  return publish;
}

/**
 * Permissions of a service's NATS user, derived from the contracts it publishes and consumes and
 * from its access declarations (durable consumers, stream reads, buckets):
 * - events it publishes, on their subjects (`{service}` bound to itself, dead letters only for its
 *   own consumers), and management of the streams it ensures or waits for;
 * - requests it sends, and, for requests it serves, a subscription plus one reply per request;
 * - its durable consumers' API subjects: events reach it through those, or through the live
 *   copies of its stream reads, never through a core subscription on the event subjects;
 * - its own inbox prefix, and nothing under another service's.
 */
export function servicePermissions(service: ServiceName): NatsUser {
  // Account info is read-only and feeds the storage metrics every service exports
  // (`cti_jetstream_account_*`), which the storage alert watches.
  const publish = new Set<string>(['$JS.API.INFO']);
  const subscribe = new Set<string>([`${inboxPrefix(service)}.>`]);
  let allowResponses = false;

  for (const contract of AllContracts) {
    if (contract.kind === 'reply') {
      // Replies go to the requester's inbox under `allow_responses`, never to a fixed subject.
      continue;
    }
    if (contract.publishedBy.includes(service)) {
      if (isDeadLetter(contract)) {
        for (const consumer of consumersOf(service)) {
          publish.add(`dlq.${consumer.stream}.${consumer.durable}`);
        }
      } else {
        publish.add(permissionSubject(contract, service));
      }
    }
    if (contract.kind === 'request' && contract.consumedBy.includes(service)) {
      subscribe.add(permissionSubject(contract, service));
      allowResponses = true;
    }
  }

  const readers = readerPermissions(service);
  for (const subject of [...streamManagementOf(service), ...durablePermissions(service), ...readers.publish, ...bucketPermissions(service)]) {
    publish.add(subject);
  }
  for (const subject of readers.subscribe) {
    subscribe.add(subject);
  }

  return {
    service,
    user: service,
    passwordVariable: passwordVariable(service),
    publish: [...publish].sort(),
    publishDeny: [...new Set(readers.publishDeny)].sort(),
    subscribe: [...subscribe].sort(),
    allowResponses,
  };
}

/** Stream subjects, which a dead-letter replay publishes to again. */
function replaySubjects(): string[] {
  const subjects = new Set<string>();
  for (const contract of AllContracts) {
    if (contract.stream !== null && contract.stream !== 'AUDIT' && contract.stream !== 'DLQ' && contract.kind === 'event') {
      subjects.add(permissionSubject(contract, 'cli'));
    }
  }
  return [...subjects].sort();
}

/**
 * Permissions of the operators' CLI (`pnpm cti`), which is also the setup job. It publishes its
 * own audit events, creates every stream and bucket and applies their retention (`cti streams
 * apply`). It reads, deletes and purges messages for dead-letter replays, audit queries and
 * erasure by number, and publishes replays to stream subjects. It cannot delete a stream, and it
 * subscribes to nothing but its inbox.
 */
export function cliPermissions(): NatsUser {
  const service: ServiceName = 'cli';
  const contractSubjects = AllContracts.filter((contract) => contract.kind !== 'reply' && contract.publishedBy.includes(service)).map((contract) =>
    permissionSubject(contract, service),
  );
  const bucketSubjects = (Object.keys(Buckets) as BucketKey[]).map((key) => {
    const bucket = Buckets[key];
    return bucket.kind === 'kv' ? `$KV.${bucket.name}.>` : `$O.${bucket.name}.>`;
  });
  const publish = new Set<string>([
    ...contractSubjects,
    ...replaySubjects(),
    ...bucketSubjects,
    '$JS.API.INFO',
    '$JS.API.STREAM.NAMES',
    '$JS.API.STREAM.LIST',
    '$JS.API.STREAM.INFO.*',
    '$JS.API.STREAM.CREATE.*',
    '$JS.API.STREAM.UPDATE.*',
    '$JS.API.STREAM.MSG.GET.*',
    '$JS.API.STREAM.MSG.DELETE.*',
    '$JS.API.STREAM.PURGE.*',
    '$JS.API.DIRECT.GET.>',
    '$JS.API.CONSUMER.NAMES.*',
    '$JS.API.CONSUMER.LIST.*',
    '$JS.API.CONSUMER.CREATE.>',
    '$JS.API.CONSUMER.INFO.>',
    '$JS.API.CONSUMER.DELETE.>',
    '$JS.API.CONSUMER.MSG.NEXT.>',
    '$JS.ACK.>',
  ]);
  return {
    service,
    user: service,
    passwordVariable: passwordVariable(service),
    publish: [...publish].sort(),
    publishDeny: [],
    subscribe: [`${inboxPrefix(service)}.>`],
    allowResponses: false,
  };
}

/** Returns every NATS user of a deployment: the four services, then the CLI. */
export function natsUsers(): NatsUser[] {
  const services = ServiceNames.filter((name) => name !== 'cli').map((name) => servicePermissions(name));
  return [...services, cliPermissions()];
}
