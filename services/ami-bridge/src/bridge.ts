import { AmiClient, isSuccess, type AmiActionResult, type AmiMessage } from '@cti/ami';
import type { Bus } from '@cti/bus';
import {
  CallAnswered,
  CallCompleted,
  CallEnded,
  CallHeld,
  CallResumed,
  CallRinging,
  CallTransferred,
  OriginateReply,
  OriginateRequest,
  OriginateResult,
  type CallEvent,
  type MessageContract,
} from '@cti/contracts';
import type { Logger } from '@cti/logging';
import type { Auditor } from '@cti/runtime';
import type { Registry } from 'prom-client';

import type { AmiBridgeSettings } from './config.js';
import { createBridgeMetrics, type BridgeMetrics } from './metrics.js';
import { resyncChannels } from './model/resync.js';
import type { CallTracker } from './model/tracker.js';
import { createTracker } from './normalize.js';
import { KvRequestStore, type RequestStore } from './originate/request-store.js';
import { OriginateService } from './originate/service.js';
import { EventOutbox } from './outbox.js';

type Outgoing = { contract: MessageContract; message: CallEvent | OriginateResult };

const CALL_CONTRACTS: Record<CallEvent['type'], MessageContract> = {
  'call.ringing': CallRinging,
  'call.answered': CallAnswered,
  'call.held': CallHeld,
  'call.resumed': CallResumed,
  'call.transferred': CallTransferred,
  'call.ended': CallEnded,
  'call.completed': CallCompleted,
};

/** The settings the bridge reads; the service passes its whole config. */
export type BridgeSettings = Pick<
  AmiBridgeSettings,
  | 'pbxId'
  | 'amiHost'
  | 'amiPort'
  | 'amiUsername'
  | 'amiSecret'
  | 'amiAuth'
  | 'amiEvents'
  | 'amiPingIntervalMs'
  | 'amiPingTimeoutMs'
  | 'amiActionTimeoutMs'
  | 'amiReconnectMinMs'
  | 'amiReconnectMaxMs'
  | 'amiLoginRetryMinMs'
  | 'amiLoginRetryMaxMs'
  | 'amiMaxMessageBytes'
  | 'amiResyncIntervalMs'
  | 'extensionPattern'
  | 'agentLocalContexts'
  | 'inboundContexts'
  | 'internalContexts'
  | 'useTimestampHeader'
  | 'originateChannel'
  | 'originateContext'
  | 'originateCallerId'
  | 'originateTimeoutMs'
  | 'originateNumberPattern'
  | 'originateIdempotencySeconds'
  | 'publishMaxPending'
  | 'phoneHashKey'
>;

export interface BridgeDependencies {
  settings: BridgeSettings;
  bus: Bus;
  auditor: Auditor;
  logger: Logger;
  registry: Registry;
  /** Replaces the KV request store (tests). */
  requestStore?: RequestStore;
  clock?: () => number;
}

export interface RunningBridge {
  ami: AmiClient;
  tracker: CallTracker;
  metrics: BridgeMetrics;
  /** Call events not yet stored by JetStream. */
  pendingEvents(): number;
  /** Ready when logged in to the PBX; NATS is checked by the service. */
  isReady(): boolean;
  /** Lists the PBX's channels and brings the call model in line (run after every login). */
  resync(reason: string): Promise<void>;
  /** Stops serving click-to-dial, logs off the PBX and publishes what is still waiting. */
  stop(): Promise<void>;
}

/**
 * Wires the AMI connection, the call model, the publisher and click-to-dial together. The
 * process around it (config, NATS, ops endpoints, shutdown) is `main.ts`.
 */
