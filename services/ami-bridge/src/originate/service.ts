import { AmiError, AmiErrorCode, isPermissionDenied, isSuccess, type AmiActionResult, type AmiMessage, type AmiPair } from '@cti/ami';
import type { OriginateFailure, OriginateReply, OriginateRequest, OriginateResult } from '@cti/contracts';
import type { Logger } from '@cti/logging';
import type { AuditRecord } from '@cti/runtime';

import { eventId } from '../model/events.js';
import type { CallTracker } from '../model/tracker.js';
import { waitForReply, type RequestStore } from './request-store.js';

/** The part of the AMI client click-to-dial uses. */
export interface OriginateAmi {
  isReady(): boolean;
  sendAction(action: string, headers: readonly AmiPair[], options: { actionId?: string; timeoutMs?: number }): Promise<AmiActionResult>;
}

export interface OriginateSettings {
  pbx: string;
  /** `PJSIP/{extension}`. */
  channelTemplate: string;
  context: string;
  /** `Click-to-dial <{number}>`. */
  callerIdTemplate: string;
  /** How long the agent's phone rings, in ms. */
  ringTimeoutMs: number;
  numberPattern: RegExp;
  extensionPattern: RegExp;
  actionTimeoutMs: number;
}

export interface OriginateServiceOptions {
  settings: OriginateSettings;
  ami: OriginateAmi;
  tracker: CallTracker;
  store: RequestStore;
  publishResult: (result: OriginateResult) => void;
  audit: (entry: AuditRecord) => void;
  /** Whether audit events may carry the number (as a keyed hash): PHONE_HASH_KEY is set. */
  auditNumbers: boolean;
  logger: Logger;
  countOutcome: (outcome: string) => void;
  clock?: () => number;
}

interface Placed {
  requestId: string;
  extension: string;
  timer: NodeJS.Timeout;
}

// Extra time past the ring timeout before a missing OriginateResponse counts as lost.
const RESULT_GRACE_MS = 30_000;

/** Removes the separators people type in numbers: `+1 (555) 010-0099` becomes `+15550100099`. */
export function normalizeNumber(value: string): string {
  return value.replace(/[\s().-]/g, '');
}

function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (match, name: string) => values[name] ?? match);
}

/**
 * Click-to-dial: checks the request, then runs an async Originate that rings the agent's phone
 * first and dials the number once the agent picks up. The reply states whether Asterisk queued
 * it. The outcome (`pbx.originate.result`) follows when Asterisk sends its OriginateResponse.
 */
export class OriginateService {
  readonly #options: OriginateServiceOptions;
  readonly #placed = new Map<string, Placed>();
  readonly #clock: () => number;

  constructor(options: OriginateServiceOptions) {
    this.#options = options;
    this.#clock = options.clock ?? Date.now;
  }

  async handle(request: OriginateRequest): Promise<OriginateReply> {
    const { settings, store, logger } = this.#options;
    const log = logger.child({ requestId: request.requestId, extension: request.extension });
    const failed = (reason: OriginateFailure, message: string): OriginateReply => ({ v: 1, requestId: request.requestId, status: 'failed', reason, message });

    if (request.pbx !== settings.pbx) {
      return this.#answer(log, failed('invalid_extension', `this bridge serves PBX ${settings.pbx}, not ${request.pbx}`), request);
    }
    if (!settings.extensionPattern.test(request.extension)) {
      return this.#answer(log, failed('invalid_extension', 'the extension is not an agent extension of this PBX'), request);
    }
    const number = normalizeNumber(request.to);
    if (!settings.numberPattern.test(number)) {
      return this.#answer(log, failed('invalid_number', 'the number to dial is not a valid phone number'), request);
    }

    const existing = await store.claim(request.requestId);
    if (existing !== undefined) {
      const settled = existing.state === 'done' ? existing : await waitForReply(store, request.requestId, settings.actionTimeoutMs + 2000);
      this.#options.countOutcome('duplicate');
      log.info({ state: settled?.state ?? 'gone' }, 'repeated click-to-dial request: returning the reply of the first one');
      if (settled?.reply !== undefined) {
        return { ...settled.reply, duplicate: true };
      }
      return { ...failed('timeout', 'the first request with this id has not been answered yet'), duplicate: true };
    }

    if (!this.#options.ami.isReady()) {
      // Nothing was sent, so a retry may place the call once the PBX is back.
      await store.release(request.requestId);
      return this.#answer(log, failed('ami_down', 'the PBX connection is down; try again shortly'), request);
    }

    const reply = await this.#originate(request, number, log);
    if (reply.reason === 'ami_down') {
      await store.release(request.requestId);
    } else {
      await store.complete(request.requestId, reply);
    }
    return this.#answer(log, reply, request);
  }

  async #originate(request: OriginateRequest, number: string, log: Logger): Promise<OriginateReply> {
    const { settings } = this.#options;
    const channel = fill(settings.channelTemplate, { extension: request.extension });
    const actionId = `c2d-${request.requestId}`;
    const headers: AmiPair[] = [
      ['Channel', channel],
      ['Context', settings.context],
      ['Exten', number],
      ['Priority', '1'],
      ['CallerID', fill(settings.callerIdTemplate, { number, extension: request.extension })],
      ['Timeout', String(settings.ringTimeoutMs)],
      ['Variable', `CTI_REQUEST=${request.requestId}`],
      ['Async', 'true'],
    ];
    // The model links the channel Asterisk creates to this request before anyone picks up.
    this.#options.tracker.noteOriginate({ actionId, requestId: request.requestId, channel, target: number, at: this.#clock() });
    const base = { v: 1 as const, requestId: request.requestId };

