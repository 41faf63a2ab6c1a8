import { createHash, randomUUID } from 'node:crypto';

import { BusErrorCode, type Bus } from '@cti/bus';
import { OriginateReply, OriginateRequest, type OriginateFailure } from '@cti/contracts';
import { CtiError } from '@cti/errors';
import type { Logger } from '@cti/logging';
import type { Auditor } from '@cti/runtime';

import { PushErrorCode } from './errors.js';
import type { PushMetrics } from './metrics.js';
import type { AgentClaims } from './tokens.js';
import { WindowCounter } from './window-counter.js';

/**
 * Click-to-dial: checks the request against the agent's token, then asks ami-bridge over
 * `rpc.pbx.originate.{pbx}` to ring the agent's phone and dial the number.
 */

export interface DialRequest {
  to: string;
  /** One of the token's extensions; the first one when absent. */
  extension?: string | undefined;
  /** Client-chosen key: the same key from the same agent always means the same call. */
  idempotencyKey?: string | undefined;
}

/** What a dial request came to, with the HTTP status POST /v1/calls answers. */
export type DialOutcome =
  | { outcome: 'accepted'; status: 202; requestId: string; duplicate: boolean }
  | { outcome: 'invalid_number'; status: 400; code: string; message: string }
  | { outcome: 'extension_forbidden'; status: 403; code: string; message: string }
  | { outcome: 'idempotency_key_invalid'; status: 400; code: string; message: string }
  | { outcome: 'idempotency_key_reused'; status: 422; code: string; message: string }
  | { outcome: 'rate_limited'; status: 429; code: string; message: string; retryAfterSeconds: number }
  | { outcome: 'phone_rejected'; status: 409; code: string; message: string; requestId: string }
  | { outcome: 'extension_unknown'; status: 422; code: string; message: string; requestId: string }
  | { outcome: 'pbx_permission_denied'; status: 502; code: string; message: string; requestId: string }
  | { outcome: 'pbx_unreachable'; status: 503; code: string; message: string; requestId: string };

export interface DialerOptions {
  bus: Pick<Bus, 'request'>;
  auditor: Pick<Auditor, 'recordLater'>;
  logger: Logger;
  metrics: PushMetrics;
  timeoutMs: number;
  /** Window in which a repeated click (same agent, extension and number) reuses the first request. */
  dedupeMs: number;
  /** PUSH_DIAL_RATE_PER_MINUTE: requests one agent may make a minute, over HTTP and WebSocket together. */
  ratePerMinute: number;
  clock: () => number;
}

/** Maximum Idempotency-Key length. A longer key is rejected, never cut, so two keys cannot merge. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 128;

const DIAL_NUMBER = /^\+?[0-9]{2,20}$/;

/** Strips the separators people type (spaces, dots, dashes, brackets); undefined when not a dialable number. */
export function normalizeDialNumber(raw: string): string | undefined {
  const compact = raw.trim().replace(/[\s().-]/g, '');
  return DIAL_NUMBER.test(compact) ? compact : undefined;
}

/**
 * Request id for a client's idempotency key. The same agent, key, extension and number always
 * give the same id, on every replica. The number is part of it because ami-bridge returns the
 * first reply for a known id, and a key reused for another number must never get the first
 * call's 202.
 */
export function requestIdForKey(agentId: string, key: string, extension: string, to: string): string {
  return `dial-${createHash('sha256').update(`${agentId}\n${key}\n${extension}\n${to}`).digest('hex').slice(0, 40)}`;
}

export class Dialer {
  readonly #options: DialerOptions;
  /** Recent clicks without an idempotency key: agent, extension and number to the request id. */
  readonly #recent = new Map<string, { requestId: string; expiresAt: number }>();
  /** Requests waiting for ami-bridge, and accepted ones inside the dedupe window. */
  readonly #outcomes = new Map<string, { outcome: Promise<DialOutcome>; expiresAt: number }>();
  /**
   * Extension and number of each idempotency key seen inside the dedupe window: a key sent
   * again for another number is a client bug, not a retry, and gets 422.
   */
  readonly #keyTargets = new Map<string, { target: string; expiresAt: number }>();
  readonly #rate: WindowCounter;

