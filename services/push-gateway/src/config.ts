import { defineConfig, env, loggingFields, natsAuthRule, natsFields, phoneHashKeyRule, type ConfigOf } from '@cti/config';
import { retentionFields, retentionRule } from '@cti/runtime';

/** Signing key settings, shared with `pnpm cti token` so both read the same variables. */
export const agentTokenFields = {
  agentTokenKeys: env.secretList()('AGENT_TOKEN_KEY', {
    description:
      'keys that sign and verify agent tokens (HS256), at least 32 characters each; the first signs, every one verifies, so a new key can be put first while tokens signed with the old one run out',
  }),
  agentTokenTtlSeconds: env.integer({ minimum: 60, maximum: 86_400 })('AGENT_TOKEN_TTL_SECONDS', {
    description: 'lifetime of an agent token when the request names none, in seconds',
    default: 3600,
  }),
  agentTokenMaxTtlSeconds: env.integer({ minimum: 60, maximum: 86_400 })('AGENT_TOKEN_MAX_TTL_SECONDS', {
    description: 'longest lifetime an agent token may be given, in seconds',
    default: 43_200,
  }),
  pbxId: env.token()('PBX_ID', {
    description: 'id of the PBX whose extensions agent tokens name when they name no other; the same value ami-bridge publishes under',
    default: 'pbx1',
  }),
};

export const MIN_AGENT_TOKEN_KEY_LENGTH = 32;

/** Rule shared with the CLI: short HMAC keys can be brute-forced from one captured token. */
export function agentTokenKeyRule(config: { agentTokenKeys: readonly string[]; agentTokenTtlSeconds: number; agentTokenMaxTtlSeconds: number }): string | undefined {
  if (config.agentTokenKeys.some((key) => key.length < MIN_AGENT_TOKEN_KEY_LENGTH)) {
    return `AGENT_TOKEN_KEY: every key must have at least ${MIN_AGENT_TOKEN_KEY_LENGTH} characters (generate one with: openssl rand -base64 48)`;
  }
  if (config.agentTokenTtlSeconds > config.agentTokenMaxTtlSeconds) {
    return 'AGENT_TOKEN_TTL_SECONDS is larger than AGENT_TOKEN_MAX_TTL_SECONDS: the default lifetime must be allowed';
  }
  return undefined;
}

const httpFields = {
  httpHost: env.string()('PUSH_HTTP_HOST', {
    description: 'address the push gateway listens on (WebSocket, REST API, console, health and metrics)',
    default: '127.0.0.1',
  }),
  httpPort: env.port()('PUSH_HTTP_PORT', {
    description: 'port the push gateway listens on (agent console, WebSocket, API, /healthz, /readyz, /metrics); not 8090, which webhook-ingress uses',
    default: 8080,
    fallback: 'PORT',
  }),
  requestTimeoutMs: env.integer({ minimum: 1000, maximum: 300_000 })('PUSH_REQUEST_TIMEOUT_MS', {
    description:
      'time a whole HTTP request (headers and body) may take to arrive, in milliseconds; a slower one gets 408. WebSocket connections are not affected once open',
    default: 15_000,
  }),
  trustProxy: env.boolean()('PUSH_TRUST_PROXY', {
    description: 'trust X-Forwarded-For from a load balancer in front of the gateway, so rate limits and audit events see the client address',
    default: false,
  }),
  allowedOrigins: env.list()('PUSH_ALLOWED_ORIGINS', {
    description:
      'origins (scheme://host[:port]) whose pages may open the WebSocket and call the API from a browser; the gateway\'s own origin is always allowed',
    default: [],
  }),
  publicOrigin: env.string()('PUSH_PUBLIC_ORIGIN', {
    description:
      "the gateway's own origin as browsers see it (e.g. https://cti.example.com); when set, the Host header no longer decides which origin is the gateway's own, which closes DNS rebinding",
    optional: true,
  }),
};

const socketFields = {
  maxConnections: env.integer({ minimum: 1 })('PUSH_MAX_CONNECTIONS', {
    description: 'WebSocket connections one gateway instance accepts; more are refused with 503',
    default: 20_000,
  }),
  maxConnectionsPerAgent: env.integer({ minimum: 1, maximum: 100 })('PUSH_MAX_CONNECTIONS_PER_AGENT', {
    description: 'WebSocket connections one agent may hold open at once (browser tabs); more are refused with 429',
    default: 5,
  }),
  connectsPerAgentPerMinute: env.integer({ minimum: 1 })('PUSH_CONNECTS_PER_AGENT_PER_MINUTE', {
    description: 'new WebSocket connections one agent may open per minute; more are refused with 429, so a client stuck in a reconnect loop cannot load the gateway',
    default: 60,
  }),
  maxInboundFrameBytes: env.integer({ minimum: 256, maximum: 1_048_576 })('PUSH_MAX_INBOUND_FRAME_BYTES', {
    description: 'largest frame a client may send, in bytes; a larger one closes the socket with 1009',
    default: 16_384,
  }),
  sendBufferBytes: env.integer({ minimum: 16_384 })('PUSH_SEND_BUFFER_BYTES', {
    description: 'bytes that may wait unsent for one client; a client that lets more pile up is closed with 4008',
    default: 262_144,
  }),
  slowCloseGraceMs: env.integer({ minimum: 0 })('PUSH_SLOW_CLOSE_GRACE_MS', {
    description: 'time a slow client gets to read its close frame before its socket is destroyed, in milliseconds',
    default: 5000,
  }),
  heartbeatIntervalMs: env.integer({ minimum: 1000 })('PUSH_HEARTBEAT_INTERVAL_MS', {
    description: 'interval of WebSocket pings; a client that has not answered the previous ping is disconnected, in milliseconds',
    default: 30_000,
  }),
  inboundFramesPerSecond: env.integer({ minimum: 1 })('PUSH_INBOUND_FRAMES_PER_SECOND', {
    description: 'frames per second a client may send on average (bursts of twice as many are allowed); faster clients are closed with 4029',
    default: 10,
  }),
  invalidFramesLimit: env.integer({ minimum: 1 })('PUSH_INVALID_FRAMES_LIMIT', {
    description: 'invalid frames a client may send within a minute; one more closes the socket with 4009',
    default: 10,
  }),
  tokenExpiryWarningSeconds: env.integer({ minimum: 0 })('PUSH_TOKEN_EXPIRY_WARNING_SECONDS', {
    description: 'how long before its token expires a client is told to send a fresh one, in seconds',
    default: 120,
  }),
};

