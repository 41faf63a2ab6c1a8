import { join } from 'node:path';
import { PassThrough } from 'node:stream';

import { Bus } from '@cti/bus';
import { AuditEvent } from '@cti/contracts';
import { createLogger } from '@cti/logging';
import { startNatsServer, type NatsServerHandle } from '@cti/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { runCli } from '../src/index.js';

const root = join(import.meta.dirname, '../../..');
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
  return { status, out, err, lines: out.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as Record<string, unknown>) };
}

describe('cti streams apply', () => {
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
      occurredAt: '2026-12-01T09:00:00.000Z',
      action: 'screen_pop_sent',
      actor: { type: 'agent', id: 'anna' },
      target: { type: 'Contacts', id: 'contact-1' },
      numberHash: 'h:0123456789abcdef',
    });
    await bus.publish(AuditEvent, {
      ...base,
      id: 'a2',
      occurredAt: '2026-12-01T09:05:00.000Z',
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
    expect(result.err).toContain('give at least one of --agent, --record or --since');
  });
});
