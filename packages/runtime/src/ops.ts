import { env } from '@cti/config';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

import type { Logger } from '@cti/logging';

/** One dependency a service needs to do its job; readiness fails while any check fails. */
export interface ReadinessCheck {
  name: string;
  /** Returns true when ready, or a short reason when not. Must answer within a second. */
  check: () => boolean | string | Promise<boolean | string>;
}

export interface OpsRoutesOptions {
  registry: Registry;
  checks: readonly ReadinessCheck[];
}

/**
 * Adds `GET /healthz` (the process answers), `GET /readyz` (every dependency works) and
 * `GET /metrics` (Prometheus text format) to a Fastify app.
 */
export function registerOpsRoutes(app: FastifyInstance, options: OpsRoutesOptions): void {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    const results = await Promise.all(
      options.checks.map(async ({ name, check }) => {
        try {
          const outcome = await check();
          return { name, ok: outcome === true, reason: outcome === true ? undefined : outcome === false ? 'not ready' : outcome };
        } catch (error) {
          return { name, ok: false, reason: error instanceof Error ? error.message : 'check failed' };
        }
      }),
    );
    const ready = results.every((result) => result.ok);
    const checks = Object.fromEntries(results.map((result) => [result.name, result.ok ? 'ok' : result.reason]));
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks });
  });

  app.get('/metrics', async (_request, reply) => {
    const body = await options.registry.metrics();
    return reply.header('content-type', options.registry.contentType).send(body);
  });
}

/** Config of the ops listener of services without public HTTP (ami-bridge, crm-sync). */
export const opsFields = {
  opsHost: env.string()('OPS_HOST', {
    description: 'address the health and metrics endpoints listen on; keep it on the internal network',
    default: '127.0.0.1',
  }),
  opsPort: env.port()('OPS_PORT', { description: 'port of the health and metrics endpoints (/healthz, /readyz, /metrics)', default: 9464 }),
};

/** Starts a small HTTP server with only the ops routes, for services that serve nothing else. */
export async function startOpsServer(
  options: OpsRoutesOptions & { host: string; port: number; logger: Logger },
): Promise<{ app: FastifyInstance; port: number; close: () => Promise<void> }> {
  const loggerInstance: FastifyBaseLogger = options.logger.child({ component: 'ops-http' });
  // Probes and scrapes arrive every few seconds; a log line per request would drown the rest.
  const app: FastifyInstance = Fastify({ loggerInstance, logController: new LogController({ disableRequestLogging: true }) });
  registerOpsRoutes(app, options);
  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  options.logger.info({ host: options.host, port }, 'ops endpoints listening');
  return { app, port, close: () => app.close() };
}