  constructor(options: DialerOptions) {
    this.#options = options;
    this.#rate = new WindowCounter(options.ratePerMinute, options.clock);
  }

  async dial(claims: AgentClaims, request: DialRequest): Promise<DialOutcome> {
    const outcome = await this.#dial(claims, request);
    this.#options.metrics.dialRequests.inc({ outcome: outcome.outcome });
    return outcome;
  }

  async #dial(claims: AgentClaims, request: DialRequest): Promise<DialOutcome> {
    const to = normalizeDialNumber(request.to);
    if (to === undefined) {
      return {
        outcome: 'invalid_number',
        status: 400,
        code: PushErrorCode.NUMBER_INVALID,
        message: 'invalid number: expected 2 to 20 digits with an optional leading +; spaces, dots, dashes and brackets are ignored',
      };
    }
    const extension = request.extension ?? claims.extensions[0];
    if (extension === undefined || !claims.extensions.includes(extension)) {
      return {
        outcome: 'extension_forbidden',
        status: 403,
        code: PushErrorCode.EXTENSION_FORBIDDEN,
        message: 'extension not in the agent token: dial from one of the extensions the token names',
      };
    }

    const key = request.idempotencyKey;
    if (key !== undefined && (key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH)) {
      return {
        outcome: 'idempotency_key_invalid',
        status: 400,
        code: PushErrorCode.IDEMPOTENCY_KEY_INVALID,
        message: `invalid idempotency key: 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`,
      };
    }

    const now = this.#options.clock();
    this.#prune(now);
    const target = `${extension}\n${to}`;
    const keyTarget = key === undefined ? undefined : this.#keyTargets.get(`${claims.agentId}\n${key}`);
    if (keyTarget !== undefined && keyTarget.target !== target) {
      return {
        outcome: 'idempotency_key_reused',
        status: 422,
        code: PushErrorCode.IDEMPOTENCY_KEY_REUSED,
        message: 'this idempotency key was already used for another number or extension: use a new key for a new call',
      };
    }
    const requestId = this.#requestId(claims.agentId, extension, to, key, now);
    const known = this.#outcomes.get(requestId);
    if (known !== undefined) {
      const outcome = await known.outcome;
      return outcome.outcome === 'accepted' ? { ...outcome, duplicate: true } : outcome;
    }

    // Only a request that would reach the PBX counts; a repeated click above is free.
    if (!this.#rate.take(claims.agentId)) {
      const retryAfterSeconds = this.#rate.secondsLeft(claims.agentId);
      this.#options.metrics.http.rateLimited.inc({ limit: 'dial' });
      return {
        outcome: 'rate_limited',
        status: 429,
        code: PushErrorCode.RATE_LIMITED,
        message: `rate limit exceeded: at most ${this.#rate.limit} calls a minute per agent, retry in ${retryAfterSeconds} s`,
        retryAfterSeconds,
      };
    }

