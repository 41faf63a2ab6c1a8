import { streamsOwnedBy } from '@cti/contracts';
import { DEFAULT_OPS_PORTS, runService, startOpsServer } from '@cti/runtime';

import { startBridge } from './bridge.js';
import { AmiBridgeConfig } from './config.js';

await runService(AmiBridgeConfig, async (context) => {
  const { config, logger, registry } = context;
  const { bus, auditor } = await context.connectBus(streamsOwnedBy('ami-bridge'));
  // The bridge owns the click-to-dial ids: it creates the bucket and applies their retention.
  await bus.ensureKvBucket('PBX_ORIGINATE_REQUESTS', {
    retention: { maxAgeSeconds: config.originateIdempotencySeconds, maxBytes: config.originateRequestsMaxBytes },
    replicas: config.jetstreamReplicas,
    updateExisting: true,
  });
  const bridge = await startBridge({ settings: config, bus, auditor, logger, registry });
  context.onShutdown({ name: 'stop ami bridge', run: () => bridge.stop() });

  const ops = await startOpsServer({
    host: config.opsHost,
    port: config.opsPort ?? DEFAULT_OPS_PORTS['ami-bridge'],
    logger,
    registry,
    checks: [
      { name: 'nats', check: () => bus.isConnected() || 'disconnected' },
      { name: 'ami', check: () => bridge.isReady() || `not logged in (${bridge.ami.state})` },
    ],
  });
  context.onShutdown({ name: 'close ops endpoints', run: () => ops.close() });
});
