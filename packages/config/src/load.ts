import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

import Type, { type TSchema } from 'typebox';
import { Compile } from 'typebox/compile';

import { CtiError, defineErrorCodes } from '@cti/errors';

import type { ConfigField } from './fields.js';

export const ConfigErrorCode = defineErrorCodes('CONFIG', {
  INVALID: 'CTI_ERR_CONFIG_INVALID',
});

export type ConfigFields = Record<string, ConfigField>;

/** The typed configuration a set of fields produces. */
export type ConfigOf<F extends ConfigFields> = {
  readonly [K in keyof F]: F[K] extends ConfigField<infer T, infer Optional>
    ? Optional extends true
      ? T | undefined
      : T
    : never;
};

export interface ConfigSpec<F extends ConfigFields = ConfigFields> {
  service: string;
  fields: F;
  /** The whole configuration as one TypeBox object schema, for documentation and checks. */
  schema: TSchema;
  /** Cross-field rules; each returns a problem text naming the variables, or undefined. */
  rules: readonly ((config: ConfigOf<F>) => string | undefined)[];
}

export function defineConfig<F extends ConfigFields>(
  service: string,
  fields: F,
  rules: readonly ((config: ConfigOf<F>) => string | undefined)[] = [],
): ConfigSpec<F> {
  const properties: Record<string, TSchema> = {};
  for (const [key, spec] of Object.entries(fields)) {
    properties[key] = spec.optional ? Type.Optional(spec.schema) : spec.schema;
  }
  return { service, fields, schema: Type.Object(properties), rules };
}

/** A configuration that cannot be used. The message lists every problem, and never a value. */
export class ConfigError extends CtiError<typeof ConfigErrorCode.INVALID> {
  readonly problems: string[];

  constructor(service: string, problems: string[]) {
    super(ConfigErrorCode.INVALID, `invalid configuration for ${service}:\n  - ${problems.join('\n  - ')}`, {
      details: { service, problems },
    });
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

type Environment = Record<string, string | undefined>;

interface RawValue {
  text: string;
  fromFile: boolean;
  /** The variable the text came from: `env`, its `_FILE` variant or its fallback. */
  source: string;
}

function readRaw(spec: ConfigField, environment: Environment, problems: string[]): RawValue | undefined {
  const direct = environment[spec.env];
  const fileVariable = `${spec.env}_FILE`;
  const filePath = spec.secret ? environment[fileVariable] : undefined;
  const hasDirect = direct !== undefined && direct !== '';
  const hasFile = filePath !== undefined && filePath !== '';

  if (hasDirect && hasFile) {
    problems.push(`${spec.env} and ${fileVariable} are both set: keep one (${spec.description})`);
    return undefined;
  }
  if (hasFile) {
    try {
      // Docker and Kubernetes secret files usually end with a newline that is not part of the secret.
      return { text: readFileSync(filePath, 'utf8').replace(/\r?\n$/, ''), fromFile: true, source: fileVariable };
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? 'unreadable';
      problems.push(`${fileVariable} points to a file that cannot be read (${reason}): ${filePath} (${spec.description})`);
      return undefined;
    }
  }
  if (hasDirect) {
    return { text: direct, fromFile: false, source: spec.env };
  }
  const fallback = spec.fallback === undefined ? undefined : environment[spec.fallback];
  return spec.fallback !== undefined && fallback !== undefined && fallback !== '' ? { text: fallback, fromFile: false, source: spec.fallback } : undefined;
}

function describeSource(spec: ConfigField): string {
  return spec.secret ? `set ${spec.env} or ${spec.env}_FILE` : `set ${spec.env}`;
}

/**
 * Reads and checks a service's configuration once, at start. Throws ConfigError naming every
 * missing or invalid variable and what it is for; values are never part of the message.
 */
export function loadConfig<F extends ConfigFields>(spec: ConfigSpec<F>, environment: Environment = process.env): ConfigOf<F> {
  const problems: string[] = [];
  const result: Record<string, unknown> = {};

  for (const [key, field] of Object.entries(spec.fields)) {
    const raw = readRaw(field, environment, problems);
    if (raw === undefined) {
      if (field.defaultValue !== undefined) {
        result[key] = field.defaultValue;
      } else if (!field.optional && !problems.some((problem) => problem.startsWith(field.env))) {
        problems.push(`${field.env} is missing: ${field.description} (${describeSource(field)})`);
      }
      continue;
    }

    const converted = field.convert(raw.text, raw.fromFile);
    if ('error' in converted) {
      problems.push(`${raw.source} is invalid, ${converted.error}: ${field.description}`);
      continue;
    }
    const validator = Compile(field.schema);
    if (!validator.Check(converted.value)) {
      const reason = validator.Errors(converted.value)[0]?.message ?? 'does not match its schema';
      problems.push(`${raw.source} is invalid, value ${reason}: ${field.description}`);
      continue;
    }
    result[key] = converted.value;
  }

  if (problems.length === 0) {
    for (const rule of spec.rules) {
      const problem = rule(result as ConfigOf<F>);
      if (problem !== undefined) {
        problems.push(problem);
      }
    }
  }
  if (problems.length > 0) {
    throw new ConfigError(spec.service, problems);
  }
  return Object.freeze(result) as ConfigOf<F>;
}

/**
 * Fingerprint of a loaded configuration for the audit trail: a SHA-256 over every non-secret value
 * and, for secrets, only whether they are set. Two services with the same fingerprint run the
 * same configuration; nothing about a secret can be learnt from it.
 */
export function configFingerprint<F extends ConfigFields>(spec: ConfigSpec<F>, config: ConfigOf<F>): string {
  const entries = Object.keys(spec.fields)
    .sort()
    .map((key) => {
      const field = spec.fields[key] as ConfigField;
      const value = (config as Record<string, unknown>)[key];
      return [field.env, field.secret ? value !== undefined : value ?? null] as const;
    });
  return createHash('sha256').update(JSON.stringify(entries)).digest('hex');
}
