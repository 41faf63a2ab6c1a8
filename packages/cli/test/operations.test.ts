import { join } from 'node:path';
import { PassThrough } from 'node:stream';

import { Bus } from '@cti/bus';
import { AuditEvent, CallCompleted, DeadLetter, type AuditEvent as AuditMessage, type CallCompleted as CallCompletedMessage } from '@cti/contracts';
import { createLogger, hashPhoneNumber } from '@cti/logging';
import { startNatsServer, type NatsServerHandle } from '@cti/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { runCli } from '../src/index.js';

const root = join(import.meta.dirname, '../../..');
const PHONE_HASH_KEY = 'cli-test-phone-hash-key-31c8';
let server: NatsServerHandle;

beforeAll(async () => {
  server = await startNatsServer();
});

afterAll(async () => {
  await server?.dispose();
});

async function cti(words: string[], environment: Record<string, string> = {}) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
  const status = await runCli(words, {
    stdout,
    stderr,
    stdin: new PassThrough(),
    environment: { NATS_URL: server.url, LOG_LEVEL: 'silent', ...environment },
    cwd: root,
  });
  return { status, out, err, lines: out.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>) };
}

describe('cti streams apply', () => {
  it('names the NATS server when it holds no CTI stream', async () => {
    // Runs first, before any test creates the streams on this server.
    const result = await cti(['audit', '--since', '1h']);
    expect(result.status).toBe(1);
    expect(result.err).toContain(`no CTI stream on the NATS server at ${server.url}`);
    expect(result.err).toContain('Is the stack running?');
  });

  it('applies the retention settings to streams and buckets', async () => {
    const result = await cti(['streams', 'apply'], {
      STREAM_CALLS_MAX_AGE_SECONDS: '7200',
      STREAM_AUDIT_MAX_BYTES: '52428800',
      OBJECT_AI_AUDIO_MAX_AGE_SECONDS: '86400',
    });
    expect(result.err).toBe('');
    expect(result.status).toBe(0);
    expect(result.lines).toContainEqual(expect.objectContaining({ stream: 'CALLS', maxAgeSeconds: 7200 }));
    expect(result.lines).toContainEqual(expect.objectContaining({ stream: 'AUDIT', maxBytes: 52_428_800 }));
    expect(result.lines).toContainEqual(expect.objectContaining({ stream: 'CRM', maxAgeSeconds: 14 * 86_400 }));
    expect(result.lines).toContainEqual(expect.objectContaining({ bucket: 'ai_audio', maxAgeSeconds: 86_400 }));
    // The call log gets its size here; its age stays with crm-sync (CRM_CALL_LOG_RETENTION_DAYS).
    const sized = await cti(['streams', 'apply'], { KV_CRM_CALL_LOG_MAX_BYTES: '8388608' });
    expect(sized.lines).toContainEqual({ bucket: 'crm_call_log', kind: 'kv', maxAgeSeconds: 7 * 86_400, maxBytes: 8_388_608 });

    const again = await cti(['streams', 'apply']);
    expect(again.lines).toContainEqual(expect.objectContaining({ stream: 'CALLS', maxAgeSeconds: 14 * 86_400 }));
  });
});

