import { CtiError, defineErrorCodes } from '@cti/errors';

/**
 * Codes of every error response webhook-ingress sends. They appear in the JSON body of the
 * response, so ElevenLabs' delivery log and an operator's alert rules can match on them.
 */
export const WebhookErrorCode = defineErrorCodes('WEBHOOK', {
  SIGNATURE_INVALID: 'CTI_ERR_WEBHOOK_SIGNATURE_INVALID',
  AUTH_INVALID: 'CTI_ERR_WEBHOOK_AUTH_INVALID',
  SOURCE_FORBIDDEN: 'CTI_ERR_WEBHOOK_SOURCE_FORBIDDEN',
  BODY_NOT_JSON: 'CTI_ERR_WEBHOOK_BODY_NOT_JSON',
  PAYLOAD_INVALID: 'CTI_ERR_WEBHOOK_PAYLOAD_INVALID',
  BODY_TOO_LARGE: 'CTI_ERR_WEBHOOK_BODY_TOO_LARGE',
  EVENT_TOO_LARGE: 'CTI_ERR_WEBHOOK_EVENT_TOO_LARGE',
  CONTENT_TYPE_UNSUPPORTED: 'CTI_ERR_WEBHOOK_CONTENT_TYPE_UNSUPPORTED',
  RATE_LIMITED: 'CTI_ERR_WEBHOOK_RATE_LIMITED',
  UNAVAILABLE: 'CTI_ERR_WEBHOOK_UNAVAILABLE',
  BUSY: 'CTI_ERR_WEBHOOK_BUSY',
  REQUEST_TIMEOUT: 'CTI_ERR_WEBHOOK_REQUEST_TIMEOUT',
  HEADERS_TOO_LARGE: 'CTI_ERR_WEBHOOK_HEADERS_TOO_LARGE',
  REQUEST_MALFORMED: 'CTI_ERR_WEBHOOK_REQUEST_MALFORMED',
  NOT_FOUND: 'CTI_ERR_WEBHOOK_NOT_FOUND',
  INTERNAL: 'CTI_ERR_WEBHOOK_INTERNAL',
});

export type WebhookErrorCode = (typeof WebhookErrorCode)[keyof typeof WebhookErrorCode];

/** HTTP status of each code, kept in one table so a route cannot send a code with another status. */
export const STATUS_OF: Record<WebhookErrorCode, number> = {
  [WebhookErrorCode.SIGNATURE_INVALID]: 401,
  [WebhookErrorCode.AUTH_INVALID]: 401,
  [WebhookErrorCode.SOURCE_FORBIDDEN]: 403,
  [WebhookErrorCode.BODY_NOT_JSON]: 400,
  [WebhookErrorCode.PAYLOAD_INVALID]: 400,
  [WebhookErrorCode.BODY_TOO_LARGE]: 413,
  [WebhookErrorCode.EVENT_TOO_LARGE]: 413,
  [WebhookErrorCode.CONTENT_TYPE_UNSUPPORTED]: 415,
  [WebhookErrorCode.RATE_LIMITED]: 429,
  [WebhookErrorCode.UNAVAILABLE]: 503,
  [WebhookErrorCode.BUSY]: 503,
  [WebhookErrorCode.REQUEST_TIMEOUT]: 408,
  [WebhookErrorCode.HEADERS_TOO_LARGE]: 431,
  [WebhookErrorCode.REQUEST_MALFORMED]: 400,
  [WebhookErrorCode.NOT_FOUND]: 404,
  [WebhookErrorCode.INTERNAL]: 500,
};

/**
 * An error response. `message` is sent to the client, so it must say what was wrong with the
 * request and nothing about secrets, signatures or the state of the service.
 */
export class WebhookError extends CtiError<WebhookErrorCode> {
  readonly statusCode: number;
  /** JSON pointer of the failing field, for payload errors. */
  readonly path: string | undefined;
  /** Seconds the client should wait before it retries, for 429 and 503. */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    code: WebhookErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown>; path?: string; retryAfterSeconds?: number } = {},
  ) {
    super(code, message, options);
    this.name = 'WebhookError';
    this.statusCode = STATUS_OF[code];
    this.path = options.path;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}
