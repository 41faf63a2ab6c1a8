import { CtiError, defineErrorCodes } from '@cti/errors';

export const SuiteCrmErrorCode = defineErrorCodes('CRM', {
  /** SUITECRM_URL or another client option cannot be used. */
  CONFIG_INVALID: 'CTI_ERR_CRM_CONFIG_INVALID',
  /** The token endpoint does not know the client id (SuiteCRM answers 500, not 401). */
  CLIENT_UNKNOWN: 'CTI_ERR_CRM_CLIENT_UNKNOWN',
  /** Wrong client secret, grant type not allowed for the client, wrong user name or password. */
  AUTH_REJECTED: 'CTI_ERR_CRM_AUTH_REJECTED',
  /** The token request itself is malformed (missing grant type). */
  AUTH_REQUEST_INVALID: 'CTI_ERR_CRM_AUTH_REQUEST_INVALID',
  /** A V8 route still answered 401 after a fresh token. */
  UNAUTHORIZED: 'CTI_ERR_CRM_UNAUTHORIZED',
  /** A 400 that none of the codes below describes. */
  BAD_REQUEST: 'CTI_ERR_CRM_BAD_REQUEST',
  RECORD_NOT_FOUND: 'CTI_ERR_CRM_RECORD_NOT_FOUND',
  /** A create with a client-chosen id found a record (live or deleted) with that id. */
  RECORD_EXISTS: 'CTI_ERR_CRM_RECORD_EXISTS',
  /** An attribute, filter, sort or sparse field that the module does not have. */
  FIELD_UNKNOWN: 'CTI_ERR_CRM_FIELD_UNKNOWN',
  /** SuiteCRM reported "Database failure"; the query may or may not have been applied. */
  DATABASE_FAILURE: 'CTI_ERR_CRM_DATABASE_FAILURE',
  /** The API user may not access the module. */
  ACCESS_DENIED: 'CTI_ERR_CRM_ACCESS_DENIED',
  /** 404/405 from the router: SUITECRM_URL points at the wrong place. */
  ROUTE_NOT_FOUND: 'CTI_ERR_CRM_ROUTE_NOT_FOUND',
  RATE_LIMITED: 'CTI_ERR_CRM_RATE_LIMITED',
  /** 5xx from SuiteCRM or a proxy in front of it. */
  UNAVAILABLE: 'CTI_ERR_CRM_UNAVAILABLE',
  TIMEOUT: 'CTI_ERR_CRM_TIMEOUT',
  NETWORK: 'CTI_ERR_CRM_NETWORK',
  /** Requests are not sent while the circuit breaker is open. */
  CIRCUIT_OPEN: 'CTI_ERR_CRM_CIRCUIT_OPEN',
  /** A 2xx response whose body is not the JSON the V8 API sends. */
  RESPONSE_INVALID: 'CTI_ERR_CRM_RESPONSE_INVALID',
  /** A phone number that cannot be normalised to E.164. */
  NUMBER_INVALID: 'CTI_ERR_CRM_NUMBER_INVALID',
});

export type SuiteCrmErrorCode = (typeof SuiteCrmErrorCode)[keyof typeof SuiteCrmErrorCode];

export interface SuiteCrmErrorOptions {
  cause?: unknown;
  /** HTTP status, when SuiteCRM answered. */
  status?: number;
  /** True when trying again later can succeed. */
  retryable?: boolean;
  /**
   * False when the request provably never reached SuiteCRM (connection refused, connect
   * timeout, circuit open), so even a create can be sent again.
   */
  requestSent?: boolean;
  /** SuiteCRM's own error text, already redacted. */
  crmDetail?: string;
  /** Seconds SuiteCRM asked to wait (Retry-After). */
  retryAfterSeconds?: number;
  details?: Record<string, unknown>;
}

/**
 * Every failure of a SuiteCRM call. Callers branch on `code` and `retryable`; `crmDetail` holds
 * SuiteCRM's error text after redaction, never the raw body.
 */
export class SuiteCrmError extends CtiError<SuiteCrmErrorCode> {
  readonly status: number | undefined;
  readonly retryable: boolean;
  readonly requestSent: boolean;
  readonly crmDetail: string | undefined;
  readonly retryAfterSeconds: number | undefined;

  constructor(code: SuiteCrmErrorCode, message: string, options: SuiteCrmErrorOptions = {}) {
    super(code, message, {
      ...(options.cause === undefined ? {} : { cause: options.cause }),
      details: {
        ...options.details,
        ...(options.status === undefined ? {} : { status: options.status }),
        ...(options.crmDetail === undefined ? {} : { crmDetail: options.crmDetail }),
      },
    });
    this.name = 'SuiteCrmError';
    this.status = options.status;
    this.retryable = options.retryable ?? false;
    this.requestSent = options.requestSent ?? true;
    this.crmDetail = options.crmDetail;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

export function isSuiteCrmError(value: unknown, code?: SuiteCrmErrorCode): value is SuiteCrmError {
  return value instanceof SuiteCrmError && (code === undefined || value.code === code);
}
