// Shared set-up of the crm-sync benchmarks: a private nats-server, the SuiteCRM simulator with
// the recorded latency, and crm-sync connected to both.
import { Bus } from '@cti/bus';
import { loadConfig } from '@cti/config';
import { CrmSyncConfig, CRM_SYNC_STREAMS, startCrmSync, type CrmSync } from '@cti/crm-sync';
import { createLogger } from '@cti/logging';
import { clientOptionsFrom, SuiteCrmClient } from '@cti/suitecrm';
import { RECORDED_CLIENT_CREDENTIALS, RECORDED_SEED, recordedLatency, startSuiteCrmSimulator, type SeedData, type SuiteCrmSimulator } from '@cti/suitecrm-simulator';
import { startNatsServer, type NatsServerHandle } from '@cti/testing';

export interface BenchSetup {
  nats: NatsServerHandle;
  simulator: SuiteCrmSimulator;
  bus: Bus;
  client: SuiteCrmClient;
  service: CrmSync;
  close(): Promise<void>;
}

/** `count` extra contacts with US numbers +1 555 2xx xxxx, written in varied formats as users type them. */
export function generatedContacts(count: number): SeedData['contacts'] {
  return Array.from({ length: count }, (_value, index) => {
    const line = String(index).padStart(7, '0');
    const number = `555${line}`;
    const formats = [`+1 ${number.slice(0, 3)} ${number.slice(3, 6)} ${number.slice(6)}`, `(${number.slice(0, 3)}) ${number.slice(3, 6)}-${number.slice(6)}`, number, `+1${number}`];
    return {
      id: `b0000000-0000-4000-8000-${String(index).padStart(12, '0')}`,
      firstName: `First${index}`,
      lastName: `Last${index}`,
      phones: { phone_mobile: formats[index % formats.length] ?? number },
    };
  });
}

export function generatedNumber(index: number): string {
  return `+1555${String(index).padStart(7, '0')}`;
}

export async function startBench(options: { contacts: number; latencyScale?: number; environment?: Record<string, string> }): Promise<BenchSetup> {
  const nats = await startNatsServer();
  const simulator = await startSuiteCrmSimulator({
    seed: { ...RECORDED_SEED, contacts: [...RECORDED_SEED.contacts, ...generatedContacts(options.contacts)] },
    latency: recordedLatency({ scale: options.latencyScale ?? 1 }),
  });
  const environment = {
    NATS_URL: nats.url,
    SUITECRM_URL: simulator.url,
    SUITECRM_CLIENT_ID: RECORDED_CLIENT_CREDENTIALS.id,
    SUITECRM_CLIENT_SECRET: RECORDED_CLIENT_CREDENTIALS.secret,
    PHONE_DEFAULT_REGION: 'US',
    CRM_INDEX_PAGE_SIZE: '1000',
    CRM_INDEX_SYNC_INTERVAL_SECONDS: '3600',
    ...options.environment,
  };
  const config = loadConfig(CrmSyncConfig, environment);
  const logger = createLogger({ service: 'crm-sync-bench', level: 'warn' });
  const bus = await Bus.connect(config, { name: 'crm-sync-bench', logger });
  await bus.ensureStreams([...CRM_SYNC_STREAMS, 'AUDIT', 'DLQ']);
  const client = new SuiteCrmClient({ ...clientOptionsFrom(config), logger });
  const service = await startCrmSync({ bus, client, config, logger, runIndexSync: false });
  return {
    nats,
    simulator,
    bus,
    client,
    service,
    async close() {
      await service.stop();
      await bus.drain();
      await client.close();
      await simulator.close();
      await nats.dispose();
    },
  };
}

export function percentile(sorted: readonly number[], fraction: number): number {
  if (sorted.length === 0) {
    return Number.NaN;
  }
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] ?? Number.NaN;
}

export function format(ms: number): string {
  return ms < 1 ? `${(ms * 1000).toFixed(1)} µs` : `${ms.toFixed(2)} ms`;
}
