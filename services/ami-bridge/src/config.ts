import { defineConfig, env, loggingFields, natsAuthRule, natsFields, phoneHashKeyRule, type ConfigOf } from '@cti/config';
import { opsFields, retentionFields, retentionRule } from '@cti/runtime';

/** Settings of the call model: which channels are agents and which contexts mean which direction. */
export const callModelFields = {
  extensionPattern: env.string()('AMI_EXTENSION_PATTERN', {
    description: 'regular expression an endpoint (PJSIP/101) or Local extension (Local/101@from-queue) must match to be an agent extension',
    default: '^[0-9]{2,6}$',
  }),
  agentLocalContexts: env.list()('AMI_AGENT_LOCAL_CONTEXTS', {
    description: 'comma-separated contexts of Local channels that lead to an agent phone (queue members, ring group members)',
    default: ['from-queue', 'from-queue-exten-only', 'from-internal', 'ext-local'],
  }),
  inboundContexts: env.list()('AMI_INBOUND_CONTEXTS', {
    description: 'comma-separated dialplan contexts where outside calls enter; a trailing * matches a prefix',
    default: ['from-pstn*', 'from-trunk*', 'ext-did*', 'from-did-direct*'],
  }),
  internalContexts: env.list()('AMI_INTERNAL_CONTEXTS', {
    description: 'comma-separated dialplan contexts where phones place calls (internal or outbound, by the number dialled); a trailing * matches a prefix',
    default: ['from-internal*'],
  }),
  useTimestampHeader: env.boolean()('AMI_USE_TIMESTAMP_HEADER', {
    description: 'take event times from the Timestamp header when manager.conf has timestampevents = yes (otherwise from when events are read)',
    default: true,
  }),
};

/** Problems with the call model settings, or undefined. */
export function callModelRule(config: { extensionPattern: string }): string | undefined {
  try {
    new RegExp(config.extensionPattern);
  } catch {
    return 'AMI_EXTENSION_PATTERN is not a valid regular expression';
  }
  return undefined;
}

const amiFields = {
  pbxId: env.token()('PBX_ID', {
    description: 'id of the PBX this bridge serves (letters, digits, _ and -); it is in every call event and subject, and must differ between PBXs',
    example: 'pbx1',
  }),
  amiHost: env.string()('AMI_HOST', { description: 'host name or address of the Asterisk manager interface', default: '127.0.0.1' }),
  amiPort: env.port()('AMI_PORT', { description: 'TCP port of the Asterisk manager interface', default: 5038 }),
  amiUsername: env.string()('AMI_USERNAME', { description: 'AMI user of manager.conf (read = call,agent; write = originate,reporting)' }),
  amiSecret: env.secret()('AMI_SECRET', { description: 'secret of the AMI user' }),
  amiAuth: env.enum(['md5', 'plain'])('AMI_AUTH', {
    description: 'login method: md5 (the MD5 challenge, so the secret never crosses the network) or plain (the secret in the Login action)',
    default: 'md5',
  }),
  amiEvents: env.string()('AMI_EVENTS', {
    description: 'event classes asked for at login (the Events header); the user\'s read classes limit them further',
    default: 'call,agent',
  }),
  amiPingIntervalMs: env.integer({ minimum: 0 })('AMI_PING_INTERVAL_MS', { description: 'interval of the keepalive Ping, in ms; 0 turns it off', default: 20_000 }),
  amiPingTimeoutMs: env.integer({ minimum: 100 })('AMI_PING_TIMEOUT_MS', {
    description: 'time a keepalive Ping may go unanswered before the connection is dropped and made again, in ms',
    default: 10_000,
  }),
  amiActionTimeoutMs: env.integer({ minimum: 100 })('AMI_ACTION_TIMEOUT_MS', { description: 'time to wait for the response to an AMI action, in ms', default: 10_000 }),
  amiReconnectMinMs: env.integer({ minimum: 10 })('AMI_RECONNECT_MIN_MS', { description: 'first delay before reconnecting after a drop, in ms; it doubles up to AMI_RECONNECT_MAX_MS', default: 500 }),
  amiReconnectMaxMs: env.integer({ minimum: 10 })('AMI_RECONNECT_MAX_MS', { description: 'maximum delay between reconnect attempts, in ms', default: 30_000 }),
  amiLoginRetryMinMs: env.integer({ minimum: 10 })('AMI_LOGIN_RETRY_MIN_MS', {
    description: 'first delay before logging in again after a rejected login, in ms; it doubles up to AMI_LOGIN_RETRY_MAX_MS so a PBX that locks accounts is not hammered',
    default: 15_000,
  }),
  amiLoginRetryMaxMs: env.integer({ minimum: 10 })('AMI_LOGIN_RETRY_MAX_MS', { description: 'maximum delay between login attempts after rejections, in ms', default: 300_000 }),
  amiMaxMessageBytes: env.integer({ minimum: 4096 })('AMI_MAX_MESSAGE_BYTES', {
    description: 'largest AMI message accepted, in bytes; a larger one is skipped up to its end',
    default: 1_048_576,
  }),
  amiResyncIntervalMs: env.integer({ minimum: 0 })('AMI_RESYNC_INTERVAL_MS', {
    description: 'interval of a CoreShowChannels resync while connected, in ms, catching calls the model missed; 0 resyncs only after (re)connects',
    default: 300_000,
  }),
};

