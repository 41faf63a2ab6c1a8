import rateLimit from '@fastify/rate-limit';
import type { Publisher } from '@cti/bus';
import type { Logger } from '@cti/logging';
import { boundedServerFactory, createHttpMetrics, jsonClientErrorHandler, httpRouteOf, observeHttpRequests, registerOpsRoutes, RepeatThrottle, type Auditor } from '@cti/runtime';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyRequest,
  type FastifyServerOptions,
} from 'fastify';
import { Gauge, type Registry } from 'prom-client';

import type { AudioStore } from './audio-store.js';
import { BodyBudget } from './body-budget.js';
import type { CallerLookup } from './conversation-init.js';
import { WebhookError, WebhookErrorCode } from './errors.js';
import { auditRequest, decorateRequestState, logResponse, rejectAuth, sendError, toWebhookError } from './http.js';
import { createIngressMetrics, type IngressMetrics } from './metrics.js';
import { createSourceFilter, type TrustProxySetting } from './network.js';
import { conversationInitRoutes } from './routes/conversation-init.js';
import { postCallRoutes } from './routes/post-call.js';
import { helmetHeaders } from './security-headers.js';
import type { TimestampWindow } from './signature.js';

export interface IngressAppOptions {
  webhookSecrets: readonly string[];
  window: TimestampWindow;
  /** Conversation-init settings; without them the route does not exist. */
  conversationInit: { secrets: readonly string[]; header: string; lookupTimeoutMs: number } | undefined;
  allowedIps: readonly string[] | undefined;
  /** Time a whole request may take to arrive, in milliseconds. */
  requestTimeoutMs: number;
  /** Body limit of every route but the post-call webhook. */
  bodyLimitBytes: number;
  postCallBodyLimitBytes: number;
  /** Bytes of unverified post-call bodies buffered at once, across all requests. */
  bodyBytesInFlight: number;
  rateLimit: { max: number; windowSeconds: number };
  retryAfterSeconds: number;
  /** Largest serialized event the AI stream and the NATS connection accept. */
  maxEventBytes: number;
  trustProxy: TrustProxySetting;
  /** Key and certificate for native HTTPS; plain HTTP without them. */
  https: { key: Buffer; cert: Buffer } | undefined;

  logger: Logger;
  registry: Registry;
  publisher: Publisher;
  audioStore: AudioStore;
  lookupCaller: CallerLookup;
  isBusConnected: () => boolean;
  auditor: Pick<Auditor, 'recordLater'>;
  /** Whether audit events may carry a caller number as its keyed hash (PHONE_HASH_KEY is set). */
  auditNumbers?: boolean;
  /** Clock for signature timestamps and `receivedAt`; tests pin it to the fixtures' time. */
  now?: () => number;
}

// A year, with subdomains, as recommended for HSTS once HTTPS is known to work on the host.
const HSTS_MAX_AGE_SECONDS = 365 * 24 * 60 * 60;

function createFastify(options: IngressAppOptions): FastifyInstance {
  return Fastify({
    loggerInstance: options.logger.child({ component: 'http' }) as FastifyBaseLogger,
    // One line per request is written by `logResponse`, with the outcome, not Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: trustProxyOption(options.trustProxy),
    bodyLimit: options.bodyLimitBytes,
    return503OnClosing: true,
    // A client that trickles its body pins its buffer: the whole request must arrive in this
    // time. With a certificate the same factory serves native HTTPS.
    serverFactory: boundedServerFactory({ requestTimeoutMs: options.requestTimeoutMs, tls: options.https }),
    clientErrorHandler: jsonClientErrorHandler({
      codes: { timeout: WebhookErrorCode.REQUEST_TIMEOUT, headersTooLarge: WebhookErrorCode.HEADERS_TOO_LARGE, malformed: WebhookErrorCode.REQUEST_MALFORMED },
      body: (code, message) => ({ error: { code, message } }),
    }),
  });
}

/**
 * Fastify passes `trustProxy` to proxy-addr, which takes a hop count too, but its types do not
 * list numbers; a hop count becomes the equivalent function.
 */
function trustProxyOption(setting: TrustProxySetting): FastifyServerOptions['trustProxy'] {
  if (typeof setting !== 'number') {
    return setting;
  }
  return (_address: string, hop: number) => hop < setting;
}

