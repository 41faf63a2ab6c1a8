import { Bus } from '@cti/bus';
import { defineConfig, loadConfig, loggingFields, natsAuthRule, natsFields } from '@cti/config';
import { inboxPrefix } from '@cti/contracts';
import { createLogger } from '@cti/logging';
import { retentionFields } from '@cti/runtime';

/** What commands that talk to NATS read from the environment, the same variables as the services. */
export const CliConfig = defineConfig('cli', { ...natsFields, ...loggingFields, ...retentionFields }, [natsAuthRule]);

/** Connects to NATS for one command; logs go to stderr so stdout stays machine-readable. */
export async function connectCliBus(environment: Record<string, string | undefined>): Promise<Bus> {
  return (await connectCli(environment)).bus;
}

/** Like connectCliBus, with the loaded config for commands that need more than the connection. */
export async function connectCli(environment: Record<string, string | undefined>): Promise<{ bus: Bus; config: ReturnType<typeof loadConfig<typeof CliConfig.fields>> }> {
  const config = loadConfig(CliConfig, environment);
  const logger = createLogger({
    service: 'cli',
    level: environment['LOG_LEVEL'] ?? 'warn',
    phoneNumbers: config.logPhoneNumbers,
    ...(config.phoneHashKey === undefined ? {} : { phoneHashKey: config.phoneHashKey }),
    destination: process.stderr,
  });
  const bus = await Bus.connect(config, { name: 'cti-cli', logger, waitOnFirstConnect: false, inboxPrefix: inboxPrefix('cli') });
  return { bus, config };
}
