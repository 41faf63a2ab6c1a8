import { BusErrorCode } from '@cti/bus';
import type { CallerLookupReply } from '@cti/contracts';
import { CtiError } from '@cti/errors';
import type { Logger } from '@cti/logging';

import type { IngressMetrics } from './metrics.js';
import { PBX_LINKEDID_VARIABLE } from './normalize.js';
import type { ConversationInitRequestPayload } from './payloads.js';

/** Asks crm-sync who is calling; rejects on timeout, no responder or a CRM error. */
export type CallerLookup = (number: string, timeoutMs: number) => Promise<CallerLookupReply>;

/** Result of the lookup as a dynamic variable and a metric label. */
export type LookupStatus = 'match' | 'no_match' | 'no_caller_id' | 'invalid_number' | 'unavailable' | 'timeout' | 'no_responder' | 'failed';

/**
 * Dynamic variables of every response. ElevenLabs expects a value for every dynamic variable the
 * agent defines, so each response has all of them, and an unknown caller gets empty strings.
 */
export interface CallerVariables {
  caller_known: boolean;
  caller_display_name: string;
  caller_account_name: string;
  crm_record_module: string;
  crm_record_id: string;
  crm_record_url: string;
  last_call_summary: string;
  /** Asterisk Linkedid from the trunk's `X-CALL-ID`, returned in the post-call transcript. */
  [PBX_LINKEDID_VARIABLE]: string;
  /** The call id ElevenLabs sent, as it was sent. */
  call_sid: string;
  crm_lookup_status: LookupStatus;
}

export interface ConversationInitResponse {
  type: 'conversation_initiation_client_data';
  dynamic_variables: CallerVariables;
}

export interface InitiationOptions {
  lookup: CallerLookup;
  /** Deadline of the whole lookup; when it passes, the response is sent with defaults. */
  timeoutMs: number;
  metrics: IngressMetrics;
  logger: Logger;
}

// Asterisk Linkedid and Uniqueid: unix seconds, a dot, a sequence number (`1767225180.4711`).
const LINKEDID_PATTERN = /^\d{6,12}\.\d{1,10}$/;
const DIALABLE_PATTERN = /\d{3,}/;
const LOOKUP_NUMBER_MAX = 64;

/**
 * Builds the response to a conversation-initiation request. The caller lookup runs against a
 * deadline, and any failure (timeout, no crm-sync, CRM error, no match) yields the default
 * variables, so a caller never waits on the CRM.
 */
export async function buildConversationInitResponse(
  request: ConversationInitRequestPayload,
  options: InitiationOptions,
): Promise<{ response: ConversationInitResponse; status: LookupStatus; lookupMs: number }> {
  const callSid = (request.call_sid ?? request.call_id ?? '').trim();
  const variables: CallerVariables = {
    caller_known: false,
    caller_display_name: '',
    caller_account_name: '',
    crm_record_module: '',
    crm_record_id: '',
    crm_record_url: '',
    last_call_summary: '',
    // Only a value shaped like a Linkedid is passed on as one: without an X-CALL-ID header the
    // id is the provider's (`SCL_...`, `CA...`), and correlating on it would match nothing.
    [PBX_LINKEDID_VARIABLE]: LINKEDID_PATTERN.test(callSid) ? callSid : '',
    call_sid: callSid,
    crm_lookup_status: 'no_caller_id',
  };

  const started = performance.now();
  const status = await lookUpCaller((request.caller_id ?? '').trim(), variables, options);
  variables.crm_lookup_status = status;
  options.metrics.callerLookups.inc({ outcome: status });
  return {
    response: { type: 'conversation_initiation_client_data', dynamic_variables: variables },
    status,
    lookupMs: Math.round(performance.now() - started),
  };
}

async function lookUpCaller(number: string, variables: CallerVariables, options: InitiationOptions): Promise<LookupStatus> {
  if (!DIALABLE_PATTERN.test(number)) {
    // Withheld numbers arrive empty or as `anonymous`; there is nothing to look up.
    return 'no_caller_id';
  }
  if (number.length > LOOKUP_NUMBER_MAX) {
    return 'invalid_number';
  }

  let reply: CallerLookupReply;
  try {
    reply = await withDeadline(options.lookup(number, options.timeoutMs), options.timeoutMs);
  } catch (error) {
    const status = failureStatus(error);
    options.logger.warn({ err: error, lookupStatus: status }, 'caller lookup failed, responding with defaults');
    return status;
  }

  if (reply.status === 'invalid_number') {
    return 'invalid_number';
  }
  if (reply.status === 'unavailable') {
    return 'unavailable';
  }
  const best = reply.matches[0];
  if (best === undefined) {
    return 'no_match';
  }
  variables.caller_known = true;
  variables.caller_display_name = best.name;
  variables.caller_account_name = best.accountName ?? '';
  variables.crm_record_module = best.module;
  variables.crm_record_id = best.id;
  variables.crm_record_url = best.url;
  variables.last_call_summary = reply.lastCallSummary ?? '';
  return 'match';
}

class DeadlineError extends Error {
  constructor(timeoutMs: number) {
    super(`caller lookup took longer than ${timeoutMs} ms`);
    this.name = 'DeadlineError';
  }
}

/**
 * Races the lookup against its deadline. The request has the same timeout, but this guard also
 * covers time spent before the request is sent, such as a NATS client waiting to reconnect.
 */
function withDeadline<T>(work: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(timeoutMs)), timeoutMs);
  });
  // A lookup that fails after the deadline is ignored, so its rejection must not go unhandled.
  work.catch(() => undefined);
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

function failureStatus(error: unknown): LookupStatus {
  if (error instanceof DeadlineError || CtiError.is(error, BusErrorCode.REQUEST_TIMEOUT)) {
    return 'timeout';
  }
  if (CtiError.is(error, BusErrorCode.NO_RESPONDER)) {
    return 'no_responder';
  }
  if (CtiError.is(error, BusErrorCode.REQUEST_REJECTED)) {
    return 'unavailable';
  }
  return 'failed';
}
