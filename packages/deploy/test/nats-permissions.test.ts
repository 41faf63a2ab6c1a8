import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

import { Bus, ensureConsumer, listDeadLetters, replayDeadLetter } from '@cti/bus';
import {
  AllContracts,
  BucketAccess,
  Buckets,
  Consumers,
  consumersOf,
  inboxPrefix,
  ServiceNames,
  StreamNames,
  Streams,
  streamsOwnedBy,
  type BucketKey,
  type MessageContract,
  type ServiceName,
  type StreamName,
} from '@cti/contracts';
import { createLogger } from '@cti/logging';
import { startNatsServer, waitFor, type NatsServerHandle } from '@cti/testing';
import { DeliverPolicy } from '@nats-io/jetstream';
import { Objm } from '@nats-io/obj';
import { errors, type NatsConnection } from '@nats-io/nats-core';

type PermissionViolation = InstanceType<typeof errors.PermissionViolationError>;
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { generatedAccounts, generateSecrets, renderNatsAccounts, renderNatsAuthorization, SecretSpecs } from '../src/index.js';

const root = join(import.meta.dirname, '../../..');
const services = ServiceNames.filter((name) => name !== 'cli');
const encoder = new TextEncoder();
const logger = createLogger({ service: 'deploy-test', level: 'silent' });

interface Client {
  service: ServiceName;
  bus: Bus;
  connection: NatsConnection;
  violations: PermissionViolation[];
}

let server: NatsServerHandle;
let secretsDirectory: string;
const clients = new Map<ServiceName, Client>();

function client(service: ServiceName): Client {
  const found = clients.get(service);
  if (found === undefined) {
    throw new Error(`no connection for ${service}`);
  }
  return found;
}

function passwordOf(service: ServiceName): string {
  const spec = SecretSpecs.find((candidate) => candidate.mounts[service === 'cli' ? 'cti' : service] === 'NATS_PASSWORD_FILE');
  if (spec === undefined) {
    throw new Error(`no NATS password secret for ${service}`);
  }
  return readFileSync(join(secretsDirectory, spec.name), 'utf8').trim();
}

async function connect(service: ServiceName): Promise<Client> {
  const bus = await Bus.connect(
    { natsUrl: server.url, natsUser: service, natsPassword: passwordOf(service) },
    { name: service, logger, waitOnFirstConnect: false, inboxPrefix: inboxPrefix(service) },
  );
  const violations: PermissionViolation[] = [];
  void (async () => {
    for await (const status of bus.connection.status()) {
      if (status.type === 'error' && status.error instanceof errors.PermissionViolationError) {
        violations.push(status.error);
      }
    }
  })();
  return { service, bus, connection: bus.connection, violations };
}

/** Builds a concrete subject of a contract: `{service}` is the given service, other tokens are sample values. */
function sampleSubject(contract: MessageContract, service: ServiceName, tokens: Record<string, string> = {}): string {
  return contract.subjectPattern.replace(/\{([a-z]+)\}/g, (_match, token: string) => tokens[token] ?? (token === 'service' ? service : `${token}1`));
}

const events = AllContracts.filter((contract) => contract.kind === 'event' && contract.name !== 'dlq');
const requests = AllContracts.filter((contract) => contract.kind === 'request');

/** Encodes a dead letter as the bus writes it, for message `sequence` of `subject` and `consumer`. */
function deadLetterOf(consumer: { stream: string; durable: string }, sequence: number, subject: string): Uint8Array {
  return encoder.encode(
    JSON.stringify({
      v: 1,
      id: `${consumer.stream}:${consumer.durable}:${sequence}`,
      type: 'dlq',
      stream: consumer.stream,
      consumer: consumer.durable,
      subject,
      streamSequence: sequence,
      deliveries: 5,
      error: { message: 'probe' },
      failedAt: new Date().toISOString(),
      data: Buffer.from('{"probe":"replay"}').toString('base64'),
    }),
  );
}

async function expectPublishDenied(service: ServiceName, subject: string): Promise<void> {
  const { connection, violations } = client(service);
  connection.publish(subject, encoder.encode('{"probe":true}'));
  await connection.flush();
  await waitFor(
    () => violations.some((violation) => violation.operation === 'publish' && violation.subject === subject),
    `${service} denied publishing to ${subject}`,
    { timeoutMs: 5000 },
  );
}

