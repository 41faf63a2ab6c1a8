import type { Bus } from '@cti/bus';
import type { AuditEvent } from '@cti/contracts';
import { createLogger } from '@cti/logging';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';

import { createAuditor, type AuditRecord } from '../src/index.js';

function auditorWithSink() {
  const published: AuditEvent[] = [];
  const bus = { publish: async (_contract: unknown, message: AuditEvent) => published.push(message) } as unknown as Bus;
  const registry = new Registry();
  const auditor = createAuditor({ bus, service: 'webhook-ingress', logger: createLogger({ service: 'test', level: 'silent' }), phoneHashKey: 'k'.repeat(16), registry });
  return { auditor, published, registry };
}

const forged: AuditRecord = { action: 'auth_failed', outcome: 'denied', actor: { type: 'remote', ip: '203.0.113.9' }, reason: 'signature_mismatch' };

describe('auditor throttling', () => {
  it('writes the first failures of a source, then one summary of the rest', async () => {
    const { auditor, published, registry } = auditorWithSink();
    for (let attempt = 0; attempt < 500; attempt += 1) {
      await auditor.record(forged);
    }
    expect(published).toHaveLength(20);

    await auditor.flush();
    await new Promise((resolve) => setImmediate(resolve));
    expect(published).toHaveLength(21);
    const summary = published[20];
    expect(summary?.details).toEqual({ suppressed: 480 });
    expect(summary?.reason).toMatch(/^480 more like this from the same source/);
    expect(await registry.getSingleMetricAsString('cti_audit_events_total')).toContain('result="suppressed"} 480');
  });

  it('keeps sources apart and never throttles successes or known actors', async () => {
    const { auditor, published } = auditorWithSink();
    for (let attempt = 0; attempt < 30; attempt += 1) {
      await auditor.record({ ...forged, actor: { type: 'remote', ip: '198.51.100.1' } });
      await auditor.record({ ...forged, actor: { type: 'remote', ip: '198.51.100.2' } });
      await auditor.record({ action: 'api_request', outcome: 'success', actor: { type: 'remote', ip: '198.51.100.1' } });
      await auditor.record({ action: 'auth_failed', outcome: 'denied', actor: { type: 'agent', id: 'anna' } });
    }
    expect(published.filter((event) => event.actor.ip === '198.51.100.1' && event.action === 'auth_failed')).toHaveLength(20);
    expect(published.filter((event) => event.actor.ip === '198.51.100.2')).toHaveLength(20);
    expect(published.filter((event) => event.action === 'api_request')).toHaveLength(30);
    expect(published.filter((event) => event.actor.id === 'anna')).toHaveLength(30);
    await auditor.flush();
  });
});
