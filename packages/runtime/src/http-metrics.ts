import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Counter, Histogram, type Registry } from 'prom-client';

/** Request metrics of a public HTTP service, and the counter its rate limits report to. */
export interface HttpMetrics {
  requests: Counter<'route' | 'method' | 'status'>;
  requestSeconds: Histogram<'route' | 'method'>;
  /**
   * Requests, frames or attempts turned away by a rate limit, by limit: the route template of an
   * HTTP limit (`/v1/calls`), or the name of another limiter (`auth_failures`, `inbound_frames`).
   */
  rateLimited: Counter<'limit'>;
}

const OPS_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

/** Creates the request and rate-limit metrics of a public HTTP service. */
export function createHttpMetrics(registry: Registry): HttpMetrics {
  const registers = [registry];
  return {
    requests: new Counter({
      name: 'cti_http_requests_total',
      help: 'HTTP requests completed, by route template, method and status code',
      labelNames: ['route', 'method', 'status'],
      registers,
    }),
    requestSeconds: new Histogram({
      name: 'cti_http_request_seconds',
      help: 'Time from request start to response, in seconds, by route template and method',
      labelNames: ['route', 'method'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    rateLimited: new Counter({
      name: 'cti_rate_limit_rejections_total',
      help: 'Requests, frames or attempts rejected by a rate limit, by limit (route template or limiter name)',
      labelNames: ['limit'],
      registers,
    }),
  };
}

/**
 * Counts every completed request by route template, method and status code, and times it. The
 * route is the template (`/v1/calls`), never the raw URL, so the series stay bounded; requests that
 * matched no route count as `unmatched`. The ops routes are left out: Prometheus and the probes
 * call them every few seconds.
 */
export function observeHttpRequests(app: FastifyInstance, metrics: HttpMetrics): void {
  app.addHook('onResponse', async (request, reply) => {
    const route = httpRouteOf(request);
    if (OPS_ROUTES.has(route)) {
      return;
    }
    metrics.requests.inc({ route, method: request.method, status: String(reply.statusCode) });
    metrics.requestSeconds.observe({ route, method: request.method }, reply.elapsedTime / 1000);
  });
}

/** Route template of a request, or `unmatched` when it matched no route. */
export function httpRouteOf(request: FastifyRequest): string {
  return request.routeOptions.url ?? 'unmatched';
}