describe('cti audit', () => {
  it('prints the events of one agent, one record, or since a time', async () => {
    const bus = await Bus.connect({ natsUrl: server.url }, { name: 'audit-test', logger: createLogger({ service: 'test', level: 'silent' }) });
    await bus.ensureStreams(['AUDIT']);
    const base = { v: 1 as const, type: 'audit' as const, service: 'push-gateway', outcome: 'success' as const };
    await bus.publish(AuditEvent, {
      ...base,
      id: 'a1',
      occurredAt: new Date(Date.now() - 2000).toISOString(),
      action: 'screen_pop_sent',
      actor: { type: 'agent', id: 'anna' },
      target: { type: 'Contacts', id: 'contact-1' },
      numberHash: 'h:0123456789abcdef',
    });
    await bus.publish(AuditEvent, {
      ...base,
      id: 'a2',
      occurredAt: new Date(Date.now() - 1000).toISOString(),
      action: 'screen_pop_sent',
      actor: { type: 'agent', id: 'ben' },
      target: { type: 'Contacts', id: 'contact-2' },
    });
    await bus.drain();

    const byAgent = await cti(['audit', '--agent', 'anna']);
    expect(byAgent.status).toBe(0);
    expect(byAgent.lines.map((line) => line['id'])).toEqual(['a1']);

    const byRecord = await cti(['audit', '--record', 'contact-2']);
    expect(byRecord.lines.map((line) => line['id'])).toEqual(['a2']);

    const since = await cti(['audit', '--since', new Date(Date.now() - 60_000).toISOString(), '--action', 'screen_pop_sent']);
    expect(since.lines.map((line) => line['id'])).toEqual(['a1', 'a2']);

    const none = await cti(['audit', '--since', new Date(Date.now() + 60_000).toISOString()]);
    expect(none.lines).toEqual([]);
  });

  it('refuses to dump everything without a filter', async () => {
    const result = await cti(['audit']);
    expect(result.status).toBe(64);
    expect(result.err).toContain('give at least one of --agent, --record, --number or --since');
  });

  it('finds who saw a caller by number, agent or record', async () => {
    const bus = await Bus.connect({ natsUrl: server.url }, { name: 'audit-test', logger: createLogger({ service: 'test', level: 'silent' }) });
    await bus.ensureStreams(['AUDIT']);
    const base = { v: 1 as const, type: 'audit' as const, outcome: 'success' as const };
    const now = Date.now();
    const events: AuditMessage[] = [
      {
        ...base,
        id: 'n1',
        service: 'push-gateway',
        occurredAt: new Date(now - 3_600_000).toISOString(),
        action: 'screen_pop_sent',
        actor: { type: 'agent', id: 'carla' },
        target: { type: 'Contacts', id: 'contact-9' },
        numberHash: hashPhoneNumber('+15550100007', PHONE_HASH_KEY),
        details: { accountId: 'account-3' },
      },
      {
        ...base,
        id: 'n2',
        service: 'push-gateway',
        occurredAt: new Date(now - 60_000).toISOString(),
        action: 'token_minted',
        actor: { type: 'api_key', id: 'sso' },
        target: { type: 'agent', id: 'carla' },
      },
      {
        ...base,
        id: 'n3',
        service: 'ami-bridge',
        occurredAt: new Date(now - 30_000).toISOString(),
        action: 'call_originate_requested',
        actor: { type: 'agent', id: 'dan' },
        // Click-to-dial numbers are audited as the agent typed them, here a national number.
        numberHash: hashPhoneNumber('5550100007', PHONE_HASH_KEY),
      },
    ];
    for (const event of events) {
      await bus.publish(AuditEvent, event);
    }
    await bus.drain();
    const environment = { PHONE_HASH_KEY, PHONE_DEFAULT_REGION: 'US' };

    const byNumber = await cti(['audit', '--number', '+1 (555) 010-0007'], environment);
    expect(byNumber.status).toBe(0);
    expect(byNumber.lines.map((line) => line['id'])).toEqual(['n1', 'n3']);
    expect(byNumber.out).not.toContain('5550100007');

    const byAgent = await cti(['audit', '--agent', 'carla'], environment);
    expect(byAgent.lines.map((line) => line['id'])).toEqual(['n1', 'n2']);

    const byAccount = await cti(['audit', '--record', 'account-3'], environment);
    expect(byAccount.lines.map((line) => line['id'])).toEqual(['n1']);

    const lastMinutes = await cti(['audit', '--since', '5m', '--agent', 'carla', '--service', 'push-gateway'], environment);
    expect(lastMinutes.lines.map((line) => line['id'])).toEqual(['n2']);

    const until = await cti(['audit', '--number', '+15550100007', '--until', new Date(now - 600_000).toISOString()], environment);
    expect(until.lines.map((line) => line['id'])).toEqual(['n1']);

    const table = await cti(['audit', '--agent', 'dan', '--table'], environment);
    const rows = table.out.trim().split('\n');
    expect(rows[0]?.split(/ {2,}/)).toEqual(['occurredAt', 'service', 'action', 'outcome', 'actor', 'target']);
    expect(rows[1]?.split(/ {2,}/).slice(1)).toEqual(['ami-bridge', 'call_originate_requested', 'success', 'agent:dan', '-']);
    // Columns line up: each header starts where its values start.
    expect(rows[1]?.indexOf('ami-bridge')).toBe(rows[0]?.indexOf('service'));
    expect(rows[1]?.indexOf('agent:dan')).toBe(rows[0]?.indexOf('actor'));
  });

  it('rejects a number filter without the hash key and an unreadable time', async () => {
    const withoutKey = await cti(['audit', '--number', '+15550100007']);
    expect(withoutKey.status).toBe(64);
    expect(withoutKey.err).toContain('--number needs PHONE_HASH_KEY');

    const badTime = await cti(['audit', '--since', 'yesterday']);
    expect(badTime.status).toBe(64);
    expect(badTime.err).toContain('--since must be an ISO 8601 time such as 2026-12-01T00:00:00Z, or a span back from now such as 24h or 7d; got yesterday');
  });
});

