import { Bus, installShutdown, type BucketName, type NatsSettings, type Retention, type ShutdownStep } from '@cti/bus';
import { BucketAccess, Buckets, inboxPrefix, ServiceNames, StreamOwners, streamsReadBy, type BucketKey, type ServiceName, type StreamName } from '@cti/contracts';
import { ConfigError, configFingerprint, loadConfig, type ConfigFields, type ConfigOf, type ConfigSpec } from '@cti/config';
import { createLogger, type Logger, type PhoneLogMode } from '@cti/logging';
import { collectDefaultMetrics, Registry } from 'prom-client';

import { createAuditor, type Auditor } from './audit.js';
import { registerJetStreamUsage } from './jetstream-usage.js';
import { retentionOverrides, type RetentionSettings } from './retention.js';

/** JetStream streams behind the buckets a service writes to. */
function bucketStreamsOf(service: string): string[] {
  return (Object.keys(BucketAccess) as BucketKey[])
    .filter((key) => (BucketAccess[key].writers as readonly string[]).includes(service))
    .map((key) => `${Buckets[key].kind === 'kv' ? 'KV' : 'OBJ'}_${Buckets[key].name}`);
}

/** Exit status for an unusable configuration (EX_CONFIG in sysexits.h), so supervisors can tell it apart. */
export const EXIT_CONFIG = 78;

interface LoggingSettings {
  logLevel: string;
  logPhoneNumbers: PhoneLogMode;
  phoneHashKey: string | undefined;
}

export interface ServiceContext<F extends ConfigFields> {
  service: string;
  config: ConfigOf<F>;
  logger: Logger;
  registry: Registry;
  /** SHA-256 over the non-secret settings; logged at start, and audited by services with a bus. */
  configFingerprint: string;
  /**
   * Connects to NATS with the service's settings. Of the streams it names, those it owns
   * (`StreamOwners` in the contracts) are created or brought to the configured retention and the
   * others are only created when missing, as are AUDIT and DLQ; the streams it reads
   * (`streamsReadBy`) are waited for. Records the config
   * fingerprint in the audit trail, reports the size of its streams and buckets as metrics, and
   * drains the connection on shutdown.
   */
  connectBus(streams?: readonly StreamName[]): Promise<{ bus: Bus; auditor: Auditor }>;
  /** Retention and replicas for a KV bucket or object store this service owns. */
  bucketOptions(name: BucketName): { retention: Partial<Retention>; replicas: number; updateExisting: true };
  /** Registers a shutdown step; steps run in the order they were added. */
  onShutdown(step: ShutdownStep): void;
  /** Runs the shutdown steps and exits, as on SIGTERM. */
  shutdown(reason: string, exitCode?: number): Promise<void>;
}

export interface RunServiceOptions {
  environment?: Record<string, string | undefined>;
  exit?: (code: number) => void;
  shutdownTimeoutMs?: number;
}

/**
 * Starts a service: reads its configuration once, creates its logger and metrics registry, runs
 * `main`, and installs the SIGTERM/SIGINT shutdown. An invalid configuration stops the service
 * with exit status 78 and a message naming each variable, never its value.
 */
