import type { IncomingMessage } from 'node:http';

import type { FastifyInstance, FastifyRequest } from 'fastify';

import type { BodyBudget } from '../body-budget.js';
import { WebhookError, WebhookErrorCode } from '../errors.js';
import { type AuthRejection, markRoute, rejectAuth, stateOf } from '../http.js';
import { ingestDelivery, type IngestDependencies } from '../ingest.js';
import { readMeteredBody } from '../metered-body.js';
import { checkTimestamp, parseSignatureHeader, SIGNATURE_HEADER, SigningKeys, type TimestampWindow } from '../signature.js';

export const POST_CALL_PATH = '/webhooks/elevenlabs';

// An estimate: a few seconds lets a delivery in progress finish. ElevenLabs' own retry policy
// decides when it actually comes back.
const BUSY_RETRY_AFTER_SECONDS = 5;

export interface PostCallRouteOptions extends AuthRejection {
  secrets: readonly string[];
  window: TimestampWindow;
  bodyLimitBytes: number;
  rateLimit: { max: number; timeWindow: number };
  sourceCheck: ((request: FastifyRequest) => Promise<void>) | undefined;
  ingest: IngestDependencies;
  /** Bytes of bodies read before their signature is checked, across all requests at once. */
  bodyBudget: BodyBudget;
}

/**
 * `POST /webhooks/elevenlabs`: every post-call webhook type. The order of checks keeps forged
 * traffic cheap: source and rate limit first, then the signature header and its timestamp
 * before the body is read, then the HMAC over the raw bytes, and only then JSON and schema.
 */
export async function postCallRoutes(app: FastifyInstance, options: PostCallRouteOptions): Promise<void> {
  const keys = new SigningKeys(options.secrets);
  const now = options.ingest.now;

  // The HMAC covers the bytes as received, so this scope keeps the body as a Buffer and parses
  // the JSON only after verification. Fastify's other default parser (text/plain) goes too:
  // ElevenLabs sends JSON, and anything else gets a 415 response.
  app.removeAllContentTypeParsers();
  // readMeteredBody charges each chunk of the body to the budget. The HMAC needs the whole body,
  // so a forged but well-formed header makes the service buffer it before it can reject it.
  // Charged as it arrives, a body that is announced large and then stalls holds only what came.
  app.addContentTypeParser('application/json', async (request: FastifyRequest, payload: IncomingMessage) => {
    try {
      return await readMeteredBody(payload, request.headers['content-length'], {
        limit: options.bodyLimitBytes,
        budget: options.bodyBudget,
        retryAfterSeconds: BUSY_RETRY_AFTER_SECONDS,
        charged: (bytes) => {
          const state = stateOf(request);
          state.reservedBytes = (state.reservedBytes ?? 0) + bytes;
        },
      });
    } catch (error) {
      if (error instanceof WebhookError && error.code === WebhookErrorCode.BUSY) {
        options.metrics.bodyBudgetRejections.inc();
      }
      throw error;
    }
  });

  const checkHeader = async (request: FastifyRequest): Promise<void> => {
    const parsed = parseSignatureHeader(request.headers[SIGNATURE_HEADER]);
    if (!parsed.ok) {
      throw rejectAuth(request, parsed.reason, WebhookErrorCode.SIGNATURE_INVALID, options);
    }
    const stale = checkTimestamp(parsed.header, now(), options.window);
    if (stale !== undefined) {
      throw rejectAuth(request, stale, WebhookErrorCode.SIGNATURE_INVALID, options);
    }
    stateOf(request).signature = parsed.header;
  };

  const releaseBody = async (request: FastifyRequest): Promise<void> => {
    const state = stateOf(request);
    if (state.reservedBytes !== undefined) {
      options.bodyBudget.release(state.reservedBytes);
      state.reservedBytes = undefined;
    }
  };

  app.post(
    POST_CALL_PATH,
    {
      bodyLimit: options.bodyLimitBytes,
      config: { rateLimit: options.rateLimit },
      onRequest: [markRoute('post_call'), ...(options.sourceCheck === undefined ? [] : [options.sourceCheck])],
      preParsing: async (request, _reply, payload) => {
        await checkHeader(request);
        return payload;
      },
      onResponse: releaseBody,
      onRequestAbort: releaseBody,
    },
    async (request, reply) => {
      const state = stateOf(request);
      const rawBody = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const secretIndex = state.signature === undefined ? -1 : keys.match(state.signature, rawBody);
      if (secretIndex === -1) {
        throw rejectAuth(request, 'signature_mismatch', WebhookErrorCode.SIGNATURE_INVALID, options);
      }
      options.metrics.signaturesVerified.inc({ secret: String(secretIndex) });
      state.secretIndex = secretIndex;

      const result = await ingestDelivery(rawBody, options.ingest);
      state.outcome = result.outcome;
      state.webhookType = result.webhookType;
      state.conversationId = result.conversationId;
      state.sequence = result.sequence;
      return reply.code(200).send({ status: result.outcome });
    },
  );
}
