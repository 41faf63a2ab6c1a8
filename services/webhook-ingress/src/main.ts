import { readFileSync } from 'node:fs';

import { CallerLookupReply, CallerLookupRequest, Streams, streamsOwnedBy } from '@cti/contracts';
import { runService } from '@cti/runtime';

import { buildIngressApp } from './app.js';
import { openAudioStore } from './audio-store.js';
import { WebhookIngressConfig } from './config.js';
import { parseTrustProxy } from './network.js';

// Room for the JetStream headers (message id) on top of the JSON payload.
const HEADER_ALLOWANCE_BYTES = 4096;

await runService(WebhookIngressConfig, async (context) => {
  const { config, logger, registry } = context;
  const { bus, auditor } = await context.connectBus(streamsOwnedBy('webhook-ingress'));
  const audioStore = await openAudioStore(bus, {
    logger,
    timeoutMs: config.publishTimeoutMs,
    retention: { maxAgeSeconds: config.aiAudioMaxAgeSeconds, maxBytes: config.aiAudioMaxBytes },
    replicas: config.jetstreamReplicas,
  });
  const publisher = bus.createPublisher({ timeoutMs: config.publishTimeoutMs });
  const maxPayload = bus.connection.info?.max_payload ?? Streams.AI.maxMessageBytes;
  const trustProxy = parseTrustProxy(config.trustProxy);
  if (!Array.isArray(trustProxy) && typeof trustProxy === 'object') {
    throw new TypeError(`TRUST_PROXY is invalid, ${trustProxy.error}`);
  }

  const { app } = await buildIngressApp({
    webhookSecrets: config.webhookSecrets,
    window: { maxAgeSeconds: config.signatureMaxAgeSeconds, maxFutureSeconds: config.signatureMaxFutureSeconds },
    conversationInit:
      config.conversationInitSecrets === undefined
        ? undefined
        : { secrets: config.conversationInitSecrets, header: config.conversationInitHeader, lookupTimeoutMs: config.callerLookupTimeoutMs },
    allowedIps: config.allowedIps,
    requestTimeoutMs: config.requestTimeoutMs,
    bodyLimitBytes: config.bodyLimitBytes,
    postCallBodyLimitBytes: config.postCallBodyLimitBytes,
    bodyBytesInFlight: config.bodyBytesInFlight,
    rateLimit: { max: config.rateLimitMax, windowSeconds: config.rateLimitWindowSeconds },
    retryAfterSeconds: config.retryAfterSeconds,
    maxEventBytes: Math.min(Streams.AI.maxMessageBytes, maxPayload) - HEADER_ALLOWANCE_BYTES,
    trustProxy,
    https:
      config.tlsCertFile === undefined || config.tlsKeyFile === undefined
        ? undefined
        : { cert: readFileSync(config.tlsCertFile), key: readFileSync(config.tlsKeyFile) },
    logger,
    registry,
    publisher,
    audioStore,
    lookupCaller: (number, timeoutMs) =>
      bus.request(CallerLookupRequest, CallerLookupReply, { v: 1, number, requestedBy: context.service }, timeoutMs),
    isBusConnected: () => bus.isConnected(),
    auditor,
    auditNumbers: config.phoneHashKey !== undefined,
  });

  context.onShutdown({ name: 'close http', run: () => app.close() });
  await app.listen({ host: config.httpHost, port: config.httpPort });
  const address = app.server.address();
  logger.info(
    {
      host: config.httpHost,
      port: typeof address === 'object' && address !== null ? address.port : config.httpPort,
      https: config.tlsCertFile !== undefined,
      secretCount: config.webhookSecrets.length,
      conversationInit: config.conversationInitSecrets !== undefined,
      allowList: config.allowedIps?.length ?? 0,
    },
    'webhook endpoint listening',
  );
});
