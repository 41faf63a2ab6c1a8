import { CallCompleted } from '@cti/contracts';
import { createLogger } from '@cti/logging';
import { collectLogLines, startNatsServer, type NatsServerHandle } from '@cti/testing';
import { JetStreamApiError, JetStreamError } from '@nats-io/jetstream';
import { errors as natsErrors, type NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Bus, BusError, BusErrorCode } from '../src/index.js';
import { PubAckTracker } from '../src/pub-ack.js';
import { completedCall } from './fixtures.js';

// "limited" may publish to call.>, test.> and the JetStream API and receive only under
// _INBOX.limited. "responder" may do anything and plays the stream that acknowledges.
const PERMISSIONS = `
authorization {
  users: [
    {
      user: "limited", password: "limited-secret-3c9a",
      permissions: { publish: { allow: ["call.>", "test.>", "$JS.API.>"] }, subscribe: { allow: ["_INBOX.limited.>"] } }
    }
    { user: "responder", password: "responder-secret-8e21" }
  ]
}`;

let server: NatsServerHandle;
let connection: NatsConnection;
let responder: NatsConnection;
let bus: Bus;
const data = new TextEncoder().encode('{}');

beforeAll(async () => {
  server = await startNatsServer({ config: PERMISSIONS });
  connection = await connect({ servers: server.url, user: 'limited', pass: 'limited-secret-3c9a', inboxPrefix: '_INBOX.limited' });
  responder = await connect({ servers: server.url, user: 'responder', pass: 'responder-secret-8e21' });
  const logger = createLogger({ service: 'bus-test', level: 'debug', destination: collectLogLines().stream });
  bus = await Bus.connect(
    { natsUrl: server.url, natsUser: 'limited', natsPassword: 'limited-secret-3c9a' },
    { name: 'pub-ack-test', logger, inboxPrefix: '_INBOX.limited' },
  );
  await bus.ensureStreams(['CALLS']);
});

afterAll(async () => {
  await bus?.drain();
  await connection?.close();
  await responder?.close();
  await server?.dispose();
});

/**
 * Replies to every message on `subject` with `reply`, as a stream replies with its PubAck, or
 * receives it without a reply when `reply` is undefined. Resolves once the server has the
 * subscription.
 */
async function answer(subject: string, reply: string | undefined): Promise<void> {
  responder.subscribe(subject, {
    callback: (_error, message) => {
      if (reply !== undefined) {
        message.respond(new TextEncoder().encode(reply));
      }
    },
  });
  await responder.flush();
}

