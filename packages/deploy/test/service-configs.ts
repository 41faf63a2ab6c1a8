import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { AmiBridgeConfig } from '@cti/ami-bridge';
import { loadConfig, type ConfigField, type ConfigFields, type ConfigSpec } from '@cti/config';
import { CrmSyncConfig } from '@cti/crm-sync';
import { PushGatewayConfig } from '@cti/push-gateway';
import { WebhookIngressConfig } from '@cti/webhook-ingress';

// The CLI's spec is read from its source: @cti/cli depends on this package, so a package
// dependency the other way round would be a cycle.
import { CliConfig } from '../../cli/src/config.js';
import { ComposeConfig, generateSecrets, SecretSpecs, type DeployedService } from '../src/index.js';

/** A program's config spec, with its field types erased so the specs fit in one table. */
export interface ProgramConfig {
  fields: ConfigField[];
  /** Loads the configuration as the program does at start; throws its ConfigError. */
  load(environment: Record<string, string>): unknown;
}

function programConfig<F extends ConfigFields>(spec: ConfigSpec<F>): ProgramConfig {
  return { fields: Object.values(spec.fields), load: (environment) => loadConfig(spec, environment) };
}

/** Config spec of each container's program: the four services, and the CLI of the setup job. */
export const ProgramConfigs: Record<DeployedService | 'cli', ProgramConfig> = {
  'ami-bridge': programConfig(AmiBridgeConfig),
  'crm-sync': programConfig(CrmSyncConfig),
  'webhook-ingress': programConfig(WebhookIngressConfig),
  'push-gateway': programConfig(PushGatewayConfig),
  cli: programConfig(CliConfig),
};

/** Variables a program reads: every field, and `<field>_FILE` for secrets. */
export function acceptedVariables(config: ProgramConfig): Set<string> {
  return new Set(config.fields.flatMap((field) => (field.secret ? [field.env, `${field.env}_FILE`] : [field.env])));
}

/** Variables a deployment sets that the program does not read: each one is a typo or a stale name. */
export function unknownVariables(config: ProgramConfig, environment: Record<string, string>): string[] {
  const accepted = acceptedVariables(config);
  return Object.keys(environment).filter((name) => !accepted.has(name));
}

/** Fields that must be set because they have neither a default nor `optional`. */
export function mandatoryVariables(config: ProgramConfig): string[] {
  return config.fields.filter((field) => !field.optional && field.defaultValue === undefined).map((field) => field.env);
}

function exampleOf(field: ConfigField): string | undefined {
  if (field.example !== undefined) {
    return field.example;
  }
  if (field.defaultValue === undefined) {
    return undefined;
  }
  return Array.isArray(field.defaultValue) ? field.defaultValue.join(',') : String(field.defaultValue);
}

/**
 * Returns the value an operator's `.env` gives a variable that the deployment files interpolate:
 * the example or default of the field that reads it, as `.env.example` shows it. A field without
 * either is empty there, and `filled` gives it a made-up value instead, as an operator must for a
 * variable the compose file requires.
 */
export function operatorValue(name: string, filled = false): string {
  const fields = [...Object.values(ProgramConfigs).flatMap((config) => config.fields), ...Object.values(ComposeConfig.fields)];
  const example = fields
    .filter((candidate) => candidate.env === name)
    .map((field) => exampleOf(field))
    .find((value) => value !== undefined && value !== '');
  if (example !== undefined) {
    return example;
  }
  return filled ? `operator-${name.toLowerCase().replaceAll('_', '-')}` : '';
}

/**
 * Fills a secrets directory like deploy/secrets: the generated secrets, and sample values for the
 * ones the operator provides. Returns a function that maps `/run/secrets/<name>` to its file.
 */
export function sampleSecrets(directory: string): (path: string) => string {
  generateSecrets({ directory });
  for (const spec of SecretSpecs.filter((candidate) => candidate.source === 'operator')) {
    writeFileSync(join(directory, spec.name), `operator-${spec.name}-0123456789abcdef\n`, { mode: 0o600 });
  }
  return (path) => path.replace(/^\/run\/secrets\//, `${directory}/`);
}

/**
 * Loads a program's configuration from the environment a deployment gives its container, with
 * secret paths pointed at `secretFile`. Throws the program's own ConfigError when a required
 * variable is missing or a value is invalid.
 */
export function loadDeployedConfig(program: DeployedService | 'cli', environment: Record<string, string>, secretFile: (path: string) => string): unknown {
  const resolved = Object.fromEntries(Object.entries(environment).map(([name, value]) => [name, name.endsWith('_FILE') ? secretFile(value) : value]));
  return ProgramConfigs[program].load(resolved);
}