/** Builds the HTTP side of webhook-ingress; `main.ts` gives it the bus and listens. */
export async function buildIngressApp(options: IngressAppOptions): Promise<{ app: FastifyInstance; metrics: IngressMetrics }> {
  const metrics = createIngressMetrics(options.registry);
  const http = createHttpMetrics(options.registry);
  const now = options.now ?? Date.now;
  const app = createFastify(options);
  decorateRequestState(app);
  observeHttpRequests(app, http);

  const securityHeaders = helmetHeaders({
    hsts: { maxAge: HSTS_MAX_AGE_SECONDS, includeSubDomains: true },
    contentSecurityPolicy: { directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
  });
  app.addHook('onRequest', (_request, reply, done) => {
    reply.headers(securityHeaders);
    done();
  });
  await app.register(rateLimit, {
    global: false,
    onExceeded: (request) => http.rateLimited.inc({ limit: httpRouteOf(request) }),
    errorResponseBuilder: (_request, context) =>
      new WebhookError(WebhookErrorCode.RATE_LIMITED, `too many requests, retry in ${context.after}`, {
        retryAfterSeconds: Math.max(1, Math.ceil(context.ttl / 1000)),
      }),
  });

  app.setErrorHandler((error, request, reply) => sendError(request, reply, toWebhookError(error)));
  app.setNotFoundHandler((request, reply) =>
    sendError(request, reply, new WebhookError(WebhookErrorCode.NOT_FOUND, `no route for ${request.method} ${request.url.split('?')[0] ?? ''}`)),
  );
  const rejections = new RepeatThrottle<{ route: string; ip: string; outcome: string }>({
    windowMs: 60_000,
    freePerWindow: 20,
    maxKeys: 10_000,
    onSummary: ({ sample, suppressed, seconds }) =>
      options.logger.warn({ route: sample.route, ip: sample.ip, outcome: sample.outcome, suppressed, seconds }, 'further webhook rejections from this source not logged one by one'),
  });
  app.addHook('onClose', async () => rejections.flush());
  app.addHook('onResponse', async (request, reply) => {
    logResponse(options.logger, metrics, request, reply, rejections);
    auditRequest(options.auditor, request, reply);
  });

  registerOpsRoutes(app, {
    registry: options.registry,
    checks: [{ name: 'nats', check: () => options.isBusConnected() || 'not connected to NATS' }],
  });

  const rejection = { metrics, auditor: options.auditor };
  const isAllowed = createSourceFilter(options.allowedIps);
  const sourceCheck =
    isAllowed === undefined
      ? undefined
      : async (request: FastifyRequest): Promise<void> => {
          if (!isAllowed(request.ip)) {
            throw rejectAuth(request, 'source_not_allowed', WebhookErrorCode.SOURCE_FORBIDDEN, rejection);
          }
        };
  const routeRateLimit = { max: options.rateLimit.max, timeWindow: options.rateLimit.windowSeconds * 1000 };

  const bodyBudget = new BodyBudget(options.bodyBytesInFlight);
  new Gauge({
    name: 'cti_webhook_body_bytes_in_flight',
    help: 'Bytes of post-call bodies being received now, before their signatures are checked; at WEBHOOK_BODY_BYTES_IN_FLIGHT further deliveries get 503',
    registers: [options.registry],
    collect() {
      this.set(bodyBudget.reserved);
    },
  });
  await app.register(postCallRoutes, {
    ...rejection,
    secrets: options.webhookSecrets,
    window: options.window,
    bodyLimitBytes: options.postCallBodyLimitBytes,
    bodyBudget,
    rateLimit: routeRateLimit,
    sourceCheck,
    ingest: {
      publisher: options.publisher,
      audioStore: options.audioStore,
      isBusConnected: options.isBusConnected,
      logger: options.logger,
      metrics,
      retryAfterSeconds: options.retryAfterSeconds,
      maxEventBytes: options.maxEventBytes,
      now,
    },
  });

  if (options.conversationInit !== undefined) {
    await app.register(conversationInitRoutes, {
      ...rejection,
      secrets: options.conversationInit.secrets,
      header: options.conversationInit.header,
      lookup: options.lookupCaller,
      lookupTimeoutMs: options.conversationInit.lookupTimeoutMs,
      auditNumbers: options.auditNumbers ?? false,
      rateLimit: routeRateLimit,
      sourceCheck,
      logger: options.logger,
    });
  }
  return { app, metrics };
}