const originateFields = {
  originateChannel: env.string()('ORIGINATE_CHANNEL', {
    description: "channel that rings the agent's phone first for click-to-dial; {extension} is replaced by the agent's extension",
    default: 'PJSIP/{extension}',
  }),
  originateContext: env.string()('ORIGINATE_CONTEXT', { description: 'dialplan context that dials the number once the agent answers', default: 'from-internal' }),
  originateCallerId: env.string()('ORIGINATE_CALLER_ID', {
    description: 'caller ID of a click-to-dial call, shown on the agent phone and passed to the outbound route; {number} and {extension} are replaced',
    default: 'Click-to-dial <{number}>',
  }),
  originateTimeoutMs: env.integer({ minimum: 1000 })('ORIGINATE_TIMEOUT_MS', { description: "time the agent's phone rings for a click-to-dial before giving up, in ms", default: 30_000 }),
  originateNumberPattern: env.string()('ORIGINATE_NUMBER_PATTERN', {
    description: 'regular expression a click-to-dial number must match after spaces, dashes, dots and brackets are removed',
    default: '^\\+?[0-9]{2,20}$',
  }),
  originateIdempotencySeconds: env.integer({ minimum: 60 })('ORIGINATE_IDEMPOTENCY_SECONDS', {
    description: 'how long a click-to-dial request id is remembered, so a repeated request places no second call, in seconds',
    default: 86_400,
  }),
  publishMaxPending: env.integer({ minimum: 10 })('AMI_PUBLISH_MAX_PENDING', {
    description: 'call events waiting for JetStream before the bridge stops reading AMI, so Asterisk keeps the rest',
    default: 5000,
  }),
};

export const AmiBridgeConfig = defineConfig(
  'ami-bridge',
  { ...natsFields, ...loggingFields, ...opsFields, ...retentionFields, ...amiFields, ...callModelFields, ...originateFields },
  [
    natsAuthRule,
    phoneHashKeyRule,
    retentionRule,
    callModelRule,
    (config) => {
      try {
        new RegExp(config.originateNumberPattern);
      } catch {
        return 'ORIGINATE_NUMBER_PATTERN is not a valid regular expression';
      }
      return undefined;
    },
    (config) => (config.amiReconnectMinMs > config.amiReconnectMaxMs ? 'AMI_RECONNECT_MIN_MS must not exceed AMI_RECONNECT_MAX_MS' : undefined),
    (config) => (config.amiLoginRetryMinMs > config.amiLoginRetryMaxMs ? 'AMI_LOGIN_RETRY_MIN_MS must not exceed AMI_LOGIN_RETRY_MAX_MS' : undefined),
    (config) =>
      config.amiPingIntervalMs > 0 && config.amiPingTimeoutMs >= config.amiPingIntervalMs
        ? 'AMI_PING_TIMEOUT_MS must be shorter than AMI_PING_INTERVAL_MS, or keepalives overlap'
        : undefined,
    (config) => (config.originateChannel.includes('{extension}') ? undefined : 'ORIGINATE_CHANNEL must contain {extension}, or every click-to-dial rings the same phone'),
  ],
);

export type AmiBridgeSettings = ConfigOf<typeof AmiBridgeConfig.fields>;

/** Only the call model settings, for `cti normalize`: it needs no AMI connection. */
export const CallModelConfig = defineConfig('ami-bridge', callModelFields, [callModelRule]);
