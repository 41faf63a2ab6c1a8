import { Counter, Histogram, type Registry } from 'prom-client';

/** Metrics of webhook-ingress. Labels have a fixed, small set of values. */
export interface IngressMetrics {
  /** Completed requests, by route and outcome. */
  requests: Counter<'route' | 'outcome'>;
  requestSeconds: Histogram<'route'>;
  /** Rejected authentication, by route and reason (signature failure reason, bad header secret, source). */
  authFailures: Counter<'route' | 'reason'>;
  /** Verified signatures, by position of the secret that matched: `0` is the first configured. */
  signaturesVerified: Counter<'secret'>;
  /** Stored and duplicate deliveries, by webhook type (unknown types are counted as `unknown`). */
  deliveries: Counter<'type' | 'result'>;
  callerLookups: Counter<'outcome'>;
  audioBytes: Counter;
  /** Deliveries rejected with 503 because the body budget was full. */
  bodyBudgetRejections: Counter;
}

export function createIngressMetrics(registry: Registry): IngressMetrics {
  const registers = [registry];
  return {
    requests: new Counter({
      name: 'cti_webhook_requests_total',
      help: 'Webhook requests completed, by route (post_call, conversation_init) and outcome',
      labelNames: ['route', 'outcome'],
      registers,
    }),
    requestSeconds: new Histogram({
      name: 'cti_webhook_request_seconds',
      help: 'Time from request start to response, in seconds, by route',
      labelNames: ['route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 1.5, 2.5, 5, 10],
      registers,
    }),
    authFailures: new Counter({
      name: 'cti_webhook_auth_failures_total',
      help: 'Requests rejected before processing, by route and reason (header_missing, signature_mismatch, timestamp_expired, source_not_allowed, ...)',
      labelNames: ['route', 'reason'],
      registers,
    }),
    signaturesVerified: new Counter({
      name: 'cti_webhook_signatures_verified_total',
      help: 'Valid signatures by position of the matching secret in ELEVENLABS_WEBHOOK_SECRETS (0 = first); a retired secret shows no new counts',
      labelNames: ['secret'],
      registers,
    }),
    deliveries: new Counter({
      name: 'cti_webhook_deliveries_total',
      help: 'Verified post-call deliveries, by webhook type and result (stored, duplicate)',
      labelNames: ['type', 'result'],
      registers,
    }),
    callerLookups: new Counter({
      name: 'cti_webhook_caller_lookups_total',
      help: 'Caller lookups for conversation-init, by outcome (match, no_match, no_caller_id, invalid_number, unavailable, timeout, no_responder, failed)',
      labelNames: ['outcome'],
      registers,
    }),
    audioBytes: new Counter({
      name: 'cti_webhook_audio_bytes_total',
      help: 'Bytes of conversation audio written to the object store',
      registers,
    }),
    bodyBudgetRejections: new Counter({
      name: 'cti_webhook_body_budget_rejections_total',
      help: 'Deliveries rejected with 503 because the bodies being received at once already filled WEBHOOK_BODY_BYTES_IN_FLIGHT',
      registers,
    }),
  };
}