async function expectSubscribeDenied(service: ServiceName, subject: string): Promise<void> {
  const { connection, violations } = client(service);
  const subscription = connection.subscribe(subject);
  await connection.flush();
  await waitFor(
    () => violations.some((violation) => violation.operation === 'subscription' && violation.subject === subject),
    `${service} denied subscribing to ${subject}`,
    { timeoutMs: 5000 },
  );
  subscription.unsubscribe();
}

async function messageCount(stream: string): Promise<number> {
  return (await client('cli').bus.jsm.streams.info(stream)).state.messages;
}

beforeAll(async () => {
  // The secrets directory is a sibling of the server's own temporary directory, so the server
  // config includes its files the way nats.conf does, by a relative path.
  secretsDirectory = mkdtempSync(join(tmpdir(), 'cti-deploy-secrets-'));
  generateSecrets({ directory: secretsDirectory });
  copyFileSync(join(root, 'deploy/nats/authorization.conf'), join(secretsDirectory, 'authorization.conf'));
  const relative = `../${basename(secretsDirectory)}`;
  const serverConfig = readFileSync(join(root, 'deploy/nats/nats.conf'), 'utf8');
  server = await startNatsServer({
    config: [`include "${relative}/nats_password_hashes.conf"`, `include "${relative}/authorization.conf"`, generatedAccounts(serverConfig)].join('\n'),
  });

  for (const service of ServiceNames) {
    clients.set(service, await connect(service));
  }

  // The start-up of a deployment: each service creates the streams it owns and makes sure AUDIT
  // and DLQ exist (as `connectBus` does), then the setup job applies every stream's limits.
  for (const service of services) {
    const owned = streamsOwnedBy(service);
    await client(service).bus.ensureStreams(owned, undefined, 1, true);
    await client(service).bus.ensureStreams((['AUDIT', 'DLQ'] as const).filter((name) => !owned.includes(name)), undefined, 1, false);
  }
  await client('cli').bus.ensureStreams(StreamNames, undefined, 1, true);
});

afterAll(async () => {
  for (const { bus } of clients.values()) {
    await bus.drain().catch(() => undefined);
  }
  await server?.dispose();
  if (secretsDirectory !== undefined) {
    rmSync(secretsDirectory, { recursive: true, force: true });
  }
});

describe('generated NATS configuration', () => {
  it('authorization.conf matches the contracts', () => {
    // Run `pnpm cti docs` after changing a contract, a consumer or a bucket.
    expect(readFileSync(join(root, 'deploy/nats/authorization.conf'), 'utf8')).toBe(renderNatsAuthorization());
  });

  it('nats.conf lists every user', () => {
    expect(generatedAccounts(readFileSync(join(root, 'deploy/nats/nats.conf'), 'utf8'))).toBe(renderNatsAccounts());
  });

  it('rejects a wrong password', async () => {
    await expect(
      Bus.connect({ natsUrl: server.url, natsUser: 'ami-bridge', natsPassword: passwordOf('crm-sync') }, { name: 'intruder', logger, waitOnFirstConnect: false }),
    ).rejects.toThrow();
  });
});

