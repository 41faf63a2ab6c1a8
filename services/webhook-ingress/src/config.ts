import { defineConfig, env, loggingFields, natsAuthRule, natsFields, phoneHashKeyRule, type ConfigOf } from '@cti/config';
import { Streams } from '@cti/contracts';
import { retentionFields, retentionRule } from '@cti/runtime';

import { invalidAddressEntries, parseTrustProxy } from './network.js';

const MIB = 1024 * 1024;

const fields = {
  ...natsFields,
  ...loggingFields,
  ...retentionFields,
  httpHost: env.string()('WEBHOOK_HTTP_HOST', {
    description: 'address the webhook endpoint listens on',
    default: '0.0.0.0',
  }),
  httpPort: env.port()('WEBHOOK_HTTP_PORT', {
    description: 'port of the webhook endpoint (/webhooks/elevenlabs, /healthz, /readyz, /metrics)',
    default: 8090,
    fallback: 'PORT',
  }),
  tlsCertFile: env.path()('WEBHOOK_TLS_CERT_FILE', {
    description: 'PEM certificate (chain) for native HTTPS; leave unset behind a TLS-terminating proxy',
    optional: true,
  }),
  tlsKeyFile: env.path()('WEBHOOK_TLS_KEY_FILE', { description: 'PEM private key for native HTTPS', optional: true }),
  trustProxy: env.string()('TRUST_PROXY', {
    description:
      'which proxies may set X-Forwarded-For: false, true (any), a hop count, or comma-separated proxy addresses or networks; the client address it yields is used for rate limits and the allow-list',
    default: 'false',
  }),
  webhookSecrets: env.secretList()('ELEVENLABS_WEBHOOK_SECRETS', {
    description:
      'HMAC secrets of the ElevenLabs post-call webhook, comma-separated (one per line in the _FILE); a delivery signed with any of them is accepted, so a new and an old secret can overlap during rotation',
  }),
  signatureMaxAgeSeconds: env.integer({ minimum: 60, maximum: 3600 })('ELEVENLABS_SIGNATURE_MAX_AGE_SECONDS', {
    description: 'oldest accepted signature timestamp, in seconds before now',
    default: 1800,
  }),
  signatureMaxFutureSeconds: env.integer({ minimum: 0, maximum: 900 })('ELEVENLABS_SIGNATURE_MAX_FUTURE_SECONDS', {
    description: 'newest accepted signature timestamp, in seconds after now (clock skew)',
    default: 300,
  }),
  conversationInitSecrets: env.secretList()('ELEVENLABS_CONVERSATION_INIT_SECRETS', {
    description:
      'shared secrets the conversation-initiation webhook must send in its auth header, comma-separated (one per line in the _FILE); without one the route is disabled',
    optional: true,
  }),
  conversationInitHeader: env.string({ pattern: '^[A-Za-z0-9-]{1,64}$' })('ELEVENLABS_CONVERSATION_INIT_HEADER', {
    description: 'request header that carries the conversation-initiation secret, as configured in the ElevenLabs workspace',
    default: 'X-Conversation-Init-Secret',
  }),
  callerLookupTimeoutMs: env.integer({ minimum: 100, maximum: 5000 })('ELEVENLABS_CALLER_LOOKUP_TIMEOUT_MS', {
    description: 'deadline of the CRM caller lookup for conversation-init, in ms; past it the response carries defaults',
    default: 1500,
  }),
  allowedIps: env.list()('ELEVENLABS_ALLOWED_IPS', {
    description: "source addresses or networks allowed to call the webhook routes, comma-separated (ElevenLabs' published egress IPs); unset allows any source",
    optional: true,
  }),
  requestTimeoutMs: env.integer({ minimum: 1000, maximum: 600_000 })('WEBHOOK_REQUEST_TIMEOUT_MS', {
    description:
      'time a whole request (headers and body) may take to arrive, in milliseconds; a slower one gets 408, so a client that trickles its body cannot keep its buffer in memory',
    default: 60_000,
  }),
  bodyLimitBytes: env.integer({ minimum: 1024, maximum: 16 * MIB })('WEBHOOK_BODY_LIMIT_BYTES', {
    description: 'largest request body of conversation-init and every other route but the post-call webhook, in bytes',
    default: 64 * 1024,
  }),
  postCallBodyLimitBytes: env.integer({ minimum: 64 * 1024, maximum: 1024 * MIB })('WEBHOOK_POST_CALL_BODY_LIMIT_BYTES', {
    description: 'largest post-call webhook body, in bytes; post_call_audio carries the whole call as base64 MP3',
    default: 64 * MIB,
  }),
  bodyBytesInFlight: env.integer({ minimum: 64 * 1024, maximum: 16 * 1024 * MIB })('WEBHOOK_BODY_BYTES_IN_FLIGHT', {
    description:
      'bytes of post-call bodies the service reads at once before their signatures are checked; a delivery that would exceed it gets 503 with Retry-After. At least WEBHOOK_POST_CALL_BODY_LIMIT_BYTES, so one largest delivery always fits',
    default: 256 * MIB,
  }),
  rateLimitMax: env.integer({ minimum: 1 })('WEBHOOK_RATE_LIMIT_MAX', {
    description: 'requests one source address may make to the webhook routes per rate-limit window',
    default: 600,
  }),
  rateLimitWindowSeconds: env.integer({ minimum: 1, maximum: 3600 })('WEBHOOK_RATE_LIMIT_WINDOW_SECONDS', {
    description: 'length of the rate-limit window, in seconds; the Retry-After of a 429 response is at most this long',
    default: 10,
  }),
  publishTimeoutMs: env.integer({ minimum: 100, maximum: 60_000 })('WEBHOOK_PUBLISH_TIMEOUT_MS', {
    description: 'how long a delivery waits for the JetStream ack before it gets a 503 response, in ms',
    default: 5000,
  }),
  retryAfterSeconds: env.integer({ minimum: 1, maximum: 3600 })('WEBHOOK_RETRY_AFTER_SECONDS', {
    description: 'Retry-After of a 503 response, in seconds',
    default: 30,
  }),
};

