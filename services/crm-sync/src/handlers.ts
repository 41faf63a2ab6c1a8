import type { Bus } from '@cti/bus';
import {
  CallerIdentified,
  ServiceNames,
  type AiCallFailed,
  type AiConversationCompleted,
  type CallCompleted,
  type CallerLookupReply,
  type CallerLookupRequest,
  type CallRinging,
  type ServiceName,
} from '@cti/contracts';
import type { Logger } from '@cti/logging';
import type { Auditor } from '@cti/runtime';

import type { AiWriter } from './ai/ai-writer.js';
import type { CallLog } from './calls/call-log.js';
import type { CallLogger } from './calls/call-logger.js';
import type { CallerLookup } from './lookup/caller-lookup.js';
import type { CrmSyncMetrics } from './metrics.js';

export interface HandlerDependencies {
  bus: Bus;
  lookup: CallerLookup;
  callLog: CallLog;
  callLogger: CallLogger;
  aiWriter: AiWriter;
  auditor?: Auditor | undefined;
  /** Whether audit events may carry a hashed number (PHONE_HASH_KEY is set). */
  auditNumbers: boolean;
  clock: () => number;
  ringingMaxAgeMs: number;
  logger: Logger;
  metrics?: CrmSyncMetrics | undefined;
}

/** `call.ringing`: look the caller up and tell the agent's screen who it is. */
export function ringingHandler(deps: HandlerDependencies) {
  return async (event: CallRinging, logger: Logger): Promise<void> => {
    const ageMs = deps.clock() - Date.parse(event.occurredAt);
    if (ageMs > deps.ringingMaxAgeMs) {
      logger.debug({ ageMs }, 'ringing event too old for a screen pop, skipped');
      return;
    }
    if (event.direction === 'internal') {
      return;
    }
    const raw = event.direction === 'outbound' ? event.callee.number : event.caller.number;
    const result = await deps.lookup.lookup(raw);
    if (result.status === 'invalid_number') {
      logger.debug('caller number withheld or not a phone number, no screen pop data');
      return;
    }
    if (result.status === 'unavailable') {
      logger.warn({ code: result.error.code }, 'caller not identified: SuiteCRM unavailable');
      return;
    }
    await deps.bus.publish(CallerIdentified, {
      v: 1,
      id: `crm.caller.identified:${event.pbx}:${event.callId}:${event.extension}`,
      type: 'crm.caller.identified',
      callId: event.callId,
      pbx: event.pbx,
      extension: event.extension,
      number: result.number.e164,
      matches: deps.lookup.toCallerMatches(result.matches),
      source: result.source,
      lookupMs: Math.round(result.durationMs * 1000) / 1000,
      occurredAt: new Date(deps.clock()).toISOString(),
      ringingAt: event.occurredAt,
    });
    deps.metrics?.screenPopSeconds.observe({ source: result.source }, Math.max(0, deps.clock() - Date.parse(event.occurredAt)) / 1000);
    logger.info({ matches: result.matches.length, source: result.source }, 'caller identified');
  };
}

/** `rpc.crm.lookup`: the same lookup for webhook-ingress and the agent console. */
export function lookupRequestHandler(deps: HandlerDependencies) {
  return async (request: CallerLookupRequest): Promise<CallerLookupReply> => {
    const result = await deps.lookup.lookup(request.number);
    const actorType = (ServiceNames as readonly string[]).includes(request.requestedBy as ServiceName) ? 'service' : 'agent';
    // The hash is taken over the E.164 form, so `cti audit --number` finds the lookup however
    // the requester wrote the number.
    const auditNumber = result.status === 'invalid_number' ? request.number : result.number.e164;
    deps.auditor?.recordLater({
      action: 'crm_lookup',
      outcome: result.status === 'unavailable' ? 'failure' : 'success',
      actor: { type: actorType, id: request.requestedBy },
      ...(deps.auditNumbers ? { number: auditNumber } : {}),
      details: { status: result.status, matches: result.status === 'ok' ? result.matches.length : 0 },
    });

    if (result.status === 'invalid_number') {
      return {
        v: 1,
        status: 'invalid_number',
        number: request.number,
        matches: [],
        error: { code: 'CTI_ERR_CRM_NUMBER_INVALID', message: 'not a phone number that can be normalised to E.164' },
      };
    }
    if (result.status === 'unavailable') {
      return { v: 1, status: 'unavailable', number: result.number.e164, matches: [], error: result.error };
    }
    const best = result.matches[0];
    const summary = best === undefined ? undefined : deps.callLog.lastSummary(best.record.module, best.record.id)?.summary.slice(0, 4096);
    return {
      v: 1,
      status: 'ok',
      number: result.number.e164,
      matches: deps.lookup.toCallerMatches(result.matches),
      source: result.source,
      ...(summary === undefined ? {} : { lastCallSummary: summary }),
    };
  };
}

export function callCompletedHandler(deps: HandlerDependencies) {
  return (event: CallCompleted, logger: Logger): Promise<void> => deps.callLogger.log(event, logger);
}

export function aiConversationHandler(deps: HandlerDependencies) {
  return (event: AiConversationCompleted, logger: Logger): Promise<void> => deps.aiWriter.conversationCompleted(event, logger);
}

export function aiCallFailedHandler(deps: HandlerDependencies) {
  return (event: AiCallFailed, logger: Logger): Promise<void> => deps.aiWriter.callFailed(event, logger);
}
