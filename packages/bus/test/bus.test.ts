import { AuditEvent, CallCompleted, ContractError, DeadLetter, Streams } from '@cti/contracts';
import { createLogger } from '@cti/logging';
import { collectLogLines, deferred, startNatsServer, waitFor, type NatsServerHandle } from '@cti/testing';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Bus, BusError, BusErrorCode, listDeadLetters, PermanentError, replayDeadLetter } from '../src/index.js';
import { completedCall } from './fixtures.js';

let server: NatsServerHandle;
let bus: Bus;
const logLines = collectLogLines();
const registry = new Registry();

beforeAll(async () => {
  server = await startNatsServer();
  const logger = createLogger({ service: 'bus-test', level: 'debug', destination: logLines.stream });
  bus = await Bus.connect({ natsUrl: server.url }, { name: 'bus-test', logger, registry });
  await bus.ensureStreams(['CALLS', 'AUDIT', 'DLQ']);
});

afterAll(async () => {
  await bus?.drain();
  await server?.dispose();
});

describe('publish', () => {
  it('rejects a message that fails its schema, naming the field', async () => {
    const invalid = { ...completedCall('bad-1'), talkSeconds: -1 };
    const error = await bus.publish(CallCompleted, invalid).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ContractError);
    expect((error as ContractError).code).toBe('CTI_ERR_CONTRACT_MESSAGE_INVALID');
    expect((error as ContractError).message).toContain('/talkSeconds');
    const info = await bus.jsm.streams.info('CALLS');
    expect(info.state.messages).toBe(0);
  });

  it('stores the same event id once', async () => {
    const first = await bus.publish(CallCompleted, completedCall('dup-1'));
    const second = await bus.publish(CallCompleted, completedCall('dup-1'));
    expect(first.duplicate).toBe(false);
    expect(second.duplicate).toBe(true);
    expect(second.sequence).toBe(first.sequence);
    const stored = await bus.jsm.streams.getMessage('CALLS', { seq: first.sequence });
    expect(stored?.subject).toBe('call.completed.pbx1');
  });

  it('fails with NO_STREAM when no stream stores the subject', async () => {
    const audit = {
      v: 1 as const,
      id: 'audit-1',
      type: 'audit' as const,
      occurredAt: new Date().toISOString(),
      service: 'bus-test',
      action: 'auth_failed',
      outcome: 'denied' as const,
      actor: { type: 'remote' as const },
    };
    await bus.jsm.streams.delete('AUDIT');
    const error = await bus.publish(AuditEvent, audit).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(BusError);
    expect((error as BusError).code).toBe(BusErrorCode.NO_STREAM);
    await bus.ensureStreams(['AUDIT']);
  });
});