describe.each(services)('NATS user %s', (service) => {
  const published = events.filter((contract) => contract.publishedBy.includes(service));
  const notPublished = events.filter((contract) => !contract.publishedBy.includes(service) && contract.name !== 'audit');
  const notConsumed = AllContracts.filter((contract) => contract.kind !== 'reply' && !contract.consumedBy.includes(service));

  it('publishes every event its contracts declare', async () => {
    expect(published.length).toBeGreaterThan(0);
    for (const contract of published) {
      const subject = sampleSubject(contract, service);
      const ack = await client(service).bus.js.publish(subject, encoder.encode('{"probe":true}'));
      expect(ack.stream, subject).toBe(contract.stream);
    }
  });

  it('is denied publishing events it does not own', async () => {
    for (const contract of notPublished) {
      await expectPublishDenied(service, sampleSubject(contract, service));
    }
  });

  it("is denied writing another service's audit trail", async () => {
    const other = services.find((name) => name !== service) ?? 'cli';
    const before = await messageCount('AUDIT');
    await expectPublishDenied(service, `audit.${other}.login`);
    expect(await messageCount('AUDIT')).toBe(before);
  });

  it('is denied dead-lettering for consumers it does not own', async () => {
    const foreign = Object.values(Consumers).filter((consumer) => consumer.service !== service);
    for (const consumer of [...foreign, { stream: 'CALLS', durable: 'push-gateway-calls' }]) {
      await expectPublishDenied(service, `dlq.${consumer.stream}.${consumer.durable}`);
    }
  });


  it('is denied subscribing to what it does not consume', async () => {
    for (const contract of notConsumed) {
      await expectSubscribeDenied(service, permissionFilter(contract));
    }
    await expectSubscribeDenied(service, '>');
    await expectSubscribeDenied(service, '_INBOX.>');
    for (const other of ServiceNames.filter((name) => name !== service)) {
      await expectSubscribeDenied(service, `${inboxPrefix(other)}.>`);
    }
  });

  it('is denied reading streams it has no consumer on', async () => {
    const readable = new Set<string>(consumersOf(service).map((consumer) => consumer.stream));
    for (const stream of StreamNames.filter((name) => !readable.has(name))) {
      await expectPublishDenied(service, `$JS.API.CONSUMER.CREATE.${stream}.probe.${Streams[stream].subjects[0]}`);
      await expectPublishDenied(service, `$JS.API.STREAM.MSG.GET.${stream}`);
      await expectPublishDenied(service, `$JS.API.DIRECT.GET.${stream}`);
    }
  });

  it('is denied changing streams it does not own and deleting any', async () => {
    const owned = streamsOwnedBy(service);
    for (const stream of StreamNames) {
      if (!owned.includes(stream)) {
        await expectPublishDenied(service, `$JS.API.STREAM.UPDATE.${stream}`);
      }
      await expectPublishDenied(service, `$JS.API.STREAM.DELETE.${stream}`);
      await expectPublishDenied(service, `$JS.API.STREAM.PURGE.${stream}`);
    }
  });
});

/** Subscription filter of a contract, with every token a wildcard. */
function permissionFilter(contract: MessageContract): string {
  return contract.filter();
}

const subscriptions = events.flatMap((contract) =>
  contract.consumedBy.filter((service) => service !== 'cli').map((service) => [`${service} receives ${contract.name}`, service, contract] as const),
);

describe('subscriptions', () => {
  it.each(subscriptions)('%s', async (_name, service, contract) => {
    const publisher = contract.publishedBy.find((name) => name !== 'cli') ?? 'cli';
    const subscription = client(service).connection.subscribe(contract.filter(), { max: 1 });
    await client(service).connection.flush();
    const received = (async () => {
      for await (const message of subscription) {
        return message.subject;
      }
      return undefined;
    })();
    const subject = sampleSubject(contract, publisher);
    await client(publisher).bus.js.publish(subject, encoder.encode('{"probe":true}'));
    expect(await received).toBe(subject);
  });
});

describe('requests', () => {
  it.each(requests.map((contract) => [contract.name, contract] as const))('%s reaches its responder from each requester', async (_name, contract) => {
    for (const responder of contract.consumedBy) {
      const subscription = client(responder).connection.subscribe(contract.filter(), {
        queue: responder,
        callback: (_error, message) => {
          message.respond(encoder.encode('{"answered":true}'));
        },
      });
      await client(responder).connection.flush();
      for (const requester of contract.publishedBy) {
        const reply = await client(requester).connection.request(sampleSubject(contract, requester), encoder.encode('{}'), { timeout: 5000 });
        expect(reply.json<{ answered: boolean }>().answered, `${requester} -> ${responder}`).toBe(true);
      }
      subscription.unsubscribe();
    }
  });

  it.each(requests.map((contract) => [contract.name, contract] as const))('%s is denied to other services', async (_name, contract) => {
    for (const service of services.filter((name) => !contract.publishedBy.includes(name))) {
      await expectPublishDenied(service, sampleSubject(contract, service));
    }
  });
});

