export { CircuitBreaker, type CircuitBreakerOptions, type CircuitState } from './breaker.js';
export {
  SuiteCrmClient,
  type CrmRequestEvent,
  type FieldDefinition,
  type SuiteCrmClientOptions,
  type SuiteCrmObserver,
} from './client.js';
export { clientOptionsFrom, phoneFields, suitecrmFields, suitecrmRules } from './config.js';
export { parseSuiteCrmDateTime, toSuiteCrmDateTime } from './dates.js';
export { isSuiteCrmError, SuiteCrmError, SuiteCrmErrorCode, type SuiteCrmErrorOptions } from './errors.js';
export { isSuiteCrm8, locateApi, type ApiLocation } from './location.js';
export {
  digitWildcardPattern,
  liveLookup,
  LOOKUP_MODULES,
  lookupFields,
  matchFields,
  PHONE_FIELDS,
  phoneRecordFrom,
  rankMatches,
  toCallerMatch,
  type FieldMatch,
  type LiveLookupOptions,
  type PhoneRecord,
  type RankedMatch,
} from './lookup.js';
export { parseJsonLenient } from './parse.js';
export {
  assertRegionCode,
  isRegionCode,
  looseDigits,
  normalizePhoneNumber,
  requirePhoneNumber,
  sameNumber,
  type NormalizedNumber,
  type PhoneOptions,
} from './phone.js';
export { attribute, listQuery, type CrmRecord, type FilterOperator, type ListParams, type ListResult } from './records.js';
export { redactCrmText } from './redact.js';
export { errorFromResponse, retryAfterSeconds } from './response-errors.js';
export {
  cleanTextForSuiteCrm,
  decodeHtmlEntities,
  DESCRIPTION_MAX_BYTES,
  splitUtf8,
  truncateChars,
  truncateUtf8,
  utf8Length,
} from './text.js';
export { TokenManager, type Credentials, type GrantType, type TokenState } from './token.js';