describe('consume', () => {
  it('dead-letters a message that keeps failing and goes on with the next', async () => {
    const handled: string[] = [];
    const attempts = new Map<string, number>();
    const doneWithGood = deferred();
    const consumer = await bus.consume(
      {
        stream: 'CALLS',
        durable: 'test-failing',
        filterSubject: 'call.completed.failing',
        contracts: [CallCompleted],
        maxDeliver: 3,
        backoffMs: [20, 40],
      },
      async (message) => {
        const { id } = message as CallCompleted;
        attempts.set(id, (attempts.get(id) ?? 0) + 1);
        if (id === 'poison-1') {
          throw new BusError(BusErrorCode.PUBLISH_FAILED, 'crm unavailable');
        }
        handled.push(id);
        doneWithGood.resolve();
      },
    );
    await bus.publish(CallCompleted, completedCall('poison-1', { pbx: 'failing' }));
    await bus.publish(CallCompleted, completedCall('good-1', { pbx: 'failing' }));

    await doneWithGood.promise;
    const letters = await waitFor(async () => {
      const found = await listDeadLetters(bus.jsm, { consumer: 'test-failing' });
      return found.length > 0 ? found : undefined;
    }, 'the dead letter');
    await consumer.stop();

    expect(handled).toEqual(['good-1']);
    expect(attempts.get('poison-1')).toBe(3);
    expect(letters).toHaveLength(1);
    const entry = letters[0]!.entry;
    expect(entry.deliveries).toBe(3);
    expect(entry.error).toEqual({ code: 'CTI_ERR_BUS_PUBLISH_FAILED', message: 'crm unavailable' });
    expect(entry.subject).toBe('call.completed.failing');
    expect(JSON.parse(Buffer.from(entry.data, 'base64').toString('utf8')).id).toBe('poison-1');
    expect(logLines.lines.some((line) => line['msg'] === 'message sent to dead-letter stream' && line['reason'] === 'max_deliveries')).toBe(true);
    const deadLettered = await registry.getSingleMetricAsString('cti_bus_dead_lettered_total');
    expect(deadLettered).toContain('consumer="test-failing",reason="max_deliveries"');
  });

  it('dead-letters a permanent failure on the first delivery', async () => {
    const consumer = await bus.consume(
      { stream: 'CALLS', durable: 'test-permanent', filterSubject: 'call.completed.permanent', contracts: [CallCompleted], maxDeliver: 5 },
      async () => {
        throw new PermanentError('CTI_ERR_CRM_RECORD_INVALID', 'crm rejected the record');
      },
    );
    await bus.publish(CallCompleted, completedCall('permanent-1', { pbx: 'permanent' }));
    const letters = await waitFor(async () => {
      const found = await listDeadLetters(bus.jsm, { consumer: 'test-permanent' });
      return found.length > 0 ? found : undefined;
    }, 'the dead letter');
    await consumer.stop();
    expect(letters[0]!.entry.deliveries).toBe(1);
    expect(letters[0]!.entry.error.code).toBe('CTI_ERR_CRM_RECORD_INVALID');
  });

  it('dead-letters a message that does not match its contract', async () => {
    const consumer = await bus.consume(
      { stream: 'CALLS', durable: 'test-undecodable', filterSubject: 'call.completed.garbage', contracts: [CallCompleted] },
      async () => undefined,
    );
    await bus.js.publish('call.completed.garbage', new TextEncoder().encode('{"type":"call.completed","v":1}'));
    const letters = await waitFor(async () => {
      const found = await listDeadLetters(bus.jsm, { consumer: 'test-undecodable' });
      return found.length > 0 ? found : undefined;
    }, 'the dead letter');
    await consumer.stop();
    expect(letters[0]!.entry.error.code).toBe('CTI_ERR_CONTRACT_MESSAGE_INVALID');
  });

  it('replays a dead letter to its consumer only, once', async () => {
    let failing = true;
    const seenByTarget: string[] = [];
    const seenByOther: string[] = [];
    const target = await bus.consume(
      { stream: 'CALLS', durable: 'test-replay-target', filterSubject: 'call.completed.replay', contracts: [CallCompleted], maxDeliver: 1 },
      async (message) => {
        if (failing) {
          throw new Error('down');
        }
        seenByTarget.push((message as CallCompleted).id);
      },
    );
    const other = await bus.consume(
      { stream: 'CALLS', durable: 'test-replay-other', filterSubject: 'call.completed.replay', contracts: [CallCompleted] },
      async (message) => {
        seenByOther.push((message as CallCompleted).id);
      },
    );
    await bus.publish(CallCompleted, completedCall('replay-1', { pbx: 'replay' }));
    const [letter] = await waitFor(async () => {
      const found = await listDeadLetters(bus.jsm, { consumer: 'test-replay-target' });
      return found.length > 0 ? found : undefined;
    }, 'the dead letter');
    await waitFor(() => seenByOther.length === 1, 'the other consumer to see the original');

    failing = false;
    const replay = await replayDeadLetter(bus.js, bus.jsm, letter!);
    expect(replay.duplicate).toBe(false);
    await waitFor(() => seenByTarget.length === 1, 'the replayed message');
    // Replaying the same dead letter again is stored once: the stream sees the same message id.
    const again = await replayDeadLetter(bus.js, bus.jsm, letter!);
    expect(again.duplicate).toBe(true);

    await target.stop();
    await other.stop();
    expect(seenByTarget).toEqual(['replay-1']);
    expect(seenByOther).toEqual(['replay-1']);
    expect(await listDeadLetters(bus.jsm, { consumer: 'test-replay-target' })).toHaveLength(0);
  });
});

describe('listDeadLetters', () => {
  it('skips and reports an entry that is not a dead letter', async () => {
    await bus.js.publish('dlq.CALLS.test-garbage', new TextEncoder().encode('not json'));
    const unreadable: number[] = [];
    const letters = await listDeadLetters(bus.jsm, { onUnreadable: (sequence) => unreadable.push(sequence) });
    expect(unreadable).toHaveLength(1);
    expect(letters.length).toBeGreaterThan(0);
    expect(letters.every((letter) => letter.entry.consumer !== 'test-garbage')).toBe(true);
  });
});