/** NATS subject matching of a concrete or wildcard subject against a consumer filter. */
function subjectMatchesFilter(filter: string, subject: string): boolean {
  const wanted = filter.split('.');
  const have = subject.split('.');
  for (const [index, token] of wanted.entries()) {
    if (token === '>') {
      return have.length > index;
    }
    if (have[index] === undefined || (token !== '*' && token !== have[index])) {
      return false;
    }
  }
  return wanted.length === have.length;
}

describe('durable consumers', () => {
  it.each(Object.values(Consumers).map((consumer) => [consumer.durable, consumer] as const))('%s is created, read and acknowledged by its owner', async (_name, consumer) => {
    const owner = client(consumer.service);
    await ensureConsumer(owner.bus.jsm, {
      stream: consumer.stream,
      durable: consumer.durable,
      filterSubject: consumer.filterSubject,
      contracts: [],
      deliverPolicy: 'new',
    });
    const contract = events.find(
      (candidate) =>
        candidate.stream === consumer.stream &&
        candidate.consumedBy.includes(consumer.service) &&
        subjectMatchesFilter(consumer.filterSubject, candidate.filter()),
    );
    if (contract === undefined) {
      throw new Error(`no consumed contract on ${consumer.stream}`);
    }
    const publisher = contract.publishedBy[0] ?? 'cli';
    const subject = sampleSubject(contract, publisher);
    await client(publisher).bus.js.publish(subject, encoder.encode('{"probe":true}'));

    const durable = await owner.bus.js.consumers.get(consumer.stream, consumer.durable);
    const message = await durable.next({ expires: 5000 });
    expect(message?.subject).toBe(subject);
    message?.working();
    expect(await message?.ackAck({ timeout: 5000 })).toBe(true);
  });

  it.each(Object.values(Consumers).map((consumer) => [consumer.durable, consumer] as const))('%s dead letters are written by its owner', async (_name, consumer) => {
    const ack = await client(consumer.service).bus.js.publish(`dlq.${consumer.stream}.${consumer.durable}`, deadLetterOf(consumer, 1, `${consumer.filterSubject.replace('>', 'probe')}`));
    expect(ack.stream).toBe('DLQ');
  });

  it('cannot be read by another service', async () => {
    for (const consumer of Object.values(Consumers)) {
      for (const service of ServiceNames.filter((name) => name !== consumer.service && name !== 'cli')) {
        await expectPublishDenied(service, `$JS.API.CONSUMER.MSG.NEXT.${consumer.stream}.${consumer.durable}`);
        await expectPublishDenied(service, `$JS.ACK.${consumer.stream}.${consumer.durable}.1.1.1.1.1`);
      }
    }
  });
});

describe('buckets', () => {
  it('crm-sync owns the phone index', async () => {
    const kv = await client('crm-sync').bus.ensureKvBucket('CRM_PHONE_INDEX', { updateExisting: true });
    await kv.put('4930123456', encoder.encode('["Contacts:1"]'));
    const entry = await kv.get('4930123456');
    expect(entry?.string()).toBe('["Contacts:1"]');
    const keys: string[] = [];
    for await (const key of await kv.keys()) {
      keys.push(key);
    }
    expect(keys).toContain('4930123456');
  });

  it('webhook-ingress stores audio that crm-sync reads', async () => {
    const store = await client('webhook-ingress').bus.ensureObjectStore('AI_AUDIO', { updateExisting: true });
    await store.putBlob({ name: 'conversation-1.mp3' }, encoder.encode('ID3 audio'));
    const reader = await new Objm(client('crm-sync').connection).open(Buckets.AI_AUDIO.name);
    const blob = await reader.getBlob('conversation-1.mp3');
    expect(new TextDecoder().decode(blob ?? new Uint8Array())).toBe('ID3 audio');
  });

  it('are denied to services without access', async () => {
    for (const key of Object.keys(BucketAccess) as BucketKey[]) {
      const access = BucketAccess[key];
      const bucket = Buckets[key];
      const stream = bucket.kind === 'kv' ? `KV_${bucket.name}` : `OBJ_${bucket.name}`;
      const writePrefix = bucket.kind === 'kv' ? `$KV.${bucket.name}` : `$O.${bucket.name}`;
      for (const service of services) {
        if (!access.writers.includes(service)) {
          await expectPublishDenied(service, `${writePrefix}.probe`);
          await expectPublishDenied(service, `$JS.API.STREAM.UPDATE.${stream}`);
        }
        if (!access.writers.includes(service) && !access.readers.includes(service)) {
          await expectPublishDenied(service, `$JS.API.DIRECT.GET.${stream}.${writePrefix}.probe`);
          await expectPublishDenied(service, `$JS.API.STREAM.MSG.GET.${stream}`);
        }
      }
    }
  });
});

