import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { Bus, ensureConsumer, listDeadLetters, replayDeadLetter } from '@cti/bus';
import {
  AllContracts,
  anyExtension,
  BucketAccess,
  Buckets,
  Consumers,
  consumersOf,
  extensionSubject,
  filterCovers,
  inboxPrefix,
  liveSubject,
  readersOf,
  ServiceNames,
  StreamNames,
  StreamReaders,
  Streams,
  streamsOwnedBy,
  type BucketKey,
  type MessageContract,
  type ServiceName,
  type StreamName,
} from '@cti/contracts';
import { createLogger } from '@cti/logging';
import { AckPolicy, DeliverPolicy } from '@nats-io/jetstream';
import { Objm } from '@nats-io/obj';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { generatedAccounts, renderNatsAccounts, renderNatsAuthorization } from '../src/index.js';
import {
  connectUser,
  expectPublishDenied as publishDenied,
  expectSubscribeDenied as subscribeDenied,
  root,
  startSecuredNats,
  type SecuredNats,
  type UserClient,
} from './secured-nats.js';

const services = ServiceNames.filter((name) => name !== 'cli');
const encoder = new TextEncoder();
const logger = createLogger({ service: 'deploy-test', level: 'silent' });

let nats: SecuredNats;
const clients = new Map<ServiceName, UserClient>();

function client(service: ServiceName): UserClient {
  const found = clients.get(service);
  if (found === undefined) {
    throw new Error(`no connection for ${service}`);
  }
  return found;
}

function expectPublishDenied(service: ServiceName, subject: string): Promise<void> {
  return publishDenied(client(service), subject);
}

function expectSubscribeDenied(service: ServiceName, subject: string): Promise<void> {
  return subscribeDenied(client(service), subject);
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

async function messageCount(stream: string): Promise<number> {
  return (await client('cli').bus.jsm.streams.info(stream)).state.messages;
}

beforeAll(async () => {
  nats = await startSecuredNats();
  for (const service of ServiceNames) {
    clients.set(service, await connectUser(nats, service));
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
  await nats?.dispose();
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
      Bus.connect({ natsUrl: nats.server.url, natsUser: 'ami-bridge', natsPassword: nats.password('crm-sync') }, { name: 'intruder', logger, waitOnFirstConnect: false }),
    ).rejects.toThrow();
  });
});

describe.each(services)('NATS user %s', (service) => {
  const published = events.filter((contract) => contract.publishedBy.includes(service));
  const notPublished = events.filter((contract) => !contract.publishedBy.includes(service) && contract.name !== 'audit');

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
    // Events reach a service through its durable consumers or the live copies of its stream
    // reads, so no service may subscribe to an event subject itself. It subscribes only to the
    // requests it serves.
    for (const contract of AllContracts.filter((candidate) => candidate.kind !== 'reply')) {
      if (contract.kind !== 'request' || !contract.consumedBy.includes(service)) {
        await expectSubscribeDenied(service, contract.filter());
      }
    }
    if (readersOf(service).length === 0) {
      await expectSubscribeDenied(service, liveSubject('>'));
    }
    await expectSubscribeDenied(service, '>');
    await expectSubscribeDenied(service, '_INBOX.>');
    for (const other of ServiceNames.filter((name) => name !== service)) {
      await expectSubscribeDenied(service, `${inboxPrefix(other)}.>`);
    }
  });

  it('is denied reading streams it has no consumer on', async () => {
    const readable = new Set<string>([...consumersOf(service), ...readersOf(service)].map((entry) => entry.stream));
    for (const stream of StreamNames.filter((name) => !readable.has(name))) {
      await expectPublishDenied(service, `$JS.API.CONSUMER.CREATE.${stream}.probe.${Streams[stream].subjects[0]}`);
      await expectPublishDenied(service, `$JS.API.STREAM.MSG.GET.${stream}`);
      await expectPublishDenied(service, `$JS.API.DIRECT.GET.${stream}`);
    }
  });

  it('is denied changing any stream, its own included, and deleting any', async () => {
    // An update could add another service's request subject to a stream, which would then
    // answer those requests with a publish acknowledgement. Changed limits are the setup job's.
    for (const stream of StreamNames) {
      await expectPublishDenied(service, `$JS.API.STREAM.UPDATE.${stream}`);
      await expectPublishDenied(service, `$JS.API.STREAM.DELETE.${stream}`);
      await expectPublishDenied(service, `$JS.API.STREAM.PURGE.${stream}`);
    }
  });
});

