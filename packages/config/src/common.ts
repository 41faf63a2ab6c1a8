import { env } from './fields.js';

/** NATS connection settings, the same for every service. */
export const natsFields = {
  natsUrl: env.url(['nats', 'tls', 'ws', 'wss'])('NATS_URL', {
    description: 'NATS server URL; several seed servers of a cluster are comma-separated',
    default: 'nats://127.0.0.1:4222',
  }),
  natsUser: env.string()('NATS_USER', { description: "this service's NATS user name", optional: true }),
  natsPassword: env.secret()('NATS_PASSWORD', { description: "this service's NATS password", optional: true }),
  natsCredsFile: env.path()('NATS_CREDS_FILE', {
    description: 'NATS credentials file (JWT and NKey seed), instead of user and password',
    optional: true,
  }),
  natsTlsCaFile: env.path()('NATS_TLS_CA_FILE', { description: 'CA certificate that signed the NATS server certificate', optional: true }),
  natsTlsCertFile: env.path()('NATS_TLS_CERT_FILE', { description: 'client certificate for NATS mutual TLS', optional: true }),
  natsTlsKeyFile: env.path()('NATS_TLS_KEY_FILE', { description: 'client key for NATS mutual TLS', optional: true }),
};

/** Logging settings, the same for every service. */
export const loggingFields = {
  logLevel: env.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])('LOG_LEVEL', {
    description: 'lowest log level written',
    default: 'info',
  }),
  logPhoneNumbers: env.enum(['mask', 'hash', 'clear'])('LOG_PHONE_NUMBERS', {
    description: 'how phone numbers appear in logs: mask keeps the country code and last 3 digits, hash writes a keyed hash, clear writes them as they are',
    default: 'mask',
  }),
  phoneHashKey: env.secret({ minLength: 16 })('PHONE_HASH_KEY', {
    description: 'key of the phone number hash in audit events and in logs under LOG_PHONE_NUMBERS=hash; the same on every service so hashes correlate (at least 16 characters)',
    optional: true,
  }),
};

/** Rule shared by every service: hash mode needs its key. */
export function phoneHashKeyRule(config: { logPhoneNumbers: string; phoneHashKey: string | undefined }): string | undefined {
  if (config.logPhoneNumbers === 'hash' && config.phoneHashKey === undefined) {
    return 'LOG_PHONE_NUMBERS=hash needs PHONE_HASH_KEY or PHONE_HASH_KEY_FILE: the key of the phone number hash';
  }
  return undefined;
}

/** Rule shared by every service: NATS user and password come together, or not at all. */
export function natsAuthRule(config: { natsUser: string | undefined; natsPassword: string | undefined; natsCredsFile: string | undefined }): string | undefined {
  if ((config.natsUser === undefined) !== (config.natsPassword === undefined)) {
    return 'NATS_USER and NATS_PASSWORD (or NATS_PASSWORD_FILE) must be set together';
  }
  if (config.natsUser !== undefined && config.natsCredsFile !== undefined) {
    return 'NATS_USER and NATS_CREDS_FILE are both set: use one way to authenticate to NATS';
  }
  return undefined;
}
