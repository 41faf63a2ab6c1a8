import { httpRouteOf, type Auditor } from '@cti/runtime';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Routes whose calls are audited: the agent and operator API and the WebSocket upgrade. */
function isAuditedRoute(route: string): boolean {
  return route.startsWith('/v1/') || route === '/ws';
}

/**
 * Writes one `api_request` audit event per completed API call: who (the agent of the token, the
 * API key, or only the client address), what (method and route template) and the result (status).
 * Requests turned away by a rate limit (429) are counted in metrics but not audited one by one, so
 * a flood cannot push older audit events out of a size-limited stream. The WebSocket session that
 * follows a successful upgrade is audited by the hub (`session_opened`, `session_closed`).
 */
export function auditApiRequests(app: FastifyInstance, auditor: Pick<Auditor, 'recordLater'>): void {
  app.addHook('onResponse', async (request, reply) => {
    const route = httpRouteOf(request);
    if (!isAuditedRoute(route) || reply.statusCode === 429) {
      return;
    }
    auditor.recordLater({
      action: 'api_request',
      outcome: outcomeOf(reply),
      actor: actorOf(request),
      target: { type: 'route', id: `${request.method} ${route}` },
      details: { status: reply.statusCode, durationMs: Math.round(reply.elapsedTime) },
    });
  });
}

function outcomeOf(reply: FastifyReply): 'success' | 'failure' | 'denied' {
  if (reply.statusCode < 400) {
    return 'success';
  }
  return reply.statusCode === 401 || reply.statusCode === 403 ? 'denied' : 'failure';
}

function actorOf(request: FastifyRequest): { type: 'agent' | 'api_key' | 'remote'; id?: string; ip: string } {
  if (request.agent !== null) {
    return { type: 'agent', id: request.agent.agentId, ip: request.ip };
  }
  if (request.apiKey !== null) {
    return { type: 'api_key', id: request.apiKey.id, ip: request.ip };
  }
  return { type: 'remote', ip: request.ip };
}
