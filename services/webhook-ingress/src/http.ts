import type { Logger } from '@cti/logging';
import type { Auditor, RepeatThrottle } from '@cti/runtime';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

import { WebhookError, WebhookErrorCode } from './errors.js';
import type { IngressMetrics } from './metrics.js';
import type { ParsedSignatureHeader } from './signature.js';

export type RouteName = 'post_call' | 'conversation_init' | 'other';

/** Outcome and context of one request, filled in by the hooks and logged once at the end. */
export interface RequestState {
  route: RouteName;
  outcome?: string;
  reason?: string;
  webhookType?: string;
  conversationId?: string;
  sequence?: number;
  lookupStatus?: string;
  lookupMs?: number;
  /** Position of the webhook secret that verified the signature (0 is the first configured). */
  secretIndex?: number;
  signature?: ParsedSignatureHeader;
  /** Bytes of this request charged to the body budget, released when its response is sent. */
  reservedBytes?: number | undefined;
  error?: unknown;
}

/**
 * Request decoration that contains the state. A decoration declared up front keeps every request
 * object the same shape, which V8 handles faster than a side table keyed by request.
 */
export const kRequestState = Symbol('webhookIngress.requestState');

type StatefulRequest = FastifyRequest & { [kRequestState]: RequestState | null };

export function decorateRequestState(app: FastifyInstance): void {
  app.decorateRequest(kRequestState, null);
}

export function stateOf(request: FastifyRequest): RequestState {
  const stateful = request as StatefulRequest;
  let state = stateful[kRequestState];
  if (state === null || state === undefined) {
    state = { route: 'other' };
    stateful[kRequestState] = state;
  }
  return state;
}

/** onRequest hook that tags the request with its route, for logs and metrics. */
export function markRoute(route: RouteName) {
  return async (request: FastifyRequest): Promise<void> => {
    stateOf(request).route = route;
  };
}

export interface AuthRejection {
  metrics: IngressMetrics;
  auditor: Pick<Auditor, 'recordLater'>;
}

/**
 * Counts, audits and returns the error for a request rejected before it was processed: a bad
 * signature, a bad shared secret or a source outside the allow-list. The audit event names the
 * route, the client address and the reason, never the header's content.
 */
export function rejectAuth(
  request: FastifyRequest,
  reason: string,
  code: typeof WebhookErrorCode.SIGNATURE_INVALID | typeof WebhookErrorCode.AUTH_INVALID | typeof WebhookErrorCode.SOURCE_FORBIDDEN,
  dependencies: AuthRejection,
): WebhookError {
  const state = stateOf(request);
  state.reason = reason;
  dependencies.metrics.authFailures.inc({ route: state.route, reason });
  dependencies.auditor.recordLater({
    action: 'auth_failed',
    outcome: 'denied',
    actor: { type: 'remote', ip: request.ip.slice(0, 64) },
    target: { type: 'webhook', id: request.url.split('?')[0]?.slice(0, 256) ?? '' },
    reason,
  });
  // One fixed text per code: the client learns that it failed, not why.
  const text =
    code === WebhookErrorCode.SOURCE_FORBIDDEN
      ? 'source address not allowed'
      : code === WebhookErrorCode.AUTH_INVALID
        ? 'authentication failed'
        : 'signature verification failed';
  return new WebhookError(code, text);
}

const FASTIFY_ERRORS: Record<string, { code: WebhookErrorCode; message: string }> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: WebhookErrorCode.CONTENT_TYPE_UNSUPPORTED, message: 'unsupported content type: send application/json' },
  FST_ERR_CTP_BODY_TOO_LARGE: { code: WebhookErrorCode.BODY_TOO_LARGE, message: 'request body is larger than this route accepts' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: WebhookErrorCode.BODY_NOT_JSON, message: 'request body length does not match Content-Length' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: WebhookErrorCode.BODY_NOT_JSON, message: 'request body is empty' },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: WebhookErrorCode.BODY_NOT_JSON, message: 'request body is not valid JSON' },
};

/** Maps anything thrown while handling a request to the error response to send. */
export function toWebhookError(error: unknown): WebhookError {
  if (error instanceof WebhookError) {
    return error;
  }
  const fastifyError = error as Partial<FastifyError>;
  const known = fastifyError.code === undefined ? undefined : FASTIFY_ERRORS[fastifyError.code];
  if (known !== undefined) {
    return new WebhookError(known.code, known.message, { cause: error });
  }
  if (error instanceof SyntaxError && fastifyError.statusCode === 400) {
    return new WebhookError(WebhookErrorCode.BODY_NOT_JSON, 'request body is not valid JSON', { cause: error });
  }
  return new WebhookError(WebhookErrorCode.INTERNAL, 'internal error', { cause: error });
}