type Fields = typeof fields;
export type WebhookIngressSettings = ConfigOf<Fields>;

function tlsPairRule(config: WebhookIngressSettings): string | undefined {
  if ((config.tlsCertFile === undefined) !== (config.tlsKeyFile === undefined)) {
    return 'WEBHOOK_TLS_CERT_FILE and WEBHOOK_TLS_KEY_FILE must be set together, or neither for plain HTTP behind a proxy';
  }
  return undefined;
}

/**
 * Checks that the signature window fits in the AI stream's duplicate window. A replayed delivery
 * is recognised only while JetStream still has its message id, and a signature stays valid from
 * max-future seconds before its timestamp to max-age seconds after it.
 */
function replayWindowRule(config: WebhookIngressSettings): string | undefined {
  const span = config.signatureMaxAgeSeconds + config.signatureMaxFutureSeconds;
  const window = Streams.AI.duplicateWindowSeconds;
  if (span > window) {
    return `ELEVENLABS_SIGNATURE_MAX_AGE_SECONDS + ELEVENLABS_SIGNATURE_MAX_FUTURE_SECONDS is ${span} s, more than the ${window} s duplicate window of the AI stream: a replay after the window would be stored twice`;
  }
  return undefined;
}

function addressRules(config: WebhookIngressSettings): string | undefined {
  const invalid = invalidAddressEntries(config.allowedIps ?? []);
  if (invalid.length > 0) {
    return `ELEVENLABS_ALLOWED_IPS contains entries that are not IP addresses or networks: ${invalid.join(', ')}`;
  }
  const trustProxy = parseTrustProxy(config.trustProxy);
  if (typeof trustProxy === 'object' && !Array.isArray(trustProxy)) {
    return `TRUST_PROXY is invalid, ${trustProxy.error}`;
  }
  return undefined;
}

export const WebhookIngressConfig = defineConfig('webhook-ingress', fields, [
  natsAuthRule,
  phoneHashKeyRule,
  retentionRule,
  tlsPairRule,
  replayWindowRule,
  addressRules,
  (config) =>
    config.bodyBytesInFlight < config.postCallBodyLimitBytes
      ? 'WEBHOOK_BODY_BYTES_IN_FLIGHT is smaller than WEBHOOK_POST_CALL_BODY_LIMIT_BYTES: the largest delivery would never fit'
      : undefined,
]);
