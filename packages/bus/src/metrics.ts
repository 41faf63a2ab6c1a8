import { Counter, Histogram, type Registry } from 'prom-client';

/**
 * Bus metrics, labelled by message name (`call.ringing`), not by subject: subjects carry
 * extensions, and one series per extension would grow without bound.
 */
export interface BusMetrics {
  published: Counter<'message' | 'result'>;
  received: Counter<'message' | 'consumer'>;
  handled: Counter<'message' | 'consumer' | 'outcome'>;
  handlerSeconds: Histogram<'message' | 'consumer'>;
  redeliveries: Counter<'message' | 'consumer'>;
  deadLettered: Counter<'message' | 'consumer' | 'reason'>;
  requests: Counter<'request' | 'outcome'>;
  served: Counter<'request' | 'outcome'>;
  serveSeconds: Histogram<'request'>;
}

export function createBusMetrics(registry: Registry): BusMetrics {
  const registers = [registry];
  return {
    published: new Counter({
      name: 'cti_bus_published_total',
      help: 'Messages published to JetStream, by message name and result (stored, duplicate, failed)',
      labelNames: ['message', 'result'],
      registers,
    }),
    received: new Counter({
      name: 'cti_bus_received_total',
      help: 'Messages delivered to a durable consumer, redeliveries included',
      labelNames: ['message', 'consumer'],
      registers,
    }),
    handled: new Counter({
      name: 'cti_bus_handled_total',
      help: 'Messages handled by a consumer, by outcome (acked, retried, dead_lettered, skipped)',
      labelNames: ['message', 'consumer', 'outcome'],
      registers,
    }),
    handlerSeconds: new Histogram({
      name: 'cti_bus_handler_seconds',
      help: 'Time a consumer handler took per message, in seconds',
      labelNames: ['message', 'consumer'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    redeliveries: new Counter({
      name: 'cti_bus_redeliveries_total',
      help: 'Deliveries of a message after the first one',
      labelNames: ['message', 'consumer'],
      registers,
    }),
    deadLettered: new Counter({
      name: 'cti_bus_dead_lettered_total',
      help: 'Messages sent to the dead-letter stream, by reason (undecodable, permanent, max_deliveries)',
      labelNames: ['message', 'consumer', 'reason'],
      registers,
    }),
    requests: new Counter({
      name: 'cti_bus_requests_total',
      help: 'Request/reply calls made, by request name and outcome (ok, timeout, no_responder, rejected, failed)',
      labelNames: ['request', 'outcome'],
      registers,
    }),
    served: new Counter({
      name: 'cti_bus_served_total',
      help: 'Requests this service replied to, by request name and outcome (ok, invalid, failed)',
      labelNames: ['request', 'outcome'],
      registers,
    }),
    serveSeconds: new Histogram({
      name: 'cti_bus_serve_seconds',
      help: 'Time a request handler took to reply, in seconds',
      labelNames: ['request'],
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
  };
}
