import { SuiteCrmError, SuiteCrmErrorCode } from './errors.js';
import { parseJsonLenient } from './parse.js';
import { redactCrmText } from './redact.js';

export interface FailedResponse {
  status: number;
  /** Body text as received. */
  text: string;
  headers: Record<string, string | string[] | undefined>;
  /** `token` for POST /Api/access_token, `api` for the V8 routes. */
  endpoint: 'token' | 'api';
  /** Secrets that must not reach the error text even if SuiteCRM echoes them. */
  secrets: readonly (string | undefined)[];
  /** Route label for the message, e.g. `GET module/{module}`; never carries query values. */
  route: string;
}

/** Reads Retry-After as seconds or as an HTTP date; returns undefined when absent or unreadable. */
export function retryAfterSeconds(value: string | string[] | undefined, now: number): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || text.trim() === '') {
    return undefined;
  }
  if (/^\d+$/.test(text.trim())) {
    return Number(text.trim());
  }
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - now) / 1000));
}

/**
 * Pulls SuiteCRM's error text out of a body: `errors.detail` of the V8 routes (a single object,
 * not the JSON:API array), `error_description` of the token endpoint, or the router's `message`.
 */
function errorText(text: string): { detail: string | undefined; oauthError: string | undefined } {
  const parsed = parseJsonLenient(text);
  const value = parsed?.value;
  if (typeof value !== 'object' || value === null) {
    return { detail: undefined, oauthError: undefined };
  }
  const record = value as Record<string, unknown>;
  const errors = record['errors'];
  const firstError = Array.isArray(errors) ? errors[0] : errors;
  if (typeof firstError === 'object' && firstError !== null) {
    const detail = (firstError as Record<string, unknown>)['detail'];
    return { detail: typeof detail === 'string' ? detail : undefined, oauthError: undefined };
  }
  const description = record['error_description'] ?? record['message'];
  const oauthError = record['error'];
  return {
    detail: typeof description === 'string' ? description : undefined,
    oauthError: typeof oauthError === 'string' ? oauthError : undefined,
  };
}

function classifyDetail(detail: string): SuiteCrmErrorCode {
  if (/ is already exist/i.test(detail)) {
    return SuiteCrmErrorCode.RECORD_EXISTS;
  }
  if (/module with id .* is not found/i.test(detail) || /^Module with .* id is not related/i.test(detail)) {
    return SuiteCrmErrorCode.RECORD_NOT_FOUND;
  }
  if (/^Property .* is invalid$/i.test(detail) || /field in .* module is not found/i.test(detail) || /^Filter field .* is not found$/i.test(detail) || /^Sort field .* is not found$/i.test(detail)) {
    return SuiteCrmErrorCode.FIELD_UNKNOWN;
  }
  if (/^Database failure/i.test(detail)) {
    return SuiteCrmErrorCode.DATABASE_FAILURE;
  }
  if (/\[Not Allowed\]/i.test(detail) || /does not have access/i.test(detail)) {
    return SuiteCrmErrorCode.ACCESS_DENIED;
  }
  return SuiteCrmErrorCode.BAD_REQUEST;
}

/** Turns a non-2xx response into a SuiteCrmError with a stable code and redacted detail. */
export function errorFromResponse(response: FailedResponse, now: number): SuiteCrmError {
  const { status, endpoint, route } = response;
  const { detail, oauthError } = errorText(response.text);
  const crmDetail = detail === undefined ? undefined : redactCrmText(detail, response.secrets);
  const suffix = crmDetail === undefined ? '' : `: ${crmDetail}`;
  const common = { status, ...(crmDetail === undefined ? {} : { crmDetail }), details: { route } };

  if (status === 429) {
    const wait = retryAfterSeconds(response.headers['retry-after'], now);
    return new SuiteCrmError(SuiteCrmErrorCode.RATE_LIMITED, `SuiteCRM rate limit on ${route}`, {
      ...common,
      retryable: true,
      ...(wait === undefined ? {} : { retryAfterSeconds: wait }),
    });
  }

  if (endpoint === 'token') {
    if (status === 500 && /OAuth2Clients module with id .* is not found/i.test(detail ?? '')) {
      return new SuiteCrmError(SuiteCrmErrorCode.CLIENT_UNKNOWN, `SuiteCRM does not know this OAuth2 client id: check SUITECRM_CLIENT_ID${suffix}`, common);
    }
    if (status === 401 || (status === 500 && /password is invalid|no user found/i.test(detail ?? ''))) {
      return new SuiteCrmError(
        SuiteCrmErrorCode.AUTH_REJECTED,
        `SuiteCRM rejected the OAuth2 credentials: check the client secret, the client's grant type and the user${suffix}`,
        common,
      );
    }
    if (status === 400 && oauthError !== undefined) {
      return new SuiteCrmError(SuiteCrmErrorCode.AUTH_REQUEST_INVALID, `SuiteCRM rejected the token request${suffix}`, common);
    }
  }

  if (status === 401) {
    return new SuiteCrmError(SuiteCrmErrorCode.UNAUTHORIZED, `SuiteCRM denied access on ${route}${suffix}`, { ...common, retryable: true });
  }
  if (status === 404 || status === 405) {
    return new SuiteCrmError(SuiteCrmErrorCode.ROUTE_NOT_FOUND, `SuiteCRM has no route ${route} (HTTP ${status}): check SUITECRM_URL${suffix}`, common);
  }
  if (status >= 500) {
    const wait = retryAfterSeconds(response.headers['retry-after'], now);
    return new SuiteCrmError(SuiteCrmErrorCode.UNAVAILABLE, `SuiteCRM failed on ${route} (HTTP ${status})${suffix}`, {
      ...common,
      retryable: true,
      ...(wait === undefined ? {} : { retryAfterSeconds: wait }),
    });
  }
  const code = detail === undefined ? SuiteCrmErrorCode.BAD_REQUEST : classifyDetail(detail);
  return new SuiteCrmError(code, `SuiteCRM rejected ${route} (HTTP ${status})${suffix}`, {
    ...common,
    // A database failure can be a lost connection inside SuiteCRM; the caller decides.
    retryable: code === SuiteCrmErrorCode.DATABASE_FAILURE,
  });
}
