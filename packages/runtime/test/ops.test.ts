import Fastify from 'fastify';
import { Counter, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';

import { registerOpsRoutes } from '../src/index.js';

describe('registerOpsRoutes', () => {
  it('reports readiness per check and serves metrics', async () => {
    const registry = new Registry();
    new Counter({ name: 'cti_test_total', help: 'test counter', registers: [registry] }).inc();
    let natsUp = false;
    const app = Fastify();
    registerOpsRoutes(app, {
      registry,
      checks: [
        { name: 'nats', check: () => natsUp || 'disconnected' },
        { name: 'crm', check: () => true },
      ],
    });

    expect((await app.inject('/healthz')).statusCode).toBe(200);

    const notReady = await app.inject('/readyz');
    expect(notReady.statusCode).toBe(503);
    expect(notReady.json()).toEqual({ status: 'not_ready', checks: { nats: 'disconnected', crm: 'ok' } });

    natsUp = true;
    const ready = await app.inject('/readyz');
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready', checks: { nats: 'ok', crm: 'ok' } });

    const metrics = await app.inject('/metrics');
    expect(metrics.headers['content-type']).toContain('text/plain');
    expect(metrics.body).toContain('cti_test_total 1');
    await app.close();
  });
});
