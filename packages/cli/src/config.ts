import { Bus } from '@cti/bus';
import { defineConfig, env, loadConfig, loggingFields, natsAuthRule, natsFields } from '@cti/config';
import { inboxPrefix } from '@cti/contracts';
import { createLogger } from '@cti/logging';
import { createAuditor, retentionFields, retentionRule, type Auditor } from '@cti/runtime';

const operatorFields = {
  operator: env.string({ pattern: '^[A-Za-z0-9_.@-]{1,128}$' })('CTI_OPERATOR', {
    description: 'who runs the command, written to the audit trail by cti dlq replay and cti erase; unset, the login name (USER)',
    optional: true,
  }),
};

/** What commands that talk to NATS read from the environment, the same variables as the services. */
export const CliConfig = defineConfig('cli', { ...natsFields, ...loggingFields, ...retentionFields, ...operatorFields }, [natsAuthRule, retentionRule]);

export type CliSettings = ReturnType<typeof loadConfig<typeof CliConfig.fields>>;

/** Connects to NATS for one command; logs go to stderr so stdout stays machine-readable. */
export async function connectCliBus(environment: Record<string, string | undefined>): Promise<Bus> {
  return (await connectCli(environment)).bus;
}

/** Like connectCliBus, with the loaded config for commands that need more than the connection. */
export async function connectCli(environment: Record<string, string | undefined>): Promise<{ bus: Bus; config: CliSettings }> {
  const config = loadConfig(CliConfig, environment);
  const bus = await Bus.connect(config, { name: 'cti-cli', logger: cliLogger(config, environment), waitOnFirstConnect: false, inboxPrefix: inboxPrefix('cli') });
  return { bus, config };
}

function cliLogger(config: CliSettings, environment: Record<string, string | undefined>) {
  return createLogger({
    service: 'cli',
    level: environment['LOG_LEVEL'] ?? 'warn',
    phoneNumbers: config.logPhoneNumbers,
    ...(config.phoneHashKey === undefined ? {} : { phoneHashKey: config.phoneHashKey }),
    destination: process.stderr,
  });
}

/** Returns the operator named in audit events: CTI_OPERATOR, else the login name. */
export function operatorOf(config: CliSettings, environment: Record<string, string | undefined>): string {
  const login = environment['USER'] ?? environment['LOGNAME'];
  const candidate = config.operator ?? login ?? 'unknown';
  return /^[A-Za-z0-9_.@-]{1,128}$/.test(candidate) ? candidate : 'unknown';
}

/** Auditor of the CLI: its events go to `audit.cli.<action>` with the operator as the actor. */
export function cliAuditor(bus: Bus, config: CliSettings, environment: Record<string, string | undefined>): Auditor {
  return createAuditor({ bus, service: 'cli', logger: cliLogger(config, environment), phoneHashKey: config.phoneHashKey });
}
