import type { SuiteCrmObserver } from '@cti/suitecrm';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface CrmSyncMetrics {
  crmRequestSeconds: Histogram<'route' | 'outcome'>;
  crmRequestErrors: Counter<'route' | 'outcome'>;
  tokenRefreshes: Counter<'outcome'>;
  circuitOpen: Gauge;
  lookups: Counter<'source' | 'result'>;
  lookupSeconds: Histogram<'source'>;
  screenPopSeconds: Histogram<'source'>;
  indexRecords: Gauge;
  indexNumbers: Gauge;
  indexSyncs: Counter<'kind' | 'outcome'>;
  callsLogged: Counter<'status' | 'outcome'>;
  aiConversations: Counter<'correlation' | 'outcome'>;
}

export function createMetrics(registry: Registry): CrmSyncMetrics {
  const registers = [registry];
  return {
    crmRequestSeconds: new Histogram({
      name: 'cti_crm_request_seconds',
      help: 'SuiteCRM request time, by route template and outcome (HTTP status, timeout, network, circuit_open)',
      labelNames: ['route', 'outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    crmRequestErrors: new Counter({
      name: 'cti_crm_request_errors_total',
      help: 'SuiteCRM requests that did not succeed, by route template and outcome (HTTP status, timeout, network, circuit_open)',
      labelNames: ['route', 'outcome'],
      registers,
    }),
    tokenRefreshes: new Counter({
      name: 'cti_crm_token_refreshes_total',
      help: 'OAuth2 token requests to SuiteCRM, by outcome (ok, failed)',
      labelNames: ['outcome'],
      registers,
    }),
    circuitOpen: new Gauge({
      name: 'cti_crm_circuit_open',
      help: 'SuiteCRM circuit breaker: 1 open, 0.5 half open (one trial request), 0 closed',
      registers,
    }),
    lookups: new Counter({
      name: 'cti_crm_lookups_total',
      help: 'Caller lookups, by source (index, cache, live) and result (match, no_match, invalid_number, unavailable)',
      labelNames: ['source', 'result'],
      registers,
    }),
    lookupSeconds: new Histogram({
      name: 'cti_crm_lookup_seconds',
      help: 'Caller lookup time, by source (index, cache, live)',
      labelNames: ['source'],
      buckets: [0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    screenPopSeconds: new Histogram({
      name: 'cti_crm_screen_pop_seconds',
      help: 'Time from the call.ringing event to its crm.caller.identified being stored, in seconds, by lookup source',
      labelNames: ['source'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10],
      registers,
    }),
    indexRecords: new Gauge({ name: 'cti_crm_index_records', help: 'CRM records with a phone number in the phone index', registers }),
    indexNumbers: new Gauge({ name: 'cti_crm_index_numbers', help: 'Distinct normalised phone numbers in the phone index', registers }),
    indexSyncs: new Counter({
      name: 'cti_crm_index_syncs_total',
      help: 'Phone index syncs, by kind (full, incremental) and outcome (ok, failed)',
      labelNames: ['kind', 'outcome'],
      registers,
    }),
    callsLogged: new Counter({
      name: 'cti_crm_calls_logged_total',
      help: 'Calls handled by call logging, by status (Held, Not Held) and outcome (created, existing, deleted, skipped)',
      labelNames: ['status', 'outcome'],
      registers,
    }),
    aiConversations: new Counter({
      name: 'cti_crm_ai_conversations_total',
      help: 'AI conversations written to SuiteCRM, by correlation (call_id, number, none) and outcome (attached, own_record)',
      labelNames: ['correlation', 'outcome'],
      registers,
    }),
  };
}

/** Feeds the SuiteCRM client's request events into the metrics. */
export function crmObserver(metrics: CrmSyncMetrics): SuiteCrmObserver {
  return {
    requestFinished(event) {
      const outcome = String(event.outcome);
      metrics.crmRequestSeconds.observe({ route: event.route, outcome }, event.durationMs / 1000);
      if (typeof event.outcome !== 'number' || event.outcome >= 400) {
        metrics.crmRequestErrors.inc({ route: event.route, outcome });
      }
    },
    tokenRefreshed(outcome) {
      metrics.tokenRefreshes.inc({ outcome });
    },
    circuitChanged(state) {
      metrics.circuitOpen.set(state === 'open' ? 1 : state === 'half_open' ? 0.5 : 0);
    },
  };
}
