import { randomUUID } from 'node:crypto';

import type { Bus } from '@cti/bus';
import { AuditEvent } from '@cti/contracts';
import { hashPhoneNumber, type Logger } from '@cti/logging';
import { Counter, type Registry } from 'prom-client';
import type { Static } from 'typebox';

import { RepeatThrottle } from './repeat-throttle.js';

type AuditMessage = Static<typeof AuditEvent.schema>;

/** What a caller states about one audited action; the auditor adds id, time and service. */
export interface AuditRecord {
  action: string;
  outcome: AuditMessage['outcome'];
  actor: AuditMessage['actor'];
  target?: AuditMessage['target'];
  /** A raw phone number; only its keyed hash is stored. */
  number?: string;
  reason?: string;
  details?: AuditMessage['details'];
  /** Deterministic id, when the same action must be audited once across redeliveries. */
  id?: string;
}

export interface Auditor {
  /**
   * Publishes an audit event and resolves once JetStream stored it. Rejects when it cannot be
   * stored, so a caller whose action must not happen unaudited can refuse it.
   */
  record(entry: AuditRecord): Promise<void>;
  /** Publishes without waiting; a failure is logged and counted, never thrown. */
  recordLater(entry: AuditRecord): void;
  /** Keyed hash of a phone number, as written into audit events. */
  hashNumber(number: string): string;
  /** Writes the pending summaries of throttled failures and waits for them, at shutdown. */
  flush(): Promise<void>;
}

export interface AuditorOptions {
  bus: Bus;
  service: string;
  logger: Logger;
  /** PHONE_HASH_KEY. Without it, events that name a number are refused rather than weakened. */
  phoneHashKey: string | undefined;
  /** Registry for `cti_audit_events_total`; without one nothing is counted. */
  registry?: Registry;
}

function auditCounter(registry: Registry | undefined): Counter<'action' | 'result'> | undefined {
  if (registry === undefined) {
    return undefined;
  }
  const existing = registry.getSingleMetric('cti_audit_events_total');
  if (existing !== undefined) {
    return existing as Counter<'action' | 'result'>;
  }
  return new Counter({
    name: 'cti_audit_events_total',
    help: 'Audit events, by action and result: stored, failed (missing from the trail), or suppressed (a repeated unauthenticated failure, counted in a summary event)',
    labelNames: ['action', 'result'],
    registers: [registry],
  });
}

// An unauthenticated client can make the services write failures as fast as it sends requests,
// and AUDIT discards its oldest events at its size limit: past the first few per source and
// minute, repeats are counted and written as one summary, so a flood cannot age the trail out.
const THROTTLE_WINDOW_MS = 60_000;
const THROTTLE_FREE_EVENTS = 20;
const THROTTLE_MAX_SOURCES = 10_000;

/** Failures of a source that proved no identity share a window; everything else is written as is. */
function throttleKey(entry: AuditRecord): string | undefined {
  if (entry.outcome === 'success' || entry.actor.id !== undefined) {
    return undefined;
  }
  return `${entry.action}|${entry.actor.type}|${entry.actor.ip ?? '-'}`;
}

export function createAuditor(options: AuditorOptions): Auditor {
  const counter = auditCounter(options.registry);
  const hashNumber = (number: string): string => {
    if (options.phoneHashKey === undefined) {
      throw new Error('PHONE_HASH_KEY is not set: audit events that name a phone number need it');
    }
    return hashPhoneNumber(number, options.phoneHashKey);
  };

  const build = (entry: AuditRecord): AuditMessage => ({
    v: 1,
    id: entry.id ?? randomUUID(),
    type: 'audit',
    occurredAt: new Date().toISOString(),
    service: options.service,
    action: entry.action,
    outcome: entry.outcome,
    actor: entry.actor,
    ...(entry.target === undefined ? {} : { target: entry.target }),
    ...(entry.number === undefined ? {} : { numberHash: hashNumber(entry.number) }),
    ...(entry.reason === undefined ? {} : { reason: entry.reason }),
    ...(entry.details === undefined ? {} : { details: entry.details }),
  });

  const publish = async (entry: AuditRecord): Promise<void> => {
    try {
      await options.bus.publish(AuditEvent, build(entry));
    } catch (error) {
      counter?.inc({ action: entry.action, result: 'failed' });
      throw error;
    }
    counter?.inc({ action: entry.action, result: 'stored' });
  };

  // Summaries still being written, so shutdown can wait for them before the connection drains.
  const summaries = new Set<Promise<void>>();
  const throttle = new RepeatThrottle<AuditRecord>({
    windowMs: THROTTLE_WINDOW_MS,
    freePerWindow: THROTTLE_FREE_EVENTS,
    maxKeys: THROTTLE_MAX_SOURCES,
    overflowKeyOf: (entry) => `${entry.action}|overflow`,
    onSummary: ({ sample, suppressed, seconds }) => {
      const written = publish({
        ...sample,
        id: randomUUID(),
        reason: `${suppressed} more like this from the same source in ${seconds} s, not written one by one`,
        details: { ...(sample.details ?? {}), suppressed },
      }).catch((error: unknown) => options.logger.error({ err: error, action: sample.action }, 'audit summary not stored'));
      summaries.add(written);
      void written.finally(() => summaries.delete(written));
    },
  });

  const record = async (entry: AuditRecord): Promise<void> => {
    const key = throttleKey(entry);
    if (key === undefined || throttle.admit(key, entry)) {
      await publish(entry);
      return;
    }
    counter?.inc({ action: entry.action, result: 'suppressed' });
  };

  return {
    record,
    recordLater(entry) {
      record(entry).catch((error: unknown) => {
        options.logger.error({ err: error, action: entry.action }, 'audit event not stored');
      });
    },
    hashNumber,
    async flush() {
      throttle.flush();
      await Promise.all(summaries);
    },
  };
}
