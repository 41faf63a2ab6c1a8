import type { Logger } from '@cti/logging';
import type { Auditor } from '@cti/runtime';
import type { FastifyRequest } from 'fastify';

import type { ApiKeyEntry, ApiKeyStore } from '../api-keys.js';
import { PushError, PushErrorCode } from '../errors.js';
import type { PushMetrics } from '../metrics.js';
import { TOKEN_SUBPROTOCOL_PREFIX } from '../protocol.js';
import { rejectionReason, verifyAgentToken, type AgentClaims, type AgentTokenKeys } from '../tokens.js';
import { WindowCounter } from '../window-counter.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified agent token of an agent request or WebSocket upgrade. */
    agent: AgentClaims | null;
    /** The API key of a token request. */
    apiKey: ApiKeyEntry | null;
  }
}

export type Credential = 'agent_token' | 'api_key' | 'origin';

/**
 * Counts failed authentications per client address. Once an address is over the limit, its
 * further failures get 429 and are counted but not audited or logged one by one, which bounds
 * what a flood of bad requests costs. Valid credentials from that address still pass: a whole
 * contact centre often shares one public address, and one misbehaving client must not lock the
 * others out.
 */
export class AuthFailureLimiter {
  readonly #failures: WindowCounter;

  constructor(limitPerMinute: number, clock: () => number) {
    this.#failures = new WindowCounter(limitPerMinute, clock);
  }

  isBlocked(address: string): boolean {
    return this.#failures.isExhausted(address);
  }

  recordFailure(address: string): void {
    this.#failures.record(address);
  }
}

export interface AuthDependencies {
  tokenKeys: AgentTokenKeys;
  apiKeys: ApiKeyStore;
  limiter: AuthFailureLimiter;
  metrics: PushMetrics;
  auditor: Pick<Auditor, 'recordLater'>;
  logger: Logger;
  clock: () => number;
}

/**
 * Counts, logs and audits one rejected authentication, then returns the error to send back. An
 * address over the failure limit gets a 429 instead, counted but not audited.
 */
export function rejectAuthentication(
  deps: AuthDependencies,
  request: FastifyRequest,
  credential: Credential,
  reason: string,
  error: PushError,
  actorId?: string,
): PushError {
  if (deps.limiter.isBlocked(request.ip)) {
    deps.metrics.authFailures.inc({ credential, reason: 'rate_limited' });
    deps.metrics.http.rateLimited.inc({ limit: 'auth_failures' });
    return new PushError(PushErrorCode.AUTH_RATE_LIMITED, 429, 'too many failed authentications from this address: wait a minute');
  }
  deps.metrics.authFailures.inc({ credential, reason });
  deps.limiter.recordFailure(request.ip);
  deps.logger.info({ credential, reason, ip: request.ip, route: request.routeOptions.url, ...(actorId === undefined ? {} : { actorId }) }, 'authentication rejected');
  deps.auditor.recordLater({
    action: 'auth_failed',
    outcome: 'denied',
    actor: { type: credential === 'api_key' ? 'api_key' : 'agent', ip: request.ip, ...(actorId === undefined ? {} : { id: actorId }) },
    reason,
    details: { credential, route: request.routeOptions.url ?? request.url.split('?')[0] ?? '' },
  });
  return error;
}

/** The agent token of a request: the `cti.token.<token>` WebSocket protocol, or a bearer token. */
export function presentedAgentToken(request: FastifyRequest): string | undefined {
  const protocols = request.headers['sec-websocket-protocol'];
  if (typeof protocols === 'string') {
    for (const protocol of protocols.split(',')) {
      const trimmed = protocol.trim();
      if (trimmed.startsWith(TOKEN_SUBPROTOCOL_PREFIX)) {
        return trimmed.slice(TOKEN_SUBPROTOCOL_PREFIX.length);
      }
    }
  }
  const authorization = request.headers.authorization;
  const match = typeof authorization === 'string' ? /^Bearer\s+(\S+)$/i.exec(authorization) : null;
  return match?.[1];
}

/** Verifies the agent token of a request and stores its claims on the request. */
export async function authenticateAgent(deps: AuthDependencies, request: FastifyRequest): Promise<AgentClaims> {
  try {
    const claims = await verifyAgentToken(deps.tokenKeys, presentedAgentToken(request), deps.clock());
    request.agent = claims;
    return claims;
  } catch (error) {
    const reason = rejectionReason(error);
    if (reason === undefined || !(error instanceof PushError)) {
      throw error;
    }
    throw rejectAuthentication(deps, request, 'agent_token', reason, error);
  }
}

/** Checks the `X-API-Key` header against the key file and stores the key's entry on the request. */
export function authenticateApiKey(deps: AuthDependencies, request: FastifyRequest): ApiKeyEntry {
  const header = request.headers['x-api-key'];
  const result = deps.apiKeys.check(typeof header === 'string' ? header : undefined);
  if (result.ok) {
    request.apiKey = result.entry;
    deps.auditor.recordLater({
      action: 'api_key_used',
      outcome: 'success',
      actor: { type: 'api_key', id: result.entry.id, ip: request.ip },
      target: { type: 'route', id: `${request.method} ${request.routeOptions.url ?? ''}` },
    });
    return result.entry;
  }
  const errors = {
    missing: new PushError(PushErrorCode.API_KEY_MISSING, 401, 'API key missing: send it in the X-API-Key header'),
    unknown: new PushError(PushErrorCode.API_KEY_INVALID, 401, 'API key invalid'),
    expired: new PushError(PushErrorCode.API_KEY_EXPIRED, 401, 'API key expired: ask the operator for a new one'),
  } as const;
  throw rejectAuthentication(deps, request, 'api_key', result.reason, errors[result.reason], result.keyId);
}