    // Tracked before sending: the OriginateResponse can arrive in the same read as the
    // "queued" response, before this function resumes.
    this.#track(actionId, request);
    let result: AmiActionResult;
    try {
      result = await this.#options.ami.sendAction('Originate', headers, { actionId, timeoutMs: settings.actionTimeoutMs });
    } catch (error) {
      if (error instanceof AmiError && error.code === AmiErrorCode.NOT_CONNECTED) {
        this.#forget(actionId);
        return { ...base, status: 'failed', reason: 'ami_down', message: 'the PBX connection is down; try again shortly' };
      }
      // Asterisk may have queued it before the connection or the time ran out: the id stays
      // taken, so a retry cannot dial twice, and the outcome is still published if it comes.
      log.warn({ err: error }, 'click-to-dial sent but not confirmed');
      return { ...base, status: 'failed', reason: 'timeout', message: 'the PBX did not confirm the call in time' };
    }

    if (isSuccess(result.response)) {
      return { ...base, status: 'accepted' };
    }
    this.#forget(actionId);
    if (isPermissionDenied(result.response)) {
      log.error({ amiMessage: 'Permission denied' }, 'click-to-dial rejected: the AMI user lacks the originate write class');
      return { ...base, status: 'failed', reason: 'permission_denied', message: 'the PBX does not let this bridge place calls' };
    }
    const text = result.response.get('Message') ?? 'no reason given';
    return { ...base, status: 'failed', reason: 'phone_rejected', message: `the PBX did not place the call: ${text}`.slice(0, 512) };
  }

  #answer(log: Logger, reply: OriginateReply, request: OriginateRequest): OriginateReply {
    this.#options.countOutcome(reply.status === 'accepted' ? 'accepted' : (reply.reason ?? 'failed'));
    if (reply.status === 'accepted') {
      log.info('click-to-dial queued');
    } else {
      log.info({ reason: reply.reason }, 'click-to-dial failed');
    }
    let outcome: 'success' | 'denied' | 'failure' = 'failure';
    if (reply.status === 'accepted') {
      outcome = 'success';
    } else if (reply.reason === 'permission_denied') {
      outcome = 'denied';
    }
    this.#options.audit({
      action: 'click_to_dial',
      outcome,
      actor: { type: 'agent', id: request.agentId },
      target: { type: 'extension', id: `${request.pbx}/${request.extension}` },
      ...(this.#options.auditNumbers ? { number: normalizeNumber(request.to) } : {}),
      ...(reply.reason === undefined ? {} : { reason: reply.reason }),
    });
    return reply;
  }

  // NOTE: only the replica that sent the Originate publishes its result; if it stops before the
  // OriginateResponse arrives, the result is not published (the call events still are).
  #track(actionId: string, request: OriginateRequest): void {
    const timer = setTimeout(() => {
      // No OriginateResponse: the connection dropped while the phone rang.
      this.#settle(actionId, { status: 'failed', reason: 'timeout' });
    }, this.#options.settings.ringTimeoutMs + RESULT_GRACE_MS);
    timer.unref();
    this.#placed.set(actionId, { requestId: request.requestId, extension: request.extension, timer });
  }

  #forget(actionId: string): void {
    const placed = this.#placed.get(actionId);
    if (placed !== undefined) {
      clearTimeout(placed.timer);
      this.#placed.delete(actionId);
    }
  }

  /** Handles an OriginateResponse event; publishes the outcome of a click-to-dial this bridge placed. */
  onOriginateResponse(message: AmiMessage): void {
    const actionId = message.get('ActionID');
    if (actionId === undefined || !this.#placed.has(actionId)) {
      return;
    }
    const uniqueid = message.get('Uniqueid');
    const callId = uniqueid === undefined || uniqueid === '<unknown>' ? undefined : uniqueid;
    if (message.get('Response') === 'Success') {
      this.#settle(actionId, { status: 'answered', ...(callId === undefined ? {} : { callId }) });
      return;
    }
    // Reason is the last control frame: 3 means it was still ringing when the timeout came.
    const reason: OriginateFailure = message.get('Reason') === '3' ? 'timeout' : 'phone_rejected';
    this.#settle(actionId, { status: 'failed', reason, ...(callId === undefined ? {} : { callId }) });
  }

  #settle(actionId: string, outcome: Pick<OriginateResult, 'status' | 'reason' | 'callId'>): void {
    const placed = this.#placed.get(actionId);
    if (placed === undefined) {
      return;
    }
    clearTimeout(placed.timer);
    this.#placed.delete(actionId);
    const { pbx } = this.#options.settings;
    this.#options.publishResult({
      v: 1,
      id: eventId(pbx, 'originate', placed.requestId, 'result'),
      type: 'pbx.originate.result',
      requestId: placed.requestId,
      pbx,
      extension: placed.extension,
      status: outcome.status,
      ...(outcome.reason === undefined ? {} : { reason: outcome.reason }),
      ...(outcome.callId === undefined ? {} : { callId: outcome.callId }),
      occurredAt: new Date(this.#clock()).toISOString(),
    });
  }

  /** Stops the timers of results still outstanding. */
  stop(): void {
    for (const placed of this.#placed.values()) {
      clearTimeout(placed.timer);
    }
    this.#placed.clear();
  }
}