describe('cti dlq replay', () => {
  function deadLetter(callId: string): DeadLetter {
    const original: CallCompletedMessage = CallCompleted.parse({
      v: 1,
      id: `call.completed:pbx9:${callId}`,
      type: 'call.completed',
      callId,
      pbx: 'pbx9',
      direction: 'inbound',
      caller: { number: '+15550100001' },
      callee: { number: '101' },
      occurredAt: '2026-12-04T10:00:05.000Z',
      startedAt: '2026-12-04T10:00:00.000Z',
      endedAt: '2026-12-04T10:00:05.000Z',
      disposition: 'answered',
      ringSeconds: 2,
      talkSeconds: 3,
      hangupBy: 'caller',
      hangupCause: 16,
      agents: [],
    });
    return {
      v: 1,
      id: `CALLS:${callId}`,
      type: 'dlq',
      stream: 'CALLS',
      consumer: 'crm-sync-calls',
      subject: 'call.completed.pbx9',
      streamSequence: 7,
      deliveries: 20,
      error: { code: 'CTI_ERR_CRM_UNAVAILABLE', message: 'SuiteCRM answered 503' },
      failedAt: '2026-12-04T10:05:00.000Z',
      messageId: original.id,
      data: Buffer.from(JSON.stringify(original)).toString('base64'),
    };
  }

  it('audits each replay, and keeps the dead letter while the audit trail cannot store it', async () => {
    const bus = await Bus.connect({ natsUrl: server.url }, { name: 'dlq-test', logger: createLogger({ service: 'test', level: 'silent' }) });
    try {
      await bus.ensureStreams(['CALLS', 'AUDIT', 'DLQ']);
      await bus.publish(DeadLetter, deadLetter('1796600000.1'));
      const sequence = (await bus.jsm.streams.info('DLQ')).state.last_seq;

      // Without the AUDIT stream the replay stops before it removes the dead letter.
      await bus.jsm.streams.delete('AUDIT');
      const blocked = await cti(['dlq', 'replay', '--sequence', String(sequence)], { CTI_OPERATOR: 'olivia' });
      expect(blocked.status).toBe(1);
      expect(blocked.err).toContain('CTI_ERR_BUS');
      expect((await bus.jsm.streams.getMessage('DLQ', { seq: sequence }))?.subject).toBe('dlq.CALLS.crm-sync-calls');

      await bus.ensureStreams(['AUDIT']);
      const replayed = await cti(['dlq', 'replay', '--sequence', String(sequence)], { CTI_OPERATOR: 'olivia' });
      expect(replayed.status).toBe(0);
      expect(replayed.lines).toEqual([{ replayed: sequence, subject: 'call.completed.pbx9', consumer: 'crm-sync-calls', duplicate: true }]);
      expect(await bus.jsm.streams.getMessage('DLQ', { seq: sequence }).catch(() => null)).toBeNull();

      const stored = await bus.jsm.streams.getMessage('AUDIT', { last_by_subj: 'audit.cli.dlq_replayed' });
      const event = AuditEvent.parse(stored?.json());
      expect(event.outcome).toBe('success');
      expect(event.actor).toEqual({ type: 'operator', id: 'olivia' });
      expect(event.target).toEqual({ type: 'dead_letter', id: `DLQ:${sequence}` });
      expect(event.details).toMatchObject({ stream: 'CALLS', consumer: 'crm-sync-calls', streamSequence: 7, deliveries: 20, duplicate: true });
      expect(JSON.stringify(event)).not.toContain('5550100001');
    } finally {
      await bus.drain();
    }
  });
});
