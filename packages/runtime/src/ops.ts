import { env } from '@cti/config';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { Gauge, type Registry } from 'prom-client';

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

/** Outcome of one readiness check: `ok`, or why the dependency does not work. */
export interface CheckResult {
  name: string;
  ok: boolean;
  reason: string | undefined;
}

/** A check that has not returned by then counts as failed, so /readyz never hangs on one. */
export const CHECK_TIMEOUT_MS = 1000;

async function runCheck({ name, check }: ReadinessCheck): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`check timed out after ${CHECK_TIMEOUT_MS} ms`), CHECK_TIMEOUT_MS);
  });
  try {
    const outcome = await Promise.race([Promise.resolve().then(check), timeout]);
    if (outcome === true) {
      return { name, ok: true, reason: undefined };
    }
    return { name, ok: false, reason: outcome === false ? 'not ready' : outcome };
  } catch (error) {
    return { name, ok: false, reason: error instanceof Error ? error.message : 'check failed' };
  } finally {
    clearTimeout(timer);
  }
}

/** Runs every readiness check at once. */
export function evaluateReadiness(checks: readonly ReadinessCheck[]): Promise<CheckResult[]> {
  return Promise.all(checks.map(runCheck));
}

/**
 * Exposes readiness as metrics, evaluated on each scrape: `cti_ready` (1 or 0) and one
 * `cti_readiness_check` series per check, so an alert names the dependency that failed. Prometheus
 * scrapes /metrics, never /readyz, so without these a service that is up but cannot work would
 * look healthy to it.
 */
function registerReadinessMetrics(registry: Registry, checks: readonly ReadinessCheck[]): void {
  if (registry.getSingleMetric('cti_ready') !== undefined) {
    return;
  }
  let pending: Promise<CheckResult[]> | undefined;
  // Both gauges are collected in the same scrape; they share one run of the checks.
  const results = (): Promise<CheckResult[]> => {
    pending ??= evaluateReadiness(checks).finally(() => {
      pending = undefined;
    });
    return pending;
  };
  new Gauge({
    name: 'cti_ready',
    help: '1 while every dependency of the service works (the same checks as GET /readyz), else 0',
    registers: [registry],
    async collect() {
      this.set((await results()).every((result) => result.ok) ? 1 : 0);
    },
  });
  new Gauge({
    name: 'cti_readiness_check',
    help: '1 while this readiness check passes (nats, ami, suitecrm, ...), else 0',
    labelNames: ['check'],
    registers: [registry],
    async collect() {
      for (const result of await results()) {
        this.set({ check: result.name }, result.ok ? 1 : 0);
      }
    },
  });
}

/**
 * Adds `GET /healthz` (the process answers), `GET /readyz` (every dependency works) and
 * `GET /metrics` (Prometheus text format) to a Fastify app, and the readiness gauges to the registry.
 */
export function registerOpsRoutes(app: FastifyInstance, options: OpsRoutesOptions): void {
  registerReadinessMetrics(options.registry, options.checks);

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    const results = await evaluateReadiness(options.checks);
    const ready = results.every((result) => result.ok);
    const checks = Object.fromEntries(results.map((result) => [result.name, result.ok ? 'ok' : result.reason]));
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', checks });
  });

  app.get('/metrics', async (_request, reply) => {
    const body = await options.registry.metrics();
    return reply.header('content-type', options.registry.contentType).send(body);
  });
}

/**
 * Default ops ports of the services without public HTTP. They differ, so both services run on one
 * host without OPS_PORT set; in containers each can keep its own.
 */
export const DEFAULT_OPS_PORTS = { 'ami-bridge': 9464, 'crm-sync': 9465 } as const;

/** Config of the ops listener of services without public HTTP (ami-bridge, crm-sync). */
export const opsFields = {
  opsHost: env.string()('OPS_HOST', {
    description: 'address the health and metrics endpoints listen on; keep it on the internal network',
    default: '127.0.0.1',
  }),
  opsPort: env.port()('OPS_PORT', {
    description: `port of the health and metrics endpoints (/healthz, /readyz, /metrics); with neither OPS_PORT nor PORT set, ami-bridge listens on ${DEFAULT_OPS_PORTS['ami-bridge']} and crm-sync on ${DEFAULT_OPS_PORTS['crm-sync']}, so set it per service, never in a file both read`,
    optional: true,
    fallback: 'PORT',
  }),
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
