import type { FastifyInstance, FastifyRequest } from 'fastify';

import { PushError, PushErrorCode } from '../../errors.js';
import { parseCursor, type Cursor } from '../../protocol.js';
import { authenticateAgent, rejectAuthentication } from '../auth.js';
import type { GatewayServices } from '../services.js';

const resumeCursors = new WeakMap<FastifyRequest, Partial<Cursor>>();

/**
 * `GET /ws`: the agent's event socket. The upgrade is refused with an HTTP status before any
 * WebSocket exists: 403 for an origin off the allow-list, 401 for a missing, invalid or expired
 * token, 400 for an unreadable `resume` cursor, 429 or 503 when this agent or this instance
 * holds too many connections.
 */
export function registerWebSocketRoute(app: FastifyInstance, services: GatewayServices): void {
  app.get(
    '/ws',
    {
      websocket: true,
      preValidation: async (request) => {
        if (!services.origins.allows(request)) {
          throw rejectAuthentication(
            services,
            request,
            'origin',
            'disallowed_origin',
            new PushError(PushErrorCode.ORIGIN_REJECTED, 403, 'origin not allowed: add it to PUSH_ALLOWED_ORIGINS'),
          );
        }
        const claims = await authenticateAgent(services, request);
        const resume = (request.query as Record<string, unknown>)['resume'];
        if (typeof resume === 'string' && resume !== '') {
          const cursor = parseCursor(resume);
          if (cursor === undefined) {
            throw new PushError(PushErrorCode.CURSOR_INVALID, 400, 'invalid resume cursor: expected CALLS:<seq>,CRM:<seq>');
          }
          resumeCursors.set(request, cursor);
        }
        const refusal = services.hub.admission(claims.agentId);
        if (refusal !== undefined) {
          throw refusal;
        }
      },
    },
    (socket, request) => {
      const claims = request.agent;
      if (claims === null) {
        socket.terminate();
        return;
      }
      void services.hub.open(socket, claims, resumeCursors.get(request), request.ip);
    },
  );
}
