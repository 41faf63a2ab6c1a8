import type { FastifyInstance } from 'fastify';
import Type from 'typebox';

import { PushError, PushErrorCode } from '../../errors.js';
import { mintAgentToken } from '../../tokens.js';
import { parseBody } from '../body.js';
import type { GatewayServices } from '../services.js';

const DemoLoginBody = Type.Object({ agentId: Type.String({ minLength: 1, maxLength: 128 }) }, { additionalProperties: false });

export interface DemoAgent {
  agentId: string;
  extension: string;
}

export function parseDemoAgents(entries: readonly string[]): DemoAgent[] {
  return entries.map((entry) => {
    const [agentId = '', extension = ''] = entry.split(':');
    return { agentId, extension };
  });
}

/**
 * Demo sign-in, only with PUSH_DEMO_MODE=true: the console lists the demo agents and signs in as
 * one without a token. With the flag off both routes answer 404, as if they did not exist.
 */
export function registerDemoRoutes(app: FastifyInstance, services: GatewayServices): void {
  const { settings } = services;
  const agents = parseDemoAgents(settings.demoAgents);
  const disabled = () => new PushError(PushErrorCode.DEMO_DISABLED, 404, 'demo sign-in is off (PUSH_DEMO_MODE)');

  app.get('/v1/demo/agents', async () => {
    if (!settings.demoMode) {
      throw disabled();
    }
    return { agents };
  });

  app.post(
    '/v1/demo/login',
    { config: { rateLimit: { timeWindow: 60_000, max: 30 } } },
    async (request, reply) => {
      if (!settings.demoMode) {
        throw disabled();
      }
      const body = parseBody(DemoLoginBody, request.body);
      const agent = agents.find((candidate) => candidate.agentId === body.agentId);
      if (agent === undefined) {
        throw new PushError(PushErrorCode.REQUEST_INVALID, 400, `invalid request: ${JSON.stringify(body.agentId.slice(0, 64))} is not a demo agent`);
      }
      const { token, claims } = await mintAgentToken(services.tokenKeys, {
        agentId: agent.agentId,
        extensions: [agent.extension],
        pbx: settings.pbxId,
        ttlSeconds: settings.agentTokenTtlSeconds,
        now: services.clock(),
      });
      services.metrics.tokensMinted.inc({ issuer: 'demo' });
      services.auditor.recordLater({
        action: 'token_minted',
        outcome: 'success',
        actor: { type: 'operator', id: 'demo-login', ip: request.ip },
        target: { type: 'agent', id: claims.agentId },
        details: { pbx: claims.pbx, extensions: claims.extensions.join(','), tokenId: claims.tokenId, demo: true },
      });
      return reply.code(201).send({ token, agentId: claims.agentId, extensions: claims.extensions, expiresAt: new Date(claims.expiresAt).toISOString() });
    },
  );
}
