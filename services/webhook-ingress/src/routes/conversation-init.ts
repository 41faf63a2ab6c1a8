import type { Logger } from '@cti/logging';
import type { FastifyInstance, FastifyRequest } from 'fastify';

import { buildConversationInitResponse, type CallerLookup, type ConversationInitResponse } from '../conversation-init.js';
import { WebhookError, WebhookErrorCode } from '../errors.js';
import { type AuthRejection, markRoute, rejectAuth, stateOf } from '../http.js';
import { primaryIssue, Validators, type ConversationInitRequestPayload } from '../payloads.js';
import { matchesSharedSecret } from '../signature.js';

export const CONVERSATION_INIT_PATH = '/webhooks/elevenlabs/conversation-init';

export interface ConversationInitRouteOptions extends AuthRejection {
  secrets: readonly string[];
  /** Header that carries the shared secret; matched case-insensitively. */
  header: string;
  lookup: CallerLookup;
  lookupTimeoutMs: number;
  /** Whether the disclosure audit event may carry the caller number as its keyed hash. */
  auditNumbers: boolean;
  rateLimit: { max: number; timeWindow: number };
  sourceCheck: ((request: FastifyRequest) => Promise<void>) | undefined;
  logger: Logger;
}

/**
 * Registers `POST /webhooks/elevenlabs/conversation-init`, the request ElevenLabs sends for
 * caller details while the caller hears ringing. ElevenLabs does not sign it but sends the
 * headers configured in the workspace, so a shared secret in one of them authenticates it.
 */
export async function conversationInitRoutes(app: FastifyInstance, options: ConversationInitRouteOptions): Promise<void> {
  const headerName = options.header.toLowerCase();

  // The documentation shows JSON; a form body, as Twilio-style integrations send, is read too.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(String(body))));
  });

  const checkSecret = async (request: FastifyRequest): Promise<void> => {
    const presented = request.headers[headerName];
    if (typeof presented !== 'string' || !matchesSharedSecret(presented, options.secrets)) {
      const reason = presented === undefined ? 'secret_missing' : 'secret_mismatch';
      throw rejectAuth(request, reason, WebhookErrorCode.AUTH_INVALID, options);
    }
  };

  app.post(
    CONVERSATION_INIT_PATH,
    {
      config: { rateLimit: options.rateLimit },
      onRequest: [markRoute('conversation_init'), ...(options.sourceCheck === undefined ? [] : [options.sourceCheck])],
      // The secret is checked after onRequest, where the rate limit runs, so the limit cuts off a
      // flood of wrong secrets. It is checked before the body is read, so a wrong one costs no parsing.
      preParsing: async (request, _reply, payload) => {
        await checkSecret(request);
        return payload;
      },
    },
    async (request, reply) => {
      const state = stateOf(request);
      const payload = readRequest(request.body, options.logger);
      const { response, status, lookupMs } = await buildConversationInitResponse(payload, {
        lookup: options.lookup,
        timeoutMs: options.lookupTimeoutMs,
        metrics: options.metrics,
        logger: options.logger,
      });
      state.outcome = 'responded';
      state.lookupStatus = status;
      state.lookupMs = lookupMs;
      auditDisclosure(options, request, payload, response);
      return reply.code(200).send(response);
    },
  );
}

/**
 * Audits CRM data handed to ElevenLabs. The AI agent learns who is calling before it picks up, so
 * this response discloses the caller's CRM record and is audited like a screen pop.
 */
function auditDisclosure(
  options: ConversationInitRouteOptions,
  request: FastifyRequest,
  payload: ConversationInitRequestPayload,
  response: ConversationInitResponse,
): void {
  const variables = response.dynamic_variables;
  if (!variables.caller_known) {
    return;
  }
  const number = (payload.caller_id ?? '').trim();
  options.auditor.recordLater({
    action: 'caller_details_sent',
    outcome: 'success',
    actor: { type: 'remote', id: 'elevenlabs', ip: request.ip.slice(0, 64) },
    target: { type: variables.crm_record_module, id: variables.crm_record_id },
    ...(options.auditNumbers && number !== '' ? { number } : {}),
    details: { callSid: variables.call_sid.slice(0, 256), lastCallSummary: variables.last_call_summary !== '' },
  });
}

/**
 * Reads the request leniently. A body that is not an object gets a 400 response. An object whose
 * fields have unexpected types gets the default variables, because ElevenLabs does not document
 * what happens to the call when this request fails.
 */
function readRequest(body: unknown, logger: Logger): ConversationInitRequestPayload {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new WebhookError(WebhookErrorCode.PAYLOAD_INVALID, 'invalid conversation-init payload: (root) must be an object', { path: '' });
  }
  if (Validators.conversationInit.check(body)) {
    return body;
  }
  const issue = primaryIssue(Validators.conversationInit.issues(body));
  logger.warn({ path: issue.path, problem: issue.message }, 'conversation-init request has unexpected fields, responding with defaults');
  return {};
}