const recoveryFields = {
  recoveryWindowSeconds: env.integer({ minimum: 1 })('PUSH_RECOVERY_WINDOW_SECONDS', {
    description: 'age of the oldest missed frame a reconnecting client can still get replayed; an older gap gets a snapshot instead, in seconds',
    default: 300,
  }),
  recoveryMaxFrames: env.integer({ minimum: 1, maximum: 10_000 })('PUSH_RECOVERY_MAX_FRAMES', {
    description: 'most frames replayed to one reconnecting client; a larger gap gets a snapshot instead',
    default: 500,
  }),
  snapshotMaxCallAgeSeconds: env.integer({ minimum: 60 })('PUSH_SNAPSHOT_MAX_CALL_AGE_SECONDS', {
    description: 'a call whose last event is older than this is left out of snapshots, in case its end was never published, in seconds',
    default: 14_400,
  }),
  missedCallsLookbackHours: env.integer({ minimum: 0, maximum: 336 })('PUSH_MISSED_CALLS_LOOKBACK_HOURS', {
    description: 'how far back the missed-calls list of a snapshot reaches, in hours; 0 sends none',
    default: 12,
  }),
  missedCallsMax: env.integer({ minimum: 1, maximum: 500 })('PUSH_MISSED_CALLS_MAX', {
    description: 'most missed calls a snapshot lists, newest kept',
    default: 50,
  }),
};

const apiFields = {
  apiKeysFile: env.path()('PUSH_API_KEYS_FILE', {
    description:
      'JSON file of the API keys that may mint agent tokens (ids and SHA-256 hashes, see docs/push-gateway.md); re-read when it changes and on SIGHUP',
    optional: true,
  }),
  apiKeyRatePerMinute: env.integer({ minimum: 1 })('PUSH_API_KEY_RATE_PER_MINUTE', {
    description: 'token requests one API key may make per minute, unless its entry in the key file sets its own limit',
    default: 120,
  }),
  authFailuresPerMinute: env.integer({ minimum: 1 })('PUSH_AUTH_FAILURES_PER_MINUTE', {
    description: 'failed authentications per minute from one client address that are audited one by one; further failures that minute get 429 (valid credentials still pass)',
    default: 30,
  }),
  dialRatePerMinute: env.integer({ minimum: 1 })('PUSH_DIAL_RATE_PER_MINUTE', {
    description: 'click-to-dial requests one agent may make per minute',
    default: 30,
  }),
  dialTimeoutMs: env.integer({ minimum: 100 })('PUSH_DIAL_TIMEOUT_MS', {
    description: 'time ami-bridge has to answer a click-to-dial request before the gateway answers 503, in milliseconds',
    default: 5000,
  }),
  dialDedupeSeconds: env.integer({ minimum: 0 })('PUSH_DIAL_DEDUPE_SECONDS', {
    description: 'a second click-to-dial of the same number by the same agent within this time reuses the first request, in seconds',
    default: 10,
  }),
};

const demoFields = {
  demoMode: env.boolean()('PUSH_DEMO_MODE', {
    description: 'demo sign-in on the console: anyone who reaches the gateway can sign in as a demo agent without a token; never in production',
    default: false,
  }),
  demoAgents: env.list()('PUSH_DEMO_AGENTS', {
    description: 'demo agents offered by the demo sign-in, as agent:extension pairs',
    default: ['anna:101', 'ben:102'],
  }),
};

export const PushGatewayConfig = defineConfig(
  'push-gateway',
  {
    ...natsFields,
    ...loggingFields,
    ...retentionFields,
    ...agentTokenFields,
    ...httpFields,
    ...socketFields,
    ...recoveryFields,
    ...apiFields,
    ...demoFields,
  },
  [
    natsAuthRule,
    phoneHashKeyRule,
    retentionRule,
    agentTokenKeyRule,
    (config) =>
      config.phoneHashKey === undefined
        ? 'PHONE_HASH_KEY (or PHONE_HASH_KEY_FILE) is missing: the gateway audits every screen pop with the keyed hash of the caller number'
        : undefined,
    (config) =>
      config.demoAgents.every((entry) => /^[A-Za-z0-9_.@-]{1,128}:[A-Za-z0-9_-]{1,64}$/.test(entry))
        ? undefined
        : 'PUSH_DEMO_AGENTS: every entry must be agent:extension, e.g. anna:101',
    (config) =>
      config.publicOrigin === undefined || isOrigin(config.publicOrigin)
        ? undefined
        : 'PUSH_PUBLIC_ORIGIN must be an origin such as https://cti.example.com, without a path',
    (config) =>
      config.allowedOrigins.every(isOrigin)
        ? undefined
        : 'PUSH_ALLOWED_ORIGINS: every entry must be an origin such as https://crm.example.com, without a path',
  ],
);

export type PushGatewaySettings = ConfigOf<typeof PushGatewayConfig.fields>;

function isOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === value;
  } catch {
    return false;
  }
}
