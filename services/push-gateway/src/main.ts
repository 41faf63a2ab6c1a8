import { streamsOwnedBy } from '@cti/contracts';
import { runService } from '@cti/runtime';

import { PushGatewayConfig } from './config.js';
import { startGateway } from './gateway.js';

await runService(PushGatewayConfig, async (context) => {
  const { bus, auditor } = await context.connectBus(streamsOwnedBy('push-gateway'));
  const gateway = await startGateway({
    settings: context.config,
    bus,
    auditor,
    logger: context.logger,
    registry: context.registry,
  });
  context.onShutdown({ name: 'close push gateway', run: () => gateway.close() });
});
