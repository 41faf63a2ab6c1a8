import { streamsOwnedBy } from '@cti/contracts';
import { DEFAULT_OPS_PORTS, runService, startOpsServer } from '@cti/runtime';
import { clientOptionsFrom, SuiteCrmClient } from '@cti/suitecrm';

import { CrmSyncConfig } from './config.js';
import { createMetrics, crmObserver } from './metrics.js';
import { startCrmSync } from './service.js';

await runService(CrmSyncConfig, async (context) => {
  const { config, logger, registry } = context;
  const { bus, auditor } = await context.connectBus(streamsOwnedBy('crm-sync'));
  const metrics = createMetrics(registry);
  const client = new SuiteCrmClient({ ...clientOptionsFrom(config), logger: logger.child({ component: 'suitecrm' }), observer: crmObserver(metrics) });
  const service = await startCrmSync({ bus, client, config, logger, metrics, auditor });
  const ops = await startOpsServer({ registry, checks: service.readiness, host: config.opsHost, port: config.opsPort ?? DEFAULT_OPS_PORTS['crm-sync'], logger });

  context.onShutdown({ name: 'close ops endpoints', run: () => ops.close() });
  // Consumers stop and finish their messages before the SuiteCRM connections close.
  context.onShutdown({ name: 'stop crm-sync', run: () => service.stop() });
  context.onShutdown({ name: 'close suitecrm connections', run: () => client.close() });
});
