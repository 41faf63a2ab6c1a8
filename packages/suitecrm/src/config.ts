import { env, type ConfigOf } from '@cti/config';

import { isRegionCode } from './phone.js';
import type { SuiteCrmClientOptions } from './client.js';

/** SuiteCRM connection settings, shared by crm-sync and `cti lookup`. */
export const suitecrmFields = {
  suitecrmUrl: env.url(['http', 'https'])('SUITECRM_URL', {
    description: 'SuiteCRM address: the site root of SuiteCRM 7 or 8 (the API is looked for under /Api, then /legacy/Api), or the API itself',
    example: 'https://crm.example.com',
  }),
  suitecrmClientId: env.string()('SUITECRM_CLIENT_ID', {
    description: 'id of the OAuth2 client created in SuiteCRM under Admin > OAuth2 Clients and Tokens',
  }),
  suitecrmClientSecret: env.secret()('SUITECRM_CLIENT_SECRET', { description: 'secret of that OAuth2 client' }),
  suitecrmGrantType: env.enum(['client_credentials', 'password'])('SUITECRM_GRANT_TYPE', {
    description: 'OAuth2 grant of the client: client_credentials (requests run as the user the client is assigned to) or password',
    default: 'client_credentials',
  }),
  suitecrmUsername: env.string()('SUITECRM_USERNAME', { description: 'SuiteCRM user name for the password grant', optional: true }),
  suitecrmPassword: env.secret()('SUITECRM_PASSWORD', { description: 'SuiteCRM password for the password grant', optional: true }),
  suitecrmUiUrl: env.url(['http', 'https'])('SUITECRM_UI_URL', {
    description: 'base of the record links shown to agents, when the web UI is not at SUITECRM_URL',
    optional: true,
  }),
  suitecrmConnectTimeoutMs: env.integer({ minimum: 100 })('SUITECRM_CONNECT_TIMEOUT_MS', {
    description: 'time allowed to connect to SuiteCRM, in ms',
    default: 3000,
  }),
  suitecrmRequestTimeoutMs: env.integer({ minimum: 100 })('SUITECRM_REQUEST_TIMEOUT_MS', {
    description: 'time allowed for one SuiteCRM request, in ms',
    default: 10_000,
  }),
  suitecrmMaxConnections: env.integer({ minimum: 1, maximum: 256 })('SUITECRM_MAX_CONNECTIONS', {
    description: 'keep-alive connections to SuiteCRM at most',
    default: 16,
  }),
  suitecrmMaxRetries: env.integer({ minimum: 0, maximum: 10 })('SUITECRM_MAX_RETRIES', {
    description: 'retries of a failed SuiteCRM request (429, 5xx, network errors) before the caller gets the error',
    default: 3,
  }),
  suitecrmRetryBaseDelayMs: env.integer({ minimum: 1 })('SUITECRM_RETRY_BASE_DELAY_MS', {
    description: 'first delay between SuiteCRM retries, doubled per retry, with jitter, in ms',
    default: 250,
  }),
  suitecrmRetryMaxDelayMs: env.integer({ minimum: 1 })('SUITECRM_RETRY_MAX_DELAY_MS', {
    description: 'maximum wait between two SuiteCRM attempts, in ms; a longer Retry-After hands the work back to the queue',
    default: 10_000,
  }),
  suitecrmCircuitFailures: env.integer({ minimum: 1 })('SUITECRM_CIRCUIT_FAILURES', {
    description: 'consecutive SuiteCRM failures (5xx, timeouts, network errors) that open the circuit breaker',
    default: 5,
  }),
  suitecrmCircuitOpenMs: env.integer({ minimum: 100 })('SUITECRM_CIRCUIT_OPEN_MS', {
    description: 'time the circuit breaker stays open before one trial request, in ms',
    default: 30_000,
  }),
};

/** Phone number normalisation settings, shared by crm-sync and `cti lookup`. */
export const phoneFields = {
  phoneDefaultRegion: env.string({ pattern: '^[A-Z]{2}$' })('PHONE_DEFAULT_REGION', {
    description: 'ISO 3166 region of numbers written without a country code, e.g. US or DE',
    default: 'US',
  }),
  phoneStripPrefixes: env.list()('PHONE_STRIP_PREFIXES', {
    description: 'comma-separated digits the PBX puts in front of outside numbers (such as 9), removed when a number does not parse with them',
    optional: true,
  }),
};

/** Rule: the password grant needs its user; a region must be a known one. */
export function suitecrmRules(config: {
  suitecrmGrantType: string;
  suitecrmUsername: string | undefined;
  suitecrmPassword: string | undefined;
  phoneDefaultRegion: string;
}): string | undefined {
  if (config.suitecrmGrantType === 'password' && (config.suitecrmUsername === undefined || config.suitecrmPassword === undefined)) {
    return 'SUITECRM_GRANT_TYPE=password needs SUITECRM_USERNAME and SUITECRM_PASSWORD (or SUITECRM_PASSWORD_FILE)';
  }
  if (!isRegionCode(config.phoneDefaultRegion)) {
    return `PHONE_DEFAULT_REGION=${config.phoneDefaultRegion} is not a region libphonenumber knows: use an ISO 3166 code such as US or DE`;
  }
  return undefined;
}

type SuiteCrmSettings = ConfigOf<typeof suitecrmFields>;

/** Client options from loaded settings. */
export function clientOptionsFrom(config: SuiteCrmSettings): SuiteCrmClientOptions {
  return {
    url: config.suitecrmUrl,
    credentials: {
      clientId: config.suitecrmClientId,
      clientSecret: config.suitecrmClientSecret,
      grantType: config.suitecrmGrantType,
      username: config.suitecrmUsername,
      password: config.suitecrmPassword,
    },
    uiUrl: config.suitecrmUiUrl,
    connectTimeoutMs: config.suitecrmConnectTimeoutMs,
    requestTimeoutMs: config.suitecrmRequestTimeoutMs,
    maxConnections: config.suitecrmMaxConnections,
    maxRetries: config.suitecrmMaxRetries,
    retryBaseDelayMs: config.suitecrmRetryBaseDelayMs,
    retryMaxDelayMs: config.suitecrmRetryMaxDelayMs,
    circuitFailureThreshold: config.suitecrmCircuitFailures,
    circuitOpenMs: config.suitecrmCircuitOpenMs,
  };
}
