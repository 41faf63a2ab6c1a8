import { Bus } from '@cti/bus';
import { defineConfig, loggingFields, natsFields } from '@cti/config';
import { createLogger } from '@cti/logging';
import { startNatsServer, type NatsServerHandle } from '@cti/testing';
import Fastify from 'fastify';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  CHECK_TIMEOUT_MS,
  createAuditor,
  createHttpMetrics,
  observeHttpRequests,
  registerJetStreamUsage,
  registerOpsRoutes,
  retentionFields,
  runService,
} from '../src/index.js';

const logger = createLogger({ service: 'runtime-test', level: 'silent' });

let server: NatsServerHandle;
let bus: Bus;

beforeAll(async () => {
  server = await startNatsServer();
  bus = await Bus.connect({ natsUrl: server.url }, { name: 'runtime-test', logger });
});

afterAll(async () => {
  await bus?.drain();
  await server?.dispose();
});

function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

describe('readiness metrics', () => {
  it('report each check on every scrape, and a hanging check as failed', async () => {
    const registry = new Registry();
    let natsUp = true;
    const app = Fastify();
    registerOpsRoutes(app, {
      registry,
      checks: [
        { name: 'nats', check: () => natsUp || 'disconnected' },
        { name: 'crm', check: () => new Promise<boolean>(() => undefined) },
      ],
    });

    const started = Date.now();
    const notReady = await app.inject('/readyz');
    expect(notReady.statusCode).toBe(503);
    expect(notReady.json()).toEqual({ status: 'not_ready', checks: { nats: 'ok', crm: `check timed out after ${CHECK_TIMEOUT_MS} ms` } });
    expect(Date.now() - started).toBeLessThan(CHECK_TIMEOUT_MS * 3);

    natsUp = false;
    const metrics = (await app.inject('/metrics')).body;
    expect(value(metrics, 'cti_ready')).toBe(0);
    expect(value(metrics, 'cti_readiness_check{check="nats"}')).toBe(0);
    expect(value(metrics, 'cti_readiness_check{check="crm"}')).toBe(0);
    await app.close();
  });

  it('say ready once every check passes', async () => {
    const registry = new Registry();
    const app = Fastify();
    registerOpsRoutes(app, { registry, checks: [{ name: 'nats', check: async () => true }] });
    const metrics = (await app.inject('/metrics')).body;
    expect(value(metrics, 'cti_ready')).toBe(1);
    expect(value(metrics, 'cti_readiness_check{check="nats"}')).toBe(1);
    await app.close();
  });
});

describe('HTTP metrics', () => {
  it('count requests by route template and status, without the ops routes', async () => {
    const registry = new Registry();
    const app = Fastify();
    const metrics = createHttpMetrics(registry);
    observeHttpRequests(app, metrics);
    registerOpsRoutes(app, { registry, checks: [] });
    app.get('/v1/items/:id', async (request, reply) => reply.code((request.params as { id: string }).id === 'missing' ? 404 : 200).send({}));

    await app.inject('/v1/items/1');
    await app.inject('/v1/items/2');
    await app.inject('/v1/items/missing');
    await app.inject('/nowhere');
    await app.inject('/healthz');

    const text = await registry.metrics();
    expect(value(text, 'cti_http_requests_total{route="/v1/items/:id",method="GET",status="200"}')).toBe(2);
    expect(value(text, 'cti_http_requests_total{route="/v1/items/:id",method="GET",status="404"}')).toBe(1);
    expect(value(text, 'cti_http_requests_total{route="unmatched",method="GET",status="404"}')).toBe(1);
    expect(text).not.toContain('route="/healthz"');
    expect(value(text, 'cti_http_request_seconds_count{route="/v1/items/:id",method="GET"}')).toBe(3);
    await app.close();
  });
});

