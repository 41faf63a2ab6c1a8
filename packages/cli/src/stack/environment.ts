import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEnv } from 'node:util';

function readEnvFile(path: string): Record<string, string> {
  return existsSync(path) ? (parseEnv(readFileSync(path, 'utf8')) as Record<string, string>) : {};
}

/** File in which `cti up` leaves the addresses and secret files of the running stack. */
export function stackEnvironmentPath(root: string, environment: Record<string, string | undefined>): string {
  return join(environment['CTI_DATA_DIR'] ?? join(root, '.data'), 'stack.env');
}

/**
 * The environment of `cti` commands: `.env` at the repository root, then what a running `cti up`
 * left in `.data/stack.env` (its NATS address, the demo CRM, the generated key files), then the
 * process environment, which wins.
 */
export function loadCommandEnvironment(root: string, processEnvironment: Record<string, string | undefined>): Record<string, string> {
  const fromEnvFile = readEnvFile(join(root, '.env'));
  const fromStack = readEnvFile(stackEnvironmentPath(root, { ...fromEnvFile, ...processEnvironment }));
  return mergeEnvironment({ ...fromEnvFile, ...fromStack }, processEnvironment);
}

/**
 * The stack's environment: `.env` at the repository root under the process environment, so a
 * variable set on the command line wins over the file.
 */
export function loadStackEnvironment(root: string, processEnvironment: Record<string, string | undefined>): Record<string, string> {
  return mergeEnvironment(readEnvFile(join(root, '.env')), processEnvironment);
}

function mergeEnvironment(fromFiles: Record<string, string>, processEnvironment: Record<string, string | undefined>): Record<string, string> {
  const merged: Record<string, string> = { ...fromFiles };
  for (const [name, value] of Object.entries(processEnvironment)) {
    if (value !== undefined) {
      merged[name] = value;
    }
  }
  return merged;
}

/** True when the variable is set to something other than an empty string. */
export function isSet(environment: Record<string, string>, name: string): boolean {
  return (environment[name] ?? '') !== '' || (environment[`${name}_FILE`] ?? '') !== '';
}
