import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

import type { Bus, RunningConsumer } from '@cti/bus';
import {
  AiCallFailed,
  AiConversationCompleted,
  CallCompleted,
  CallerLookupReply,
  CallerLookupRequest,
  CallRinging,
  Consumers as DeclaredConsumers,
  CrmEraseReply,
  CrmEraseRequest,
  type MessageContract,
  type StreamName,
} from '@cti/contracts';
import type { Logger } from '@cti/logging';
import type { Auditor, ReadinessCheck } from '@cti/runtime';
import type { SuiteCrmClient } from '@cti/suitecrm';
import type { Subscription } from '@nats-io/nats-core';
import { Registry } from 'prom-client';

import { AiWriter } from './ai/ai-writer.js';
import { CallLog } from './calls/call-log.js';
import { CallLogger } from './calls/call-logger.js';
import { ExtensionUsers } from './calls/extension-users.js';
import type { CrmSyncSettings } from './config.js';
import { eraseRequestHandler } from './erase.js';
import { classifyForRetry } from './errors.js';
import { aiCallFailedHandler, aiConversationHandler, callCompletedHandler, lookupRequestHandler, ringingHandler, type HandlerDependencies } from './handlers.js';
import { LookupCache } from './lookup/cache.js';
import { CallerLookup } from './lookup/caller-lookup.js';
import { createMetrics, type CrmSyncMetrics } from './metrics.js';
import { PhoneIndex } from './phone-index/index-store.js';
import { IndexSync } from './phone-index/sync.js';
import { crmReadiness, startTokenKeeper } from './readiness.js';

/** Streams crm-sync reads from or publishes to. */
export const CRM_SYNC_STREAMS: readonly StreamName[] = ['CALLS', 'CRM', 'AI'];

/** Durable consumer names; `cti dlq replay --consumer` takes them. */
// Durable names come from the access declarations in @cti/contracts, from which the NATS
// permissions are generated: a consumer not declared there is denied in production.
export const Consumers = {
  ringing: DeclaredConsumers.CRM_SYNC_RINGING.durable,
  calls: DeclaredConsumers.CRM_SYNC_CALLS.durable,
  ai: DeclaredConsumers.CRM_SYNC_AI.durable,
  aiFailed: DeclaredConsumers.CRM_SYNC_AI_FAILED.durable,
} as const;

export interface CrmSyncOptions {
  bus: Bus;
  client: SuiteCrmClient;
  config: CrmSyncSettings;
  logger: Logger;
  metrics?: CrmSyncMetrics;
  auditor?: Auditor;
  clock?: () => number;
  /** Name of this replica in the index sync lease. */
  instanceId?: string;
  /** Runs the index sync on its timer; tests that drive it by hand turn it off. */
  runIndexSync?: boolean;
}

export interface CrmSync {
  lookup: CallerLookup;
  index: PhoneIndex;
  sync: IndexSync;
  callLog: CallLog;
  metrics: CrmSyncMetrics;
  readiness: ReadinessCheck[];
  /** Stops intake, waits for messages in flight, stops the sync and the watches. */
  stop(): Promise<void>;
}

