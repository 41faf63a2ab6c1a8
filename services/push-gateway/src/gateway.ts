import type { Bus } from '@cti/bus';
import { LIVE_SUBJECT_PREFIX } from '@cti/contracts';
import type { Logger } from '@cti/logging';
import type { Auditor } from '@cti/runtime';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

import { ApiKeyStore } from './api-keys.js';
import type { PushGatewaySettings } from './config.js';
import { Dialer } from './dial.js';
import { StreamHistory } from './history.js';
import { AuthFailureLimiter } from './http/auth.js';
import { buildApp } from './http/app.js';
import { OriginPolicy } from './http/origin.js';
import { SessionHub } from './hub.js';
import { PushError, PushErrorCode } from './errors.js';
import { createPushMetrics } from './metrics.js';
import { CURSOR_STREAMS } from './protocol.js';
import { AgentTokenKeys } from './tokens.js';

export interface GatewayOptions {
  settings: PushGatewaySettings;
  bus: Bus;
  auditor: Auditor;
  logger: Logger;
  registry: Registry;
  /** Current time in milliseconds; tests move it forward to age a recovery gap. */
  clock?: () => number;
  /** Polling interval of the API key file, in milliseconds. */
  apiKeysPollMs?: number;
}

export interface Gateway {
  app: FastifyInstance;
  hub: SessionHub;
  apiKeys: ApiKeyStore;
  /** `http://host:port` the gateway listens on. */
  url: string;
  port: number;
  /** Closes every socket with 1001, then the HTTP server; NATS is left to the caller. */
  close(): Promise<void>;
}

/**
 * Checks that CALLS and CRM republish their messages under `live.>`: without that the gateway
 * would accept agents and send them nothing. nats-server 2.9 cannot add republishing to an
 * existing stream, so a stream created by an older version has to be recreated.
 */
export async function checkLiveCopies(bus: Pick<Bus, 'jsm'>): Promise<void> {
  for (const stream of CURSOR_STREAMS) {
    const info = await bus.jsm.streams.info(stream);
    if (info.config.republish?.dest !== `${LIVE_SUBJECT_PREFIX}.>`) {
      throw new PushError(
        PushErrorCode.LIVE_COPIES_MISSING,
        500,
        `stream ${stream} does not republish to ${LIVE_SUBJECT_PREFIX}.>: recreate it (back it up, delete it, restart the services) so it gets the republish setting`,
      );
    }
  }
}

/** Wires the gateway's parts together and starts listening. `main.ts` and the tests call this. */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { settings, bus, auditor, logger, registry } = options;
  await checkLiveCopies(bus);
  const clock = options.clock ?? Date.now;
  const metrics = createPushMetrics(registry);
  const tokenKeys = new AgentTokenKeys(settings.agentTokenKeys, { maxTtlSeconds: settings.agentTokenMaxTtlSeconds });

  const apiKeys = new ApiKeyStore({
    path: settings.apiKeysFile,
    logger: logger.child({ component: 'api-keys' }),
    now: clock,
    onReload: (outcome) => metrics.apiKeyReloads.inc({ outcome }),
  });
  apiKeys.load();
  apiKeys.watch(options.apiKeysPollMs ?? 2000);

  const history = new StreamHistory({
    jsm: bus.jsm,
    js: bus.js,
    logger,
    clock,
    recoveryWindowMs: settings.recoveryWindowSeconds * 1000,
    recoveryMaxFrames: settings.recoveryMaxFrames,
    snapshotMaxCallAgeMs: settings.snapshotMaxCallAgeSeconds * 1000,
    missedLookbackMs: settings.missedCallsLookbackHours * 3_600_000,
    missedMax: settings.missedCallsMax,
  });
  const dialer = new Dialer({
    bus,
    auditor,
    logger: logger.child({ component: 'dial' }),
    metrics,
    timeoutMs: settings.dialTimeoutMs,
    dedupeMs: settings.dialDedupeSeconds * 1000,
    ratePerMinute: settings.dialRatePerMinute,
    clock,
  });
  const hub = new SessionHub({
    connection: bus.connection,
    logger: logger.child({ component: 'sessions' }),
    metrics,
    tokenKeys,
    history,
    dialer,
    auditor,
    countReceived: (message) => bus.metrics?.received.inc({ message, consumer: 'live' }),
    settings: {
      sendBufferBytes: settings.sendBufferBytes,
      slowCloseGraceMs: settings.slowCloseGraceMs,
      inboundFramesPerSecond: settings.inboundFramesPerSecond,
      invalidFramesLimit: settings.invalidFramesLimit,
      tokenExpiryWarningMs: settings.tokenExpiryWarningSeconds * 1000,
      heartbeatIntervalMs: settings.heartbeatIntervalMs,
      maxConnections: settings.maxConnections,
      maxConnectionsPerAgent: settings.maxConnectionsPerAgent,
      connectsPerAgentPerMinute: settings.connectsPerAgentPerMinute,
    },
    clock,
  });

  if (settings.demoMode) {
    logger.warn('PUSH_DEMO_MODE is on: anyone who reaches the gateway can sign in as a demo agent');
  }
  let closing = false;
  const app = await buildApp({
    services: {
      settings,
      auditor,
      hub,
      dialer,
      origins: new OriginPolicy(settings.allowedOrigins, settings.publicOrigin),
      tokenKeys,
      apiKeys,
      limiter: new AuthFailureLimiter(settings.authFailuresPerMinute, clock),
      metrics,
      logger: logger.child({ component: 'auth' }),
      clock,
    },
    logger,
    registry,
    readiness: [
      { name: 'nats', check: () => bus.isConnected() || 'not connected to NATS' },
      { name: 'accepting', check: () => !closing || 'shutting down' },
    ],
  });

  await app.listen({ host: settings.httpHost, port: settings.httpPort });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : settings.httpPort;
  const host = settings.httpHost.includes(':') ? `[${settings.httpHost}]` : settings.httpHost;
  const url = `http://${host}:${port}`;
  logger.info({ url, console: `${url}/console/` }, 'push gateway listening');

  return {
    app,
    hub,
    apiKeys,
    url,
    port,
    async close() {
      closing = true;
      apiKeys.stop();
      await app.close();
    },
  };
}
