import { PermanentError } from '@cti/bus';
import { CtiError, defineErrorCodes } from '@cti/errors';
import { SuiteCrmError, SuiteCrmErrorCode } from '@cti/suitecrm';

export const CrmSyncErrorCode = defineErrorCodes('CRMSYNC', {
  /** The caller lookup could not reach SuiteCRM; the call is logged once it can. */
  LOOKUP_UNAVAILABLE: 'CTI_ERR_CRMSYNC_LOOKUP_UNAVAILABLE',
  /** An AI phone conversation whose PBX call is not logged yet; it is tried again later. */
  AI_CALL_NOT_LOGGED_YET: 'CTI_ERR_CRMSYNC_AI_CALL_NOT_LOGGED_YET',
  /** An erasure request named something that is not a phone number. */
  ERASE_NUMBER_INVALID: 'CTI_ERR_CRMSYNC_ERASE_NUMBER_INVALID',
});

export class CrmSyncError extends CtiError<(typeof CrmSyncErrorCode)[keyof typeof CrmSyncErrorCode]> {
  constructor(code: (typeof CrmSyncErrorCode)[keyof typeof CrmSyncErrorCode], message: string, options: { cause?: unknown } = {}) {
    super(code, message, options);
    this.name = 'CrmSyncError';
  }
}

// SuiteCRM errors that retrying the same message cannot change: the request itself is wrong.
const REJECTED = new Set<string>([SuiteCrmErrorCode.BAD_REQUEST, SuiteCrmErrorCode.FIELD_UNKNOWN, SuiteCrmErrorCode.ACCESS_DENIED]);

/**
 * Turns a SuiteCRM rejection of the request into a PermanentError, so the message goes to the
 * dead-letter stream at once with SuiteCRM's (redacted) reason. Everything else (outages, rate
 * limits, auth failures an operator can fix) is retried with backoff.
 */
export function classifyForRetry(error: unknown): unknown {
  if (error instanceof SuiteCrmError && REJECTED.has(error.code)) {
    return new PermanentError(error.code, error.message, { cause: error });
  }
  return error;
}