const liveReads = Object.values(StreamReaders).flatMap((reader) =>
  events
    .filter((contract) => contract.stream === reader.stream && reader.extensionSubjects.some((subject) => filterCovers(anyExtension(subject), contract.filter())))
    .map((contract) => [`${reader.service} receives the live copy of ${contract.name}`, reader.service as ServiceName, contract] as const),
);

describe('stream reads', () => {
  it.each(liveReads)('%s', async (_name, service, contract) => {
    const publisher = contract.publishedBy.find((name) => name !== 'cli') ?? 'cli';
    const tokens = { pbx: 'pbx7', extension: '207' };
    const subscription = client(service).connection.subscribe(liveSubject(contract.filter(tokens)), { max: 1 });
    await client(service).connection.flush();
    const received = (async () => {
      for await (const message of subscription) {
        return message.headers?.get('Nats-Subject');
      }
      return undefined;
    })();
    const subject = sampleSubject(contract, publisher, tokens);
    await client(publisher).bus.js.publish(subject, encoder.encode('{"probe":true}'));
    expect(await received).toBe(subject);
  });

  it('push-gateway reads stored messages and creates its missed-calls consumers', async () => {
    const gateway = client('push-gateway').bus;
    const tokens = { pbx: 'pbx7', extension: '208' };
    await client('crm-sync').bus.js.publish(extensionSubject('call.missed.{pbx}.{extension}', tokens), encoder.encode('{"probe":"missed"}'));
    const last = await gateway.jsm.streams.getMessage('CALLS', { last_by_subj: extensionSubject('call.*.{pbx}.{extension}', tokens) });
    expect(last?.subject).toBe('call.missed.pbx7.208');

    const [filter] = StreamReaders.PUSH_GATEWAY_CALLS.ephemeralFilters;
    const info = await gateway.jsm.consumers.add('CALLS', {
      name: 'missed-probe',
      filter_subject: extensionSubject(filter, tokens),
      deliver_policy: DeliverPolicy.All,
      ack_policy: AckPolicy.None,
      mem_storage: true,
    });
    const consumer = gateway.js.consumers.getConsumerFromInfo(info);
    const message = await consumer.next({ expires: 5000 });
    expect(message?.subject).toBe('call.missed.pbx7.208');
    expect(await gateway.jsm.consumers.delete('CALLS', info.name)).toBe(true);
  });

  it("push-gateway is denied other services' consumers and other filters", async () => {
    for (const consumer of Object.values(Consumers).filter((candidate) => candidate.stream === 'CALLS')) {
      await expectPublishDenied('push-gateway', `$JS.API.CONSUMER.MSG.NEXT.CALLS.${consumer.durable}`);
      await expectPublishDenied('push-gateway', `$JS.API.CONSUMER.DELETE.CALLS.${consumer.durable}`);
      await expectPublishDenied('push-gateway', `$JS.API.CONSUMER.CREATE.CALLS.${consumer.durable}.call.missed.*.*`);
      await expectPublishDenied('push-gateway', `$JS.ACK.CALLS.${consumer.durable}.1.1.1.1.1`);
    }
    await expectPublishDenied('push-gateway', '$JS.API.CONSUMER.CREATE.CALLS.probe.call.ringing.*.*');
    await expectPublishDenied('push-gateway', '$JS.API.CONSUMER.CREATE.CALLS');
    await expectPublishDenied('push-gateway', '$JS.API.CONSUMER.CREATE.CRM.probe.crm.>');
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
        filterCovers(consumer.filterSubject, candidate.filter()),
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

  it('webhook-ingress stores audio that the cli user reads', async () => {
    const store = await client('webhook-ingress').bus.ensureObjectStore('AI_AUDIO', { updateExisting: true });
    await store.putBlob({ name: 'conversation-1.mp3' }, encoder.encode('ID3 audio'));
    const reader = await new Objm(client('cli').connection).open(Buckets.AI_AUDIO.name);
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
        await expectPublishDenied(service, `$JS.API.STREAM.UPDATE.${stream}`);
        if (!access.writers.includes(service)) {
          await expectPublishDenied(service, `${writePrefix}.probe`);
        }
        // A push consumer delivers wherever its creator says, past the creator's permissions:
        // only the services that watch a bucket may create one on it.
        if (access.watchers?.includes(service) !== true) {
          await expectPublishDenied(service, `$JS.API.CONSUMER.CREATE.${stream}.probe`);
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
