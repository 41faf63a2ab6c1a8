import type { FastifyInstance } from 'fastify';
import Type from 'typebox';

import { authenticateAgent } from '../auth.js';
import { parseBody } from '../body.js';
import type { GatewayServices } from '../services.js';

const DialBody = Type.Object(
  {
    to: Type.String({ minLength: 1, maxLength: 64 }),
    extension: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  },
  { additionalProperties: false },
);

/**
 * Agent routes, authenticated with the agent token: `GET /v1/me` (who the token says the agent
 * is) and `POST /v1/calls` (click-to-dial; the `Idempotency-Key` header makes a retry or a
 * double click place one call). The dial rate limit lives in the Dialer, not in a route plugin,
 * because the WebSocket `dial` frame spends the same allowance.
 */
export function registerCallRoutes(app: FastifyInstance, services: GatewayServices): void {
  const preValidation = async (request: Parameters<typeof authenticateAgent>[1]) => {
    await authenticateAgent(services, request);
  };

  app.get('/v1/me', { preValidation }, async (request) => {
    const agent = request.agent;
    return {
      agentId: agent?.agentId,
      pbx: agent?.pbx,
      extensions: agent?.extensions,
      expiresAt: agent === null ? undefined : new Date(agent.expiresAt).toISOString(),
    };
  });

  app.post(
    '/v1/calls',
    {
      preValidation,
    },
    async (request, reply) => {
      const body = parseBody(DialBody, request.body);
      const header = request.headers['idempotency-key'];
      const idempotencyKey = typeof header === 'string' ? header : undefined;
      const agent = request.agent;
      if (agent === null) {
        throw new TypeError('agent route reached without an authenticated agent');
      }
      const outcome = await services.dialer.dial(agent, { to: body.to, extension: body.extension, idempotencyKey });
      if (outcome.outcome === 'accepted') {
        return reply.code(202).send({ requestId: outcome.requestId, duplicate: outcome.duplicate });
      }
      if (outcome.outcome === 'rate_limited') {
        void reply.header('retry-after', String(outcome.retryAfterSeconds));
      }
      return reply.code(outcome.status).send({
        code: outcome.code,
        message: outcome.message,
        ...('requestId' in outcome ? { requestId: outcome.requestId } : {}),
      });
    },
  );
}