describe('PubAckTracker', () => {
  it('resolves with the PubAck', async () => {
    await answer('test.acked', '{"stream":"TEST","seq":41,"duplicate":true}');
    const acks = new PubAckTracker(connection, '_INBOX.limited');

    const ack = await acks.publish('test.acked', data, { timeoutMs: 2000, messageId: 'test-1' });
    expect(ack).toEqual({ stream: 'TEST', seq: 41, duplicate: true });
    expect(acks.pending).toBe(0);
  });

  it('times out without an ack', async () => {
    await answer('test.silent', undefined);
    const acks = new PubAckTracker(connection, '_INBOX.limited');

    const started = Date.now();
    const error = await acks.publish('test.silent', data, { timeoutMs: 200 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(natsErrors.TimeoutError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    expect(acks.pending).toBe(0);
  });

  it('rejects an API error ack', async () => {
    await answer('test.refused', '{"error":{"code":400,"err_code":10060,"description":"expected stream does not match"}}');
    const acks = new PubAckTracker(connection, '_INBOX.limited');

    const error = await acks.publish('test.refused', data, { timeoutMs: 2000 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(JetStreamApiError);
    expect((error as JetStreamApiError).message).toBe('expected stream does not match');
  });

  it('rejects an invalid ack', async () => {
    await answer('test.garbled', 'not json');
    await answer('test.empty-ack', '{"seq":3}');
    const acks = new PubAckTracker(connection, '_INBOX.limited');

    const garbled = await acks.publish('test.garbled', data, { timeoutMs: 2000 }).catch((caught: unknown) => caught);
    expect(garbled).toBeInstanceOf(JetStreamError);
    expect((garbled as Error).message).toBe('invalid ack response: not JSON');
    const empty = await acks.publish('test.empty-ack', data, { timeoutMs: 2000 }).catch((caught: unknown) => caught);
    expect((empty as Error).message).toBe('invalid ack response: no stream or sequence');
  });

  it('fails without a stream', async () => {
    const acks = new PubAckTracker(connection, '_INBOX.limited');

    const error = await acks.publish('test.nobody', data, { timeoutMs: 2000 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(natsErrors.NoRespondersError);
  });

  it('fails a refused publish at once', async () => {
    const acks = new PubAckTracker(connection, '_INBOX.limited');

    const started = Date.now();
    const error = await acks.publish('audit.refused', data, { timeoutMs: 5000 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(natsErrors.PermissionViolationError);
    expect((error as InstanceType<typeof natsErrors.PermissionViolationError>).operation).toBe('publish');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('fails on a refused inbox subscription', async () => {
    await answer('test.unheard', '{"stream":"TEST","seq":1}');
    const acks = new PubAckTracker(connection, '_INBOX.other');

    const error = await acks.publish('test.unheard', data, { timeoutMs: 5000 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(natsErrors.PermissionViolationError);
    expect((error as InstanceType<typeof natsErrors.PermissionViolationError>).operation).toBe('subscription');
  });

  it('fails pending publishes on close', async () => {
    const own = await connect({ servers: server.url, user: 'limited', pass: 'limited-secret-3c9a', inboxPrefix: '_INBOX.limited' });
    await answer('test.never', undefined);
    const acks = new PubAckTracker(own, '_INBOX.limited');

    const pending = acks.publish('test.never', data, { timeoutMs: 10_000 }).catch((caught: unknown) => caught);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await own.close();
    expect(await pending).toBeInstanceOf(natsErrors.ClosedConnectionError);
  });
});

describe('Publisher', () => {
  it('keeps the order within a batch', async () => {
    const results = await Promise.all(Array.from({ length: 100 }, (_, index) => bus.publish(CallCompleted, completedCall(`order-${index}`))));

    const sequences = results.map((result) => result.sequence);
    expect(sequences).toEqual([...sequences].sort((a, b) => a - b));
    expect(new Set(sequences).size).toBe(100);
    const stored = await bus.jsm.streams.getMessage('CALLS', { seq: sequences[57] ?? 0 });
    expect(stored?.json<{ id: string }>().id).toBe('order-57');
  });

  it('rejects a message over maxBytes', async () => {
    const before = (await bus.jsm.streams.info('CALLS')).state.last_seq;

    const error = await bus.publish(CallCompleted, completedCall('too-large-1'), { maxBytes: 100 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(BusError);
    expect((error as BusError).code).toBe(BusErrorCode.MESSAGE_TOO_LARGE);
    expect((error as BusError).details['limit']).toBe(100);
    expect((error as BusError).details['size']).toBeGreaterThan(100);
    expect((await bus.jsm.streams.info('CALLS')).state.last_seq).toBe(before);
  });

  it('maps a missing ack to PUBLISH_TIMEOUT', async () => {
    await answer('call.completed.silentpbx', undefined);
    const publisher = bus.createPublisher({ timeoutMs: 200 });

    // No stream stores the subject now, and the plain subscriber above never replies.
    await bus.jsm.streams.delete('CALLS');
    try {
      const error = await publisher.publish(CallCompleted, completedCall('timeout-1', { pbx: 'silentpbx' })).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(BusError);
      expect((error as BusError).code).toBe(BusErrorCode.PUBLISH_TIMEOUT);
    } finally {
      await bus.ensureStreams(['CALLS']);
    }
  });
});