describe('request and reply', () => {
  it('answers, times out and reports a missing responder', async () => {
    const { CallerLookupRequest, CallerLookupReply } = await import('@cti/contracts');
    const subscription = bus.serve(
      CallerLookupRequest,
      CallerLookupReply,
      async (request) => ({ v: 1 as const, status: 'ok' as const, number: request.number, matches: [], source: 'index' as const }),
      { queue: 'test' },
    );
    const reply = await bus.request(CallerLookupRequest, CallerLookupReply, { v: 1, number: '+15550100001', requestedBy: 'test' }, 1000);
    expect(reply.status).toBe('ok');

    const invalid = await bus
      .request(CallerLookupRequest, CallerLookupReply, { v: 1, number: '', requestedBy: 'test' }, 1000)
      .catch((error: unknown) => error);
    expect(invalid).toBeInstanceOf(ContractError);

    await subscription.drain();
    const missing = await bus
      .request(CallerLookupRequest, CallerLookupReply, { v: 1, number: '+15550100001', requestedBy: 'test' }, 500)
      .catch((error: unknown) => error);
    expect((missing as BusError).code).toBe(BusErrorCode.NO_RESPONDER);

    const slow = bus.connection.subscribe('rpc.crm.lookup', { callback: () => undefined });
    const timedOut = await bus
      .request(CallerLookupRequest, CallerLookupReply, { v: 1, number: '+15550100001', requestedBy: 'test' }, 200)
      .catch((error: unknown) => error);
    expect((timedOut as BusError).code).toBe(BusErrorCode.REQUEST_TIMEOUT);
    slow.unsubscribe();
  });

  it('ignores a message whose reply is not a requester inbox', async () => {
    const { CallerLookupRequest, CallerLookupReply } = await import('@cti/contracts');
    let handled = 0;
    const subscription = bus.serve(
      CallerLookupRequest,
      CallerLookupReply,
      async (request) => {
        handled += 1;
        return { v: 1 as const, status: 'ok' as const, number: request.number, matches: [] };
      },
      { queue: 'test', replyPrefixes: ['_INBOX.webhook-ingress.'] },
    );
    const body = new TextEncoder().encode(JSON.stringify({ v: 1, number: '+15550100001', requestedBy: 'test' }));
    // A JetStream push delivery replies to a $JS.ACK subject, which a client cannot publish with;
    // any reply outside the requesters' inboxes stands for it. A plain publish has none at all.
    bus.connection.publish('rpc.crm.lookup', body, { reply: 'deliver.elsewhere.1' });
    bus.connection.publish('rpc.crm.lookup', body);
    // The default inbox of this test connection is not a declared requester either.
    const refused = await bus.connection.request('rpc.crm.lookup', body, { timeout: 300 }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(Error);
    await bus.connection.flush();
    expect(handled).toBe(0);
    await waitFor(() => logLines.lines.filter((line) => line['msg'] === 'request from an unexpected sender ignored').length >= 3, 'three ignored requests logged');
    await subscription.drain();
  });

  it('answers an invalid request with a rejection naming the field', async () => {
    const { CallerLookupRequest, CallerLookupReply } = await import('@cti/contracts');
    const subscription = bus.serve(CallerLookupRequest, CallerLookupReply, async () => {
      throw new Error('not reached');
    }, { queue: 'test' });
    const reply = await bus.connection.request('rpc.crm.lookup', new TextEncoder().encode('{"v":1,"number":"1"}'), { timeout: 1000 });
    expect(reply.headers?.get('Nats-Service-Error-Code')).toBe('400');
    expect(reply.headers?.get('Nats-Service-Error')).toContain('requestedBy');
    await subscription.drain();
  });
});

describe('requestAll', () => {
  it('collects the answer of every replica, and none without one', async () => {
    const { CrmEraseRequest, CrmEraseReply } = await import('@cti/contracts');
    const replica = (instance: string) =>
      bus.serve(CrmEraseRequest, CrmEraseReply, async () => ({ v: 1 as const, instance, cacheEntries: 1, indexRecords: 0 }), {});
    const first = replica('replica-a');
    const second = replica('replica-b');
    await bus.connection.flush();

    const replies = await bus.requestAll(CrmEraseRequest, CrmEraseReply, { v: 1, number: '+15550100001', requestedBy: 'test' }, 500);
    expect(replies.map((reply) => reply.instance).sort()).toEqual(['replica-a', 'replica-b']);

    await first.drain();
    await second.drain();
    const none = await bus.requestAll(CrmEraseRequest, CrmEraseReply, { v: 1, number: '+15550100001', requestedBy: 'test' }, 300);
    expect(none).toEqual([]);
  });

  it('counts what each handler answered and how long it took', async () => {
    const { CallerLookupRequest, CallerLookupReply } = await import('@cti/contracts');
    const subscription = bus.serve(CallerLookupRequest, CallerLookupReply, async (request) => {
      if (request.number === '+15550100099') {
        throw new Error('lookup failed');
      }
      return { v: 1 as const, status: 'ok' as const, number: request.number, matches: [] };
    }, { queue: 'metrics-test' });
    const served = async (outcome: string) =>
      (await registry.getSingleMetric('cti_bus_served_total')?.get())?.values.find((value) => value.labels['outcome'] === outcome)?.value ?? 0;
    const before = { ok: await served('ok'), failed: await served('failed') };

    await bus.request(CallerLookupRequest, CallerLookupReply, { v: 1, number: '+15550100001', requestedBy: 'test' }, 1000);
    await bus.request(CallerLookupRequest, CallerLookupReply, { v: 1, number: '+15550100099', requestedBy: 'test' }, 1000).catch(() => undefined);
    await subscription.drain();

    expect(await served('ok')).toBe(before.ok + 1);
    expect(await served('failed')).toBe(before.failed + 1);
    expect(await registry.getSingleMetricAsString('cti_bus_serve_seconds')).toMatch(/cti_bus_serve_seconds_count\{request="crm.lookup"\} [2-9]/);
  });
});

describe('buckets', () => {
  it('changes only the limits it is given on an existing bucket', async () => {
    await bus.ensureKvBucket('CRM_CALL_LOG', { retention: { maxAgeSeconds: 3 * 86_400, maxBytes: 8_388_608 } });
    await bus.ensureKvBucket('CRM_CALL_LOG', { retention: { maxBytes: 4_194_304 } });
    const info = await bus.jsm.streams.info('KV_crm_call_log');
    expect(info.config.max_bytes).toBe(4_194_304);
    expect(info.config.max_age).toBe(3 * 86_400 * 1e9);

    await bus.ensureKvBucket('CRM_CALL_LOG', { retention: { maxAgeSeconds: 86_400 }, updateExisting: false });
    expect((await bus.jsm.streams.info('KV_crm_call_log')).config.max_age).toBe(3 * 86_400 * 1e9);
  });
});

describe('ensureStreams', () => {
  it('applies retention overrides to the stream', async () => {
    await bus.ensureStreams(['CALLS'], { CALLS: { maxAgeSeconds: 3600, maxBytes: 10_000_000 } });
    const info = await bus.jsm.streams.info('CALLS');
    expect(info.config.max_age).toBe(3600 * 1e9);
    expect(info.config.max_bytes).toBe(10_000_000);
    expect(info.config.duplicate_window).toBe(Streams.CALLS.duplicateWindowSeconds * 1e9);
    expect(info.config.storage).toBe('file');
  });

  it('keeps dead letters in the DLQ stream', async () => {
    const info = await bus.jsm.streams.info('DLQ');
    expect(info.config.subjects).toEqual(['dlq.>']);
    expect(DeadLetter.stream).toBe('DLQ');
  });
});

describe('waitForStreams', () => {
  it('waits for a missing stream until its owner creates it', async () => {
    let settled = false;
    const waiting = bus.waitForStreams(['AI'], { initialDelayMs: 10, maxDelayMs: 50, ownerOf: () => 'webhook-ingress' }).then(() => {
      settled = true;
    });
    await waitFor(() => logLines.lines.some((line) => line['msg'] === 'stream not found; waiting for it to be created' && line['stream'] === 'AI'), 'the waiting log line');
    expect(settled).toBe(false);
    expect(logLines.lines.find((line) => line['stream'] === 'AI' && line['createdBy'] !== undefined)?.['createdBy']).toBe('webhook-ingress');

    await bus.ensureStreams(['AI']);
    await waiting;
    expect(logLines.lines.some((line) => line['msg'] === 'stream found' && line['stream'] === 'AI')).toBe(true);
  });

  it('returns at once for streams that exist', async () => {
    await bus.waitForStreams(['CALLS', 'DLQ']);
  });
});