export function sendError(request: FastifyRequest, reply: FastifyReply, error: WebhookError): FastifyReply {
  const state = stateOf(request);
  state.outcome = error.code.replace('CTI_ERR_WEBHOOK_', '').toLowerCase();
  // A full body budget is the client's load, not a fault of the service: no error to log.
  if (error.statusCode >= 500 && error.code !== WebhookErrorCode.BUSY) {
    state.error = error.cause ?? error;
  }
  if (error.retryAfterSeconds !== undefined) {
    reply.header('retry-after', String(error.retryAfterSeconds));
  }
  const body = { error: { code: error.code, message: error.message, ...(error.path === undefined ? {} : { path: error.path }) } };
  return reply.code(error.statusCode).type('application/json; charset=utf-8').send(body);
}

const OPS_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * Writes one `api_request` audit event per completed webhook request: who (the client address),
 * what (the route, webhook type and conversation) and the result (status and outcome). Requests
 * that the rate limit or the body budget turned away (429, 503 busy) are counted in metrics but
 * not audited one by one, and so are requests to no webhook route: a flood must not push older
 * audit events out of a size-limited stream.
 */
export function auditRequest(auditor: Pick<Auditor, 'recordLater'>, request: FastifyRequest, reply: FastifyReply): void {
  const state = stateOf(request);
  if (state.route === 'other' || reply.statusCode === 429 || state.outcome === 'busy') {
    return;
  }
  const statusCode = reply.statusCode;
  let outcome: 'success' | 'denied' | 'failure' = 'failure';
  if (statusCode < 400) {
    outcome = 'success';
  } else if (statusCode === 401 || statusCode === 403) {
    outcome = 'denied';
  }
  auditor.recordLater({
    action: 'api_request',
    outcome,
    actor: { type: 'remote', ip: request.ip.slice(0, 64) },
    target: { type: 'webhook', id: state.route },
    ...(state.reason === undefined ? {} : { reason: state.reason }),
    details: {
      status: statusCode,
      outcome: state.outcome ?? (statusCode < 400 ? 'ok' : `status_${statusCode}`),
      ...(state.webhookType === undefined ? {} : { webhookType: state.webhookType.slice(0, 128) }),
      ...(state.conversationId === undefined ? {} : { conversationId: state.conversationId }),
      ...(state.secretIndex === undefined ? {} : { secret: state.secretIndex }),
      ...(state.lookupStatus === undefined ? {} : { lookupStatus: state.lookupStatus }),
    },
  });
}

/**
 * Writes one line per completed webhook request and updates the request metrics. The level
 * follows who must act: 5xx and an event too large to store are errors, a rejected signature
 * or source a warning (a wrong secret after a rotation looks like this), any other 4xx is info.
 */
export function logResponse(
  logger: Logger,
  metrics: IngressMetrics,
  request: FastifyRequest,
  reply: FastifyReply,
  rejections?: RepeatThrottle<{ route: string; ip: string; outcome: string }>,
): void {
  if (OPS_PATHS.has(request.routeOptions.url ?? '')) {
    return;
  }
  const state = stateOf(request);
  const statusCode = reply.statusCode;
  const outcome = state.outcome ?? (statusCode < 400 ? 'ok' : `status_${statusCode}`);
  metrics.requests.inc({ route: state.route, outcome });
  metrics.requestSeconds.observe({ route: state.route }, reply.elapsedTime / 1000);

  const fields = {
    reqId: request.id,
    route: state.route,
    statusCode,
    outcome,
    durationMs: Math.round(reply.elapsedTime * 10) / 10,
    ip: request.ip,
    ...(state.reason === undefined ? {} : { reason: state.reason }),
    ...(state.webhookType === undefined ? {} : { webhookType: state.webhookType }),
    ...(state.conversationId === undefined ? {} : { conversationId: state.conversationId }),
    ...(state.sequence === undefined ? {} : { sequence: state.sequence }),
    ...(state.lookupStatus === undefined ? {} : { lookupStatus: state.lookupStatus, lookupMs: state.lookupMs }),
    ...(state.error === undefined ? {} : { err: state.error }),
  };

  // A client can cause 4xx responses, and the 503 of a full body budget, as fast as it sends
  // requests. They are counted either way, and past the first few per source, outcome and minute
  // they are logged as one summary line.
  const clientCaused = outcome === 'busy' || (statusCode >= 400 && statusCode < 500 && outcome !== 'event_too_large');
  if (clientCaused && rejections !== undefined && !rejections.admit(`${state.route}|${request.ip}|${outcome}`, { route: state.route, ip: request.ip, outcome })) {
    return;
  }

  if (outcome === 'busy') {
    logger.warn(fields, 'webhook delivery deferred: the body budget is full');
  } else if (statusCode >= 500) {
    logger.error(fields, 'webhook request failed');
  } else if (outcome === 'event_too_large') {
    // ElevenLabs does not retry a 4xx, so this delivery is lost unless an operator fetches it.
    logger.error(fields, 'webhook delivery too large to store');
  } else if (statusCode === 401 || statusCode === 403) {
    logger.warn(fields, 'webhook request rejected');
  } else if (statusCode >= 400) {
    logger.info(fields, 'webhook request rejected');
  } else if (state.route === 'conversation_init') {
    logger.info(fields, 'conversation-init response sent');
  } else if (outcome === 'duplicate') {
    logger.info(fields, 'duplicate webhook delivery acknowledged');
  } else {
    logger.info(fields, 'webhook delivery stored');
  }
}