export async function runService<F extends ConfigFields>(
  spec: ConfigSpec<F>,
  main: (context: ServiceContext<F>) => Promise<void>,
  options: RunServiceOptions = {},
): Promise<ServiceContext<F> | undefined> {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let config: ConfigOf<F>;
  try {
    config = loadConfig(spec, options.environment ?? process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(
        `${JSON.stringify({ level: 'fatal', time: new Date().toISOString(), service: spec.service, code: error.code, problems: error.problems, msg: 'invalid configuration' })}\n`,
      );
      process.stderr.write(`${error.message}\n`);
      exit(EXIT_CONFIG);
      return undefined;
    }
    throw error;
  }

  const settings = config as unknown as Partial<LoggingSettings>;
  const logger = createLogger({
    service: spec.service,
    level: settings.logLevel ?? 'info',
    phoneNumbers: settings.logPhoneNumbers ?? 'mask',
    ...(settings.phoneHashKey === undefined ? {} : { phoneHashKey: settings.phoneHashKey }),
  });
  const registry = new Registry();
  registry.setDefaultLabels({ service: spec.service });
  collectDefaultMetrics({ register: registry });

  const steps: ShutdownStep[] = [];
  const { shutdown } = installShutdown({
    logger,
    steps,
    exit,
    ...(options.shutdownTimeoutMs === undefined ? {} : { timeoutMs: options.shutdownTimeoutMs }),
  });
  const fingerprint = configFingerprint(spec, config);
  const retentionSettings = config as unknown as Partial<RetentionSettings>;
  const retention = retentionSettings.callsMaxAgeSeconds === undefined ? undefined : retentionOverrides(retentionSettings as RetentionSettings);
  const replicas = retentionSettings.jetstreamReplicas;

  const context: ServiceContext<F> = {
    service: spec.service,
    config,
    logger,
    registry,
    configFingerprint: fingerprint,
    async connectBus(streams = []) {
      // Services named in the contracts get their own inbox prefix, which their NATS user is
      // limited to; other names (tests, tools) keep the client's default.
      const known = (ServiceNames as readonly string[]).includes(spec.service);
      const bus = await Bus.connect(config as unknown as NatsSettings, {
        name: spec.service,
        logger,
        registry,
        ...(known ? { inboxPrefix: inboxPrefix(spec.service as ServiceName) } : {}),
      });
      steps.push({ name: 'drain nats', run: () => bus.drain() });
      // Only a stream's owner applies its limits: two services with different settings would
      // otherwise rewrite each other's on every start. AUDIT and DLQ belong to the setup job
      // (`cti streams apply`), so a service only creates them when missing.
      const owned = streams.filter((name) => StreamOwners[name] === spec.service);
      const shared = [...new Set<StreamName>([...streams, 'AUDIT', 'DLQ'])].filter((name) => !owned.includes(name));
      await bus.ensureStreams(owned, retention, replicas, true);
      await bus.ensureStreams(shared, retention, replicas, false);
      if (known) {
        const read = streamsReadBy(spec.service as ServiceName).filter((name) => !owned.includes(name));
        await bus.waitForStreams(read, { ownerOf: (stream) => `${StreamOwners[stream]} or the setup job (cti streams apply)` });
      }
      registerJetStreamUsage({ jsm: bus.jsm, registry, logger, streams: [...owned, 'AUDIT', 'DLQ', ...bucketStreamsOf(spec.service)] });
      const auditor = createAuditor({ bus, service: spec.service, logger, phoneHashKey: settings.phoneHashKey, registry });
      // Before the drain, so the summaries of throttled failures still reach the stream.
      steps.splice(steps.length - 1, 0, { name: 'flush audit summaries', run: () => auditor.flush() });
      await auditor.record({
        action: 'config_loaded',
        outcome: 'success',
        actor: { type: 'service', id: spec.service },
        details: { configFingerprint: fingerprint, node: process.version },
      });
      return { bus, auditor };
    },
    bucketOptions(name) {
      return { retention: retention?.[name] ?? {}, replicas: replicas ?? 1, updateExisting: true };
    },
    onShutdown(step) {
      // The NATS drain stays last: the other steps may still publish while they stop.
      const drainIndex = steps.findIndex((existing) => existing.name === 'drain nats');
      if (drainIndex === -1) {
        steps.push(step);
      } else {
        steps.splice(drainIndex, 0, step);
      }
    },
    shutdown,
  };

  logger.info({ configFingerprint: fingerprint, node: process.version, pid: process.pid }, 'service starting');
  try {
    await main(context);
  } catch (error) {
    logger.fatal({ err: error }, 'service failed to start');
    await shutdown('start-up failure', 1);
    return undefined;
  }
  logger.info('service started');
  return context;
}
