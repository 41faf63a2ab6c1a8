import fastifyCors from '@fastify/cors';
import fastifyHelmet from '@fastify/helmet';
import fastifyRateLimit from '@fastify/rate-limit';
import fastifyWebsocket from '@fastify/websocket';
import type { Logger } from '@cti/logging';
import { boundedServerFactory, httpRouteOf, jsonClientErrorHandler, observeHttpRequests, registerOpsRoutes, RepeatThrottle, type ReadinessCheck } from '@cti/runtime';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';

import { PushError, PushErrorCode } from '../errors.js';
import { SUBPROTOCOL } from '../protocol.js';
import { isPeerGone } from '../session.js';
import { rejectAuthentication } from './auth.js';
import { auditApiRequests } from './request-audit.js';
import { registerCallRoutes } from './routes/calls.js';
import { registerConsoleRoutes } from './routes/console.js';
import { registerDemoRoutes } from './routes/demo.js';
import { registerTokenRoutes } from './routes/tokens.js';
import { registerWebSocketRoute } from './routes/websocket.js';
import type { GatewayServices } from './services.js';

export interface AppOptions {
  services: GatewayServices;
  logger: Logger;
  registry: Registry;
  readiness: readonly ReadinessCheck[];
}

const BODY_LIMIT_BYTES = 16 * 1024;

/** Builds the gateway's HTTP server: plugins, then routes. Listening is the caller's job. */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { services } = options;
  const { settings } = services;
  const loggerInstance: FastifyBaseLogger = options.logger.child({ component: 'http' });
  // Per-request lines are left out: rejections are logged by the error handler, and every
  // agent connection and click-to-dial writes its own line.
  const app = Fastify({
    loggerInstance,
    trustProxy: settings.trustProxy,
    bodyLimit: BODY_LIMIT_BYTES,
    // Bodies here are at most 16 KB: a request that has not arrived whole in this time is a
    // trickling client holding a socket, not a slow network.
    serverFactory: boundedServerFactory({ requestTimeoutMs: settings.requestTimeoutMs }),
    clientErrorHandler: jsonClientErrorHandler({
      codes: { timeout: PushErrorCode.REQUEST_TIMEOUT, headersTooLarge: PushErrorCode.HEADERS_TOO_LARGE, malformed: PushErrorCode.REQUEST_INVALID },
      body: (code, message) => ({ code, message }),
    }),
    logController: new LogController({ disableRequestLogging: true }),
  });
  app.decorateRequest('agent', null);
  app.decorateRequest('apiKey', null);
  observeHttpRequests(app, services.metrics.http);
  auditApiRequests(app, services.auditor);

  await app.register(fastifyHelmet, {
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        frameAncestors: ["'none'"],
        formAction: ["'self'"],
        // TLS ends at the load balancer, if anywhere: on a plain-HTTP demo or LAN install this
        // directive would send the console's scripts and socket to an https port that is not there.
        upgradeInsecureRequests: null,
      },
    },
    // The console opens CRM records in a new tab; their pages must not see the console's URL.
    referrerPolicy: { policy: 'no-referrer' },
  });
  await app.register(fastifyCors, {
    origin: (origin, callback) => callback(null, services.origins.allowsCrossOrigin(origin)),
    methods: ['GET', 'POST'],
    allowedHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key', 'X-API-Key'],
    maxAge: 600,
  });
  await app.register(fastifyRateLimit, {
    global: false,
    onExceeded: (request) => services.metrics.http.rateLimited.inc({ limit: httpRouteOf(request) }),
    errorResponseBuilder: (_request, context) =>
      new PushError(PushErrorCode.RATE_LIMITED, context.statusCode, `rate limit exceeded: at most ${context.max} requests a minute, retry in ${context.after}`),
  });
  await app.register(fastifyWebsocket, {
    options: {
      maxPayload: settings.maxInboundFrameBytes,
      // Compression would cost a zlib context per connection, far above the memory budget.
      perMessageDeflate: false,
      clientTracking: false,
      handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
    },
    preClose: async () => {
      await services.hub.shutdown();
    },
    // Socket errors a client causes (invalid UTF-8, an oversized frame, a reset) are logged by
    // the session at info level, and ws closes the socket with the matching code itself. The
    // plugin's default would log each one as an error with its stack and cut the close frame.
    errorHandler: (error, socket, request) => {
      const code = (error as NodeJS.ErrnoException).code;
      if (code?.startsWith('WS_ERR_') === true || isPeerGone(code)) {
        return;
      }
      request.log.error({ err: error }, 'websocket handler failed');
      socket.terminate();
    },
  });

  app.addHook('onRequest', async (request) => {
    // The WebSocket route checks the origin itself, so it can count and audit the refusal.
    if (request.url.startsWith('/v1/') && !services.origins.allows(request)) {
      throw rejectAuthentication(
        services,
        request,
        'origin',
        'disallowed_origin',
        new PushError(PushErrorCode.ORIGIN_REJECTED, 403, 'origin not allowed: add it to PUSH_ALLOWED_ORIGINS'),
      );
    }
  });

  // A client without credentials can cause rejections as fast as it sends requests: past the
  // first few per address and code a minute, they are counted in one summary line.
  const rejections = new RepeatThrottle<{ ip: string; code: string }>({
    windowMs: 60_000,
    freePerWindow: 20,
    maxKeys: 10_000,
    onSummary: ({ sample, suppressed, seconds }) =>
      loggerInstance.info({ ip: sample.ip, code: sample.code, suppressed, seconds }, 'further rejected requests from this address not logged one by one'),
  });
  app.addHook('onClose', async () => rejections.flush());
  const logRejection = (request: FastifyRequest, code: string, fields: Record<string, unknown>) => {
    if (rejections.admit(`${request.ip}|${code}`, { ip: request.ip, code })) {
      request.log.info({ ...fields, ip: request.ip }, 'request rejected');
    }
  };

  app.setErrorHandler((error: FastifyError | PushError, request, reply) => {
    if (error instanceof PushError) {
      if (error.statusCode >= 500) {
        request.log.error({ code: error.code, status: error.statusCode, route: request.routeOptions.url }, 'request rejected');
      } else {
        logRejection(request, error.code, { code: error.code, status: error.statusCode, route: request.routeOptions.url });
      }
      return reply.code(error.statusCode).send({ code: error.code, message: error.message });
    }
    const status = error.statusCode ?? 500;
    if (status < 500) {
      logRejection(request, error.code ?? String(status), { status, route: request.routeOptions.url, reason: error.code });
      return reply.code(status).send({ code: PushErrorCode.REQUEST_INVALID, message: `invalid request: ${error.message}` });
    }
    request.log.error({ err: error, route: request.routeOptions.url }, 'request failed');
    return reply.code(500).send({ code: PushErrorCode.INTERNAL, message: 'internal error' });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ code: PushErrorCode.NOT_FOUND, message: `no route ${request.method} ${request.url.split('?')[0] ?? ''}` }),
  );

  registerOpsRoutes(app, { registry: options.registry, checks: options.readiness });
  registerTokenRoutes(app, services);
  registerCallRoutes(app, services);
  registerDemoRoutes(app, services);
  registerWebSocketRoute(app, services);
  await registerConsoleRoutes(app);
  return app;
}
