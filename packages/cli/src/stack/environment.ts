import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEnv } from 'node:util';

/**
 * The stack's environment: `.env` at the repository root under the process environment, so a
 * variable set on the command line wins over the file.
 */
export function loadStackEnvironment(root: string, processEnvironment: Record<string, string | undefined>): Record<string, string> {
  const path = join(root, '.env');
  const fromFile = existsSync(path) ? (parseEnv(readFileSync(path, 'utf8')) as Record<string, string>) : {};
  const merged: Record<string, string> = { ...fromFile };
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