    const pending = this.#originate(claims, extension, to, requestId);
    const keyName = key === undefined ? undefined : `${claims.agentId}\n${key}`;
    this.#outcomes.set(requestId, { outcome: pending, expiresAt: Number.POSITIVE_INFINITY });
    if (keyName !== undefined) {
      this.#keyTargets.set(keyName, { target, expiresAt: Number.POSITIVE_INFINITY });
    }
    const outcome = await pending;
    if (outcome.outcome === 'accepted') {
      const expiresAt = this.#options.clock() + this.#options.dedupeMs;
      this.#outcomes.set(requestId, { outcome: pending, expiresAt });
      if (keyName !== undefined) {
        this.#keyTargets.set(keyName, { target, expiresAt });
      }
    } else {
      // A failed request may be tried again at once, with the same id or key.
      this.#outcomes.delete(requestId);
      if (keyName !== undefined) {
        this.#keyTargets.delete(keyName);
      }
    }
    return outcome;
  }

  #requestId(agentId: string, extension: string, to: string, idempotencyKey: string | undefined, now: number): string {
    if (idempotencyKey !== undefined) {
      return requestIdForKey(agentId, idempotencyKey, extension, to);
    }
    const clickKey = `${agentId}\n${extension}\n${to}`;
    const recent = this.#recent.get(clickKey);
    if (recent !== undefined && recent.expiresAt > now) {
      return recent.requestId;
    }
    const requestId = `dial-${randomUUID()}`;
    this.#recent.set(clickKey, { requestId, expiresAt: now + this.#options.dedupeMs });
    return requestId;
  }

  async #originate(claims: AgentClaims, extension: string, to: string, requestId: string): Promise<DialOutcome> {
    const logger = this.#options.logger.child({ requestId, agentId: claims.agentId, extension });
    let outcome: DialOutcome;
    try {
      const reply = await this.#options.bus.request(
        OriginateRequest,
        OriginateReply,
        { v: 1, requestId, pbx: claims.pbx, extension, to, agentId: claims.agentId },
        this.#options.timeoutMs,
      );
      outcome =
        reply.status === 'accepted'
          ? { outcome: 'accepted', status: 202, requestId, duplicate: reply.duplicate === true }
          : failureOutcome(reply.reason, requestId);
    } catch (error) {
      const code = CtiError.is(error) ? error.code : 'unknown';
      const level = code === BusErrorCode.NO_RESPONDER || code === BusErrorCode.REQUEST_TIMEOUT ? 'warn' : 'error';
      logger[level]({ err: error }, 'originate request failed');
      outcome = {
        outcome: 'pbx_unreachable',
        status: 503,
        code: PushErrorCode.PBX_UNREACHABLE,
        message: 'the PBX cannot be reached right now: try again shortly',
        requestId,
      };
    }

    logger.info({ outcome: outcome.outcome, to }, 'click-to-dial requested');
    this.#options.auditor.recordLater({
      action: 'call_originate_requested',
      outcome: outcome.outcome === 'accepted' ? 'success' : 'failure',
      actor: { type: 'agent', id: claims.agentId },
      target: { type: 'extension', id: `${claims.pbx}/${extension}` },
      number: to,
      ...(outcome.outcome === 'accepted' ? {} : { reason: outcome.outcome }),
      details: { requestId, status: outcome.status },
    });
    return outcome;
  }

  #prune(now: number): void {
    for (const [key, entry] of this.#recent) {
      if (entry.expiresAt <= now) {
        this.#recent.delete(key);
      }
    }
    for (const [key, entry] of this.#outcomes) {
      if (entry.expiresAt <= now) {
        this.#outcomes.delete(key);
      }
    }
    for (const [key, entry] of this.#keyTargets) {
      if (entry.expiresAt <= now) {
        this.#keyTargets.delete(key);
      }
    }
  }
}

function failureOutcome(reason: OriginateFailure | undefined, requestId: string): DialOutcome {
  switch (reason) {
    case 'invalid_number':
      return { outcome: 'invalid_number', status: 400, code: PushErrorCode.NUMBER_INVALID, message: 'the PBX rejected the number as invalid' };
    case 'invalid_extension':
      return {
        outcome: 'extension_unknown',
        status: 422,
        code: PushErrorCode.EXTENSION_UNKNOWN,
        message: 'the PBX does not know this extension',
        requestId,
      };
    case 'permission_denied':
      return {
        outcome: 'pbx_permission_denied',
        status: 502,
        code: PushErrorCode.PBX_PERMISSION_DENIED,
        message: 'the PBX refused to place calls for the CTI user: check its originate permission',
        requestId,
      };
    case 'phone_rejected':
      return { outcome: 'phone_rejected', status: 409, code: PushErrorCode.PHONE_REJECTED, message: "the agent's phone rejected the call", requestId };
    case 'ami_down':
    case 'timeout':
    case undefined:
      return {
        outcome: 'pbx_unreachable',
        status: 503,
        code: PushErrorCode.PBX_UNREACHABLE,
        message: 'the PBX cannot be reached right now: try again shortly',
        requestId,
      };
    default: {
      const unknownReason: never = reason;
      throw new TypeError(`unknown originate failure ${String(unknownReason)}`);
    }
  }
}