export async function startBridge(dependencies: BridgeDependencies): Promise<RunningBridge> {
  const { settings, bus, logger } = dependencies;
  const clock = dependencies.clock ?? Date.now;
  const pbx = settings.pbxId;
  const log = logger.child({ pbx });

  // The callbacks below refer to `client` and `bridgeMetrics`, created further down; none of
  // them runs before the client starts.
  const outbox = new EventOutbox<Outgoing>({
    publish: (item) => bus.publish(item.contract, item.message as never),
    describe: (item) => ({ message: item.contract.name, id: item.message.id }),
    logger: log,
    maxPending: settings.publishMaxPending,
    onPressure: (paused) => (paused ? client.pause() : client.resume()),
  });

  const tracker = createTracker(
    {
      pbx,
      extensionPattern: settings.extensionPattern,
      agentLocalContexts: settings.agentLocalContexts,
      inboundContexts: settings.inboundContexts,
      internalContexts: settings.internalContexts,
      useTimestampHeader: settings.useTimestampHeader,
    },
    (event) => {
      bridgeMetrics.callEvents.inc({ type: event.type });
      outbox.push({ contract: CALL_CONTRACTS[event.type], message: event });
    },
  );
  const bridgeMetrics = createBridgeMetrics(dependencies.registry, { activeCalls: () => tracker.activeCalls, outboxPending: () => outbox.pending });

  const store = dependencies.requestStore ?? (await KvRequestStore.open(bus.js, pbx, settings.originateIdempotencySeconds));

  let resyncing: Promise<void> | undefined;
  const resync = (reason: string): Promise<void> => {
    resyncing ??= runResync(reason).finally(() => {
      resyncing = undefined;
    });
    return resyncing;
  };

  async function runResync(reason: string): Promise<void> {
    const started = tracker.nextSequence();
    // The list is applied where it sits in the stream, before the events that follow it.
    const apply = (result: AmiActionResult) => {
      if (!isSuccess(result.response)) {
        bridgeMetrics.resyncs.inc({ outcome: 'failed' });
        log.error(
          { reason, amiMessage: result.response.get('Message') },
          'resync refused: CoreShowChannels needs the reporting (or system) write class; calls that ended while disconnected stay open',
        );
        return;
      }
      const report = resyncChannels(tracker, result.events, started, clock());
      bridgeMetrics.resyncs.inc({ outcome: 'ok' });
      bridgeMetrics.resyncVanishedChannels.inc(report.vanishedChannels);
      log.info({ reason, ...report, activeCalls: tracker.activeCalls }, 'resynced from CoreShowChannels');
    };
    try {
      await client.sendAction('CoreShowChannels', [], { timeoutMs: settings.amiActionTimeoutMs, onResult: apply });
    } catch (error) {
      bridgeMetrics.resyncs.inc({ outcome: 'failed' });
      log.warn({ err: error, reason }, 'resync failed');
    }
  }

  const originate = new OriginateService({
    settings: {
      pbx,
      channelTemplate: settings.originateChannel,
      context: settings.originateContext,
      callerIdTemplate: settings.originateCallerId,
      ringTimeoutMs: settings.originateTimeoutMs,
      numberPattern: new RegExp(settings.originateNumberPattern),
      extensionPattern: new RegExp(settings.extensionPattern),
      actionTimeoutMs: settings.amiActionTimeoutMs,
    },
    ami: { isReady: () => client.isReady(), sendAction: (action, headers, options) => client.sendAction(action, headers, options) },
    tracker,
    store,
    publishResult: (result) => outbox.push({ contract: OriginateResult, message: result }),
    audit: (entry) => dependencies.auditor.recordLater(entry),
    auditNumbers: settings.phoneHashKey !== undefined,
    logger: log.child({ component: 'click-to-dial' }),
    countOutcome: (outcome) => bridgeMetrics.originateRequests.inc({ outcome }),
    clock,
  });

  const client = new AmiClient({
    host: settings.amiHost,
    port: settings.amiPort,
    username: settings.amiUsername,
    secret: settings.amiSecret,
    auth: settings.amiAuth,
    events: settings.amiEvents,
    logger: log,
    pingIntervalMs: settings.amiPingIntervalMs,
    pingTimeoutMs: settings.amiPingTimeoutMs,
    actionTimeoutMs: settings.amiActionTimeoutMs,
    reconnectMinMs: settings.amiReconnectMinMs,
    reconnectMaxMs: settings.amiReconnectMaxMs,
    loginRetryMinMs: settings.amiLoginRetryMinMs,
    loginRetryMaxMs: settings.amiLoginRetryMaxMs,
    maxMessageBytes: settings.amiMaxMessageBytes,
    clock,
    onEvent: (message: AmiMessage) => {
      bridgeMetrics.amiEventsParsed.inc();
      if (message.event === 'OriginateResponse') {
        originate.onOriginateResponse(message);
      }
      try {
        tracker.handle(message);
      } catch (error) {
        // A model bug on one event must not take the connection down with it.
        log.error({ err: error, event: message.event }, 'call model failed on an AMI event');
      }
    },
    onReady: () => {
      bridgeMetrics.amiConnected.set(1);
      if (client.connections > 1) {
        bridgeMetrics.amiReconnects.inc();
      }
      // Not awaited: events keep flowing while the channel list arrives.
      void resync(client.connections > 1 ? 'reconnect' : 'start');
    },
    onStateChange: (state) => {
      if (state !== 'ready') {
        bridgeMetrics.amiConnected.set(0);
      }
    },
    onFault: (fault) => bridgeMetrics.amiFrameFaults.inc({ code: fault.code }),
    onLoginRejected: () => bridgeMetrics.amiLoginRejections.inc(),
  });

  const subscription = bus.serve(OriginateRequest, OriginateReply, (request) => originate.handle(request), { queue: 'ami-bridge', tokens: { pbx } });

  let resyncTimer: NodeJS.Timeout | undefined;
  if (settings.amiResyncIntervalMs > 0) {
    resyncTimer = setInterval(() => {
      if (client.isReady()) {
        void resync('interval');
      }
    }, settings.amiResyncIntervalMs);
    resyncTimer.unref();
  }

  client.start();
  log.info({ host: settings.amiHost, port: settings.amiPort }, 'ami bridge started');

  return {
    ami: client,
    tracker,
    metrics: bridgeMetrics,
    pendingEvents: () => outbox.pending,
    isReady: () => client.isReady(),
    resync,
    async stop() {
      clearInterval(resyncTimer);
      await subscription.drain().catch(() => undefined);
      await client.stop();
      originate.stop();
      const left = await outbox.flush(5000);
      outbox.stop();
      if (left > 0) {
        log.error({ pending: left }, 'call events not stored before shutdown');
      }
    },
  };
}
