import type { FastifyInstance } from 'fastify';
import Type from 'typebox';

import { PushError, PushErrorCode } from '../../errors.js';
import { AGENT_ID_PATTERN, MAX_TOKEN_EXTENSIONS, mintAgentToken } from '../../tokens.js';
import { authenticateApiKey } from '../auth.js';
import { parseBody } from '../body.js';
import type { GatewayServices } from '../services.js';

const SubjectTokenText = Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' });

const MintTokenBody = Type.Object(
  {
    agentId: Type.String({ pattern: AGENT_ID_PATTERN }),
    extensions: Type.Array(SubjectTokenText, { minItems: 1, maxItems: MAX_TOKEN_EXTENSIONS }),
    pbx: Type.Optional(SubjectTokenText),
    ttlSeconds: Type.Optional(Type.Integer({ minimum: 60 })),
  },
  { additionalProperties: false },
);

/**
 * `POST /v1/agent-tokens`: the operator's SSO or CRM mints a token for an agent it has signed in.
 * Each API key has its own rate limit, and every token minted is audited before it is returned.
 */
export function registerTokenRoutes(app: FastifyInstance, services: GatewayServices): void {
  const { settings } = services;

  app.post(
    '/v1/agent-tokens',
    {
      preValidation: async (request) => {
        authenticateApiKey(services, request);
      },
      config: {
        rateLimit: {
          hook: 'preHandler',
          timeWindow: 60_000,
          keyGenerator: (request) => `api-key:${request.apiKey?.id ?? request.ip}`,
          max: (request) => request.apiKey?.ratePerMinute ?? settings.apiKeyRatePerMinute,
        },
      },
    },
    async (request, reply) => {
      const body = parseBody(MintTokenBody, request.body, PushErrorCode.TOKEN_REQUEST_INVALID);
      // mintAgentToken rejects a ttlSeconds above AGENT_TOKEN_MAX_TTL_SECONDS with 400.
      const ttlSeconds = body.ttlSeconds ?? settings.agentTokenTtlSeconds;
      const keyId = request.apiKey?.id ?? 'unknown';
      const { token, claims } = await mintAgentToken(services.tokenKeys, {
        agentId: body.agentId,
        extensions: body.extensions,
        pbx: body.pbx ?? settings.pbxId,
        ttlSeconds,
        now: services.clock(),
      });
      try {
        await services.auditor.record({
          action: 'token_minted',
          outcome: 'success',
          actor: { type: 'api_key', id: keyId, ip: request.ip },
          target: { type: 'agent', id: claims.agentId },
          details: { pbx: claims.pbx, extensions: claims.extensions.join(','), ttlSeconds, tokenId: claims.tokenId },
        });
      } catch (error) {
        request.log.error({ err: error }, 'token not issued: audit event not stored');
        throw new PushError(PushErrorCode.INTERNAL, 503, 'the audit trail is unavailable, so no token is issued: try again shortly');
      }
      services.metrics.tokensMinted.inc({ issuer: 'api_key' });
      request.log.info({ apiKeyId: keyId, agentId: claims.agentId, tokenId: claims.tokenId }, 'agent token minted');
      return reply.code(201).send({
        token,
        agentId: claims.agentId,
        pbx: claims.pbx,
        extensions: claims.extensions,
        expiresAt: new Date(claims.expiresAt).toISOString(),
      });
    },
  );
}
