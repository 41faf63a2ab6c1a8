import { createHttpMetrics } from '@cti/runtime';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export type PushMetrics = ReturnType<typeof createPushMetrics>;

export function createPushMetrics(registry: Registry) {
  const registers = [registry];
  return {
    /** HTTP requests, and the rate limits of routes, failed authentications and inbound frames. */
    http: createHttpMetrics(registry),
    connectedAgents: new Gauge({
      name: 'cti_push_connected_agents',
      help: 'Agents with at least one open WebSocket on this instance',
      registers,
    }),
    connections: new Gauge({
      name: 'cti_push_connections',
      help: 'Open WebSocket connections on this instance',
      registers,
    }),
    subscribedExtensions: new Gauge({
      name: 'cti_push_subscribed_extensions',
      help: 'Extensions whose events this instance subscribes to on NATS',
      registers,
    }),
    framesSent: new Counter({
      name: 'cti_push_frames_sent_total',
      help: 'Frames sent to agents, by frame type (event frames by event type)',
      labelNames: ['frame'],
      registers,
    }),
    slowClientDisconnects: new Counter({
      name: 'cti_push_slow_client_disconnects_total',
      help: 'Connections closed because their send buffer passed PUSH_SEND_BUFFER_BYTES',
      registers,
    }),
    disconnects: new Counter({
      name: 'cti_push_disconnects_total',
      help: 'Closed connections, by reason (client, token_expired, slow_client, heartbeat, invalid_frames, rate_limited, shutdown, error)',
      labelNames: ['reason'],
      registers,
    }),
    authFailures: new Counter({
      name: 'cti_push_auth_failures_total',
      help: 'Rejected authentications, by credential (agent_token, api_key, origin) and reason',
      labelNames: ['credential', 'reason'],
      registers,
    }),
    recoveries: new Counter({
      name: 'cti_push_recoveries_total',
      help: 'Reconnections with a cursor, by outcome (recovered, snapshot) and reason',
      labelNames: ['outcome', 'reason'],
      registers,
    }),
    inboundFrames: new Counter({
      name: 'cti_push_inbound_frames_total',
      help: 'Frames received from agents, by type (invalid for frames that failed the schema)',
      labelNames: ['frame'],
      registers,
    }),
    dialRequests: new Counter({
      name: 'cti_push_dial_requests_total',
      help: 'Click-to-dial requests, by outcome',
      labelNames: ['outcome'],
      registers,
    }),
    tokensMinted: new Counter({
      name: 'cti_push_tokens_minted_total',
      help: 'Agent tokens minted, by issuer (api_key, demo)',
      labelNames: ['issuer'],
      registers,
    }),
    apiKeyReloads: new Counter({
      name: 'cti_push_api_key_reloads_total',
      help: 'Reloads of PUSH_API_KEYS_FILE, by outcome (loaded, failed)',
      labelNames: ['outcome'],
      registers,
    }),
    liveMessagesDropped: new Counter({
      name: 'cti_push_live_messages_dropped_total',
      help: 'Live messages from NATS the gateway could not forward, by reason (undecodable, invalid, mismatched_subject)',
      labelNames: ['reason'],
      registers,
    }),
    screenPopSeconds: new Histogram({
      name: 'cti_push_screen_pop_seconds',
      help: 'Time from the call.ringing event to its screen pop (crm.caller.identified) being written to an agent socket, in seconds; live frames only',
      buckets: [0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10],
      registers,
    }),
    syncSeconds: new Histogram({
      name: 'cti_push_sync_seconds',
      help: 'Time from a connection opening to its snapshot or replay being sent, in seconds',
      labelNames: ['kind'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
  };
}