describe('operators CLI', () => {
  it('applies the limits of every stream', async () => {
    const cli = client('cli').bus;
    await cli.ensureStreams(['CALLS'], { CALLS: { maxAgeSeconds: 7 * 86_400 } }, 1, true);
    expect((await cli.jsm.streams.info('CALLS')).config.max_age).toBe(7 * 86_400 * 1e9);
    await cli.ensureStreams(['CALLS'], undefined, 1, true);
  });

  it('lists and replays a dead letter, and reads the audit trail', async () => {
    const cli = client('cli').bus;
    const consumer = Consumers.CRM_SYNC_CALLS;
    await client('crm-sync').bus.js.publish(`dlq.${consumer.stream}.${consumer.durable}`, deadLetterOf(consumer, 999, 'call.completed.pbx1'));
    const letters = await listDeadLetters(cli.jsm, { consumer: consumer.durable });
    const stored = letters.find((candidate) => candidate.entry.id === `${consumer.stream}:${consumer.durable}:999`);
    expect(stored).toBeDefined();
    const result = await replayDeadLetter(cli.js, cli.jsm, stored!);
    expect(result.subject).toBe('call.completed.pbx1');

    await cli.js.publish('audit.cli.replay', encoder.encode('{"probe":true}'));
    // `cti audit` reads the trail through an ordered consumer, as here.
    const reader = await cli.js.consumers.get('AUDIT', { deliver_policy: DeliverPolicy.All });
    const first = await reader.next({ expires: 5000 });
    expect(first?.subject.startsWith('audit.')).toBe(true);
  });

  it('is denied deleting streams and writing service audit trails', async () => {
    for (const stream of StreamNames) {
      await expectPublishDenied('cli', `$JS.API.STREAM.DELETE.${stream}`);
    }
    for (const service of services) {
      await expectPublishDenied('cli', `audit.${service}.login`);
    }
    await expectSubscribeDenied('cli', 'call.>');
    await expectSubscribeDenied('cli', 'audit.>');
  });
});

describe('checks the issue names', () => {
  it('ami-bridge cannot read CRM subjects', async () => {
    await expectSubscribeDenied('ami-bridge', 'crm.>');
    await expectPublishDenied('ami-bridge', '$JS.API.CONSUMER.CREATE.CRM.probe.crm.>');
  });

  it('webhook-ingress publishes only ai and its audit subjects', async () => {
    const stored = events.filter((contract) => contract.publishedBy.includes('webhook-ingress'));
    for (const contract of stored) {
      expect(sampleSubject(contract, 'webhook-ingress')).toMatch(/^(ai\.|audit\.webhook-ingress\.)/);
    }
    for (const subject of ['call.ringing.pbx1.101', 'crm.caller.identified.pbx1.101', 'pbx.originate.result.pbx1.101', 'dlq.AI.crm-sync-ai']) {
      await expectPublishDenied('webhook-ingress', subject);
    }
  });

  it('push-gateway cannot publish call events', async () => {
    const before = await messageCount('CALLS');
    for (const contract of events.filter((candidate) => candidate.stream === 'CALLS')) {
      await expectPublishDenied('push-gateway', sampleSubject(contract, 'push-gateway'));
    }
    expect(await messageCount('CALLS')).toBe(before);
  });
});

// Every stream in the contracts exists after start-up; a stream without an owner would be missing.
describe('stream owners', () => {
  it.each(StreamNames.map((stream) => [stream] as const))('%s exists', async (stream: StreamName) => {
    expect((await client('cli').bus.jsm.streams.info(stream)).config.name).toBe(stream);
  });
});