/** Wires crm-sync's parts to the bus and SuiteCRM. `main.ts` calls it; so do the tests. */
export async function startCrmSync(options: CrmSyncOptions): Promise<CrmSync> {
  const { bus, client, config, logger } = options;
  const clock = options.clock ?? Date.now;
  const metrics = options.metrics ?? createMetrics(new Registry());
  const phone = { defaultRegion: config.phoneDefaultRegion, stripPrefixes: config.phoneStripPrefixes };

  // crm-sync owns both buckets: it creates them and applies their retention from its config.
  const replicas = config.jetstreamReplicas;
  await bus.ensureKvBucket('CRM_PHONE_INDEX', { retention: { maxBytes: config.phoneIndexMaxBytes }, replicas, updateExisting: true });
  await bus.ensureKvBucket('CRM_CALL_LOG', {
    retention: { maxAgeSeconds: config.callLogRetentionDays * 86_400, maxBytes: config.callLogMaxBytes },
    replicas,
    updateExisting: true,
  });
  const index = await PhoneIndex.open({ js: bus.js, phone, logger: logger.child({ component: 'phone-index' }), replicas });
  const cache = new LookupCache({ ttlMs: config.lookupCacheTtlSeconds * 1000, maxEntries: config.lookupCacheMaxEntries, clock });
  index.onChange((change) => cache.invalidate(change.numbers));
  const lookup = new CallerLookup({ index, cache, client, phone, liveTimeoutMs: config.liveLookupTimeoutMs, logger, metrics });
  const callLog = await CallLog.open({ js: bus.js, retentionDays: config.callLogRetentionDays, replicas });
  const users = new ExtensionUsers({ client, pairs: config.extensionUsers, ttlMs: config.userCacheSeconds * 1000, clock, logger });
  const callLogger = new CallLogger({ bus, client, lookup, users, callLog, logger, metrics, logInternalCalls: config.logInternalCalls, clock });
  const aiWriter = new AiWriter({
    bus,
    client,
    callLog,
    lookup,
    logger,
    metrics,
    clock,
    callIdVariables: config.aiCallIdVariables,
    matchWindowMs: config.aiMatchWindowSeconds * 1000,
    graceMs: config.aiCorrelationGraceSeconds * 1000,
    noteMaxBytes: config.aiNoteMaxBytes,
    customFields: { summary: config.aiSummaryField, verdict: config.aiVerdictField, conversation: config.aiConversationField },
    assignedUserId: config.aiAssignedUserId,
  });

  const instanceId = options.instanceId ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const sync = new IndexSync({
    client,
    index,
    logger: logger.child({ component: 'index-sync' }),
    metrics,
    clock,
    pageSize: config.indexPageSize,
    incrementalIntervalMs: config.indexSyncIntervalSeconds * 1000,
    fullIntervalMs: config.indexFullSyncIntervalHours * 3_600_000,
    instanceId,
  });

  const deps: HandlerDependencies = {
    bus,
    lookup,
    callLog,
    callLogger,
    aiWriter,
    auditor: options.auditor,
    auditNumbers: config.phoneHashKey !== undefined,
    clock,
    ringingMaxAgeMs: config.ringingMaxAgeSeconds * 1000,
    logger,
    metrics,
  };

  const subscriptions: Subscription[] = [
    bus.serve(CallerLookupRequest, CallerLookupReply, lookupRequestHandler(deps), { queue: 'crm-sync' }),
    // No queue group: each replica keeps its own cache, so each must receive the erasure.
    bus.serve(CrmEraseRequest, CrmEraseReply, eraseRequestHandler({ lookup, cache, index, instanceId, logger: logger.child({ component: 'erase' }) }), {}),
  ];
  const backoffMs = config.retryBackoffMs.map(Number);
  const consume = <T>(durable: string, stream: StreamName, contract: MessageContract, handle: (message: T, logger: Logger) => Promise<void>, extra: { concurrency?: number; maxDeliver?: number; backoffMs?: number[]; ackWaitMs?: number; deliverPolicy?: 'all' | 'new' } = {}) =>
    bus.consume(
      {
        stream,
        durable,
        filterSubject: contract.filter(),
        contracts: [contract],
        maxDeliver: extra.maxDeliver ?? config.maxDeliveries,
        backoffMs: extra.backoffMs ?? backoffMs,
        ackWaitMs: extra.ackWaitMs ?? config.ackWaitMs,
        concurrency: extra.concurrency ?? config.callConcurrency,
        ...(extra.deliverPolicy === undefined ? {} : { deliverPolicy: extra.deliverPolicy }),
      },
      async (message, delivery) => {
        try {
          await handle(message as T, delivery.logger);
        } catch (error) {
          throw classifyForRetry(error);
        }
      },
    );

  const consumers: RunningConsumer[] = [
    // A screen pop is worth nothing a minute later: new messages only, few retries.
    await consume(Consumers.ringing, 'CALLS', CallRinging, ringingHandler(deps), { concurrency: 16, maxDeliver: 3, backoffMs: [500, 2000], ackWaitMs: 10_000, deliverPolicy: 'new' }),
    await consume(Consumers.calls, 'CALLS', CallCompleted, callCompletedHandler(deps)),
    await consume(Consumers.ai, 'AI', AiConversationCompleted, aiConversationHandler(deps)),
    await consume(Consumers.aiFailed, 'AI', AiCallFailed, aiCallFailedHandler(deps)),
  ];

  const keeper = startTokenKeeper({ client, logger, intervalMs: 30_000 });
  if (options.runIndexSync !== false) {
    sync.start();
  }
  logger.info({ consumers: Object.values(Consumers) }, 'crm-sync running');

  return {
    lookup,
    index,
    sync,
    callLog,
    metrics,
    readiness: crmReadiness(bus, client),
    async stop() {
      await Promise.allSettled(subscriptions.map((subscription) => subscription.drain()));
      await Promise.allSettled(consumers.map((consumer) => consumer.stop()));
      keeper.stop();
      await sync.stop();
      await index.close();
      callLog.close();
    },
  };
}