describe('JetStream usage', () => {
  it('reports the size and limits of existing streams and leaves out missing ones', async () => {
    await bus.ensureStreams(['AUDIT'], { AUDIT: { maxBytes: 10_485_760 } });
    const auditor = createAuditor({ bus, service: 'runtime-test', logger, phoneHashKey: undefined });
    await auditor.record({ action: 'config_loaded', outcome: 'success', actor: { type: 'service', id: 'runtime-test' } });

    const registry = new Registry();
    registerJetStreamUsage({ jsm: bus.jsm, registry, logger, streams: ['AUDIT', 'CRM'], cacheMs: 0 });
    const text = await registry.metrics();
    expect(value(text, 'cti_jetstream_stream_messages{stream="AUDIT"}')).toBe(1);
    expect(value(text, 'cti_jetstream_stream_bytes{stream="AUDIT"}')).toBeGreaterThan(0);
    expect(value(text, 'cti_jetstream_stream_max_bytes{stream="AUDIT"}')).toBe(10_485_760);
    expect(value(text, 'cti_jetstream_stream_max_age_seconds{stream="AUDIT"}')).toBe(365 * 86_400);
    expect(text).not.toContain('stream="CRM"');
    expect(value(text, 'cti_jetstream_account_storage_bytes')).toBeGreaterThan(0);
  });
});

describe('auditor', () => {
  it('counts stored and failed audit events', async () => {
    await bus.ensureStreams(['AUDIT']);
    const registry = new Registry();
    const auditor = createAuditor({ bus, service: 'runtime-test', logger, phoneHashKey: undefined, registry });
    const entry = { action: 'dlq_replayed', outcome: 'success' as const, actor: { type: 'operator' as const, id: 'olivia' } };
    await auditor.record(entry);
    await expect(auditor.record({ ...entry, number: '+15550100001' })).rejects.toThrow('PHONE_HASH_KEY is not set');
    await bus.jsm.streams.delete('AUDIT');
    await expect(auditor.record(entry)).rejects.toThrow();
    await bus.ensureStreams(['AUDIT']);

    const text = await registry.metrics();
    expect(value(text, 'cti_audit_events_total{action="dlq_replayed",result="stored"}')).toBe(1);
    expect(value(text, 'cti_audit_events_total{action="dlq_replayed",result="failed"}')).toBe(2);
  });
});

describe('connectBus', () => {
  async function start(service: string, environment: Record<string, string>) {
    const spec = defineConfig(service, { ...natsFields, ...loggingFields, ...retentionFields });
    const context = await runService(spec, async () => undefined, {
      environment: { NATS_URL: server.url, LOG_LEVEL: 'silent', ...environment },
      exit: () => undefined,
    });
    if (context === undefined) {
      throw new Error(`${service} did not start`);
    }
    const { bus: serviceBus } = await context.connectBus(['CALLS', 'CRM']);
    return { context, serviceBus };
  }

  it('applies retention only to the streams the service owns', async () => {
    const owner = await start('ami-bridge', { STREAM_CALLS_MAX_AGE_SECONDS: '7200', STREAM_CRM_MAX_AGE_SECONDS: '3600' });
    expect((await bus.jsm.streams.info('CALLS')).config.max_age).toBe(7200 * 1e9);
    // CRM belongs to crm-sync: ami-bridge creates it when missing and never rewrites it.
    const crmAge = (await bus.jsm.streams.info('CRM')).config.max_age;
    await owner.serviceBus.drain();

    const other = await start('push-gateway', { STREAM_CALLS_MAX_AGE_SECONDS: '60000', STREAM_CRM_MAX_AGE_SECONDS: '60000' });
    expect((await bus.jsm.streams.info('CALLS')).config.max_age).toBe(7200 * 1e9);
    expect((await bus.jsm.streams.info('CRM')).config.max_age).toBe(crmAge);
    const usage = await other.context.registry.metrics();
    expect(usage).toContain('cti_jetstream_stream_messages{stream="AUDIT",service="push-gateway"}');
    expect(usage).not.toContain('stream="CALLS"');
    await other.serviceBus.drain();
  });
});
